#include "qme/eval/classic_fusion.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "qme/core/error.hpp"
#include "qme/core/numpy_float32.hpp"
#include "qme/core/parallel.hpp"
#include "qme/core/prefault.hpp"

namespace qme::eval {

namespace {

constexpr size_t kChunk = numpy::kReduceChunk;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

/// np.nan_to_num for float32: NaN -> 0, +-inf -> the largest finite values.
inline float nan_to_num(float v) {
  if (std::isnan(v)) return 0.0f;
  if (std::isinf(v)) return v > 0 ? std::numeric_limits<float>::max() : std::numeric_limits<float>::lowest();
  return v;
}

/// What the normalisations need of one matrix. numpy computes each statistic on
/// nan_to_num(x) except RHE's minimum, which is np.min of the raw scores (NaN when one is NaN).
struct MatrixStatistics {
  bool has_first_pass = false, has_std = false;
  float sum = 0;                  // np.sum, float32
  float mean = kNaN, std = kNaN;  // arr.mean(), arr.std()
  float min = kNaN, max = kNaN;   // of nan_to_num(x)
  float raw_min = kNaN;           // np.min(x)
};

/// One chunk of numpy's reduction: its pairwise sum and extremes.
struct ChunkSummary {
  float sum = 0, min = 0, max = 0, raw_min = 0;
  bool has_nan = false;
};

size_t chunk_count(size_t n) {
  return (n + kChunk - 1) / kChunk;
}

ChunkSummary summarise_chunk(const float* x, size_t len) {
  float buffer[kChunk];
  ChunkSummary c;
  c.min = c.raw_min = std::numeric_limits<float>::infinity();
  c.max = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < len; ++i) {
    const float v = x[i];
    c.has_nan = c.has_nan || std::isnan(v);
    if (!std::isnan(v)) c.raw_min = std::min(c.raw_min, v);
    buffer[i] = nan_to_num(v);
    c.min = std::min(c.min, buffer[i]);
    c.max = std::max(c.max, buffer[i]);
  }
  c.sum = numpy::chunk_sum(buffer, len);
  return c;
}

/// Pass 1: the sum (chunk sums in parallel, added in numpy's order), min, max and mean.
void first_pass(const ScoreMatrix& m, int threads, MatrixStatistics& s) {
  s.has_first_pass = true;
  const size_t n = m.values.size();
  if (n == 0) return;  // nothing to normalise: the statistics stay NaN
  std::vector<ChunkSummary> chunks(chunk_count(n));
  parallel_for(
      static_cast<int64_t>(chunks.size()),
      [&](int64_t begin, int64_t end, int) {
        for (auto c = static_cast<size_t>(begin); c < static_cast<size_t>(end); ++c) {
          chunks[c] = summarise_chunk(m.values.data() + c * kChunk, std::min(kChunk, n - c * kChunk));
        }
      },
      threads);
  bool has_nan = false;
  s.min = s.raw_min = std::numeric_limits<float>::infinity();
  s.max = -std::numeric_limits<float>::infinity();
  for (const auto& c : chunks) {
    s.sum += c.sum;
    s.min = std::min(s.min, c.min);
    s.max = std::max(s.max, c.max);
    s.raw_min = std::min(s.raw_min, c.raw_min);
    has_nan = has_nan || c.has_nan;
  }
  if (has_nan) s.raw_min = kNaN;
  s.mean = static_cast<float>(static_cast<double>(s.sum) / static_cast<double>(n));
}

/// Pass 2: numpy's two-pass std, the mean divided in float32 (_var's in-place true_divide).
void std_pass(const ScoreMatrix& m, int threads, MatrixStatistics& s) {
  s.has_std = true;
  const size_t n = m.values.size();
  if (n == 0) return;
  const float mu = s.sum / static_cast<float>(n);
  std::vector<float> chunk_sums(chunk_count(n));
  parallel_for(
      static_cast<int64_t>(chunk_sums.size()),
      [&](int64_t begin, int64_t end, int) {
        float squares[kChunk];
        for (auto c = static_cast<size_t>(begin); c < static_cast<size_t>(end); ++c) {
          const float* x = m.values.data() + c * kChunk;
          const size_t len = std::min(kChunk, n - c * kChunk);
          for (size_t i = 0; i < len; ++i) {
            const float d = nan_to_num(x[i]) - mu;
            squares[i] = d * d;
          }
          chunk_sums[c] = numpy::chunk_sum(squares, len);
        }
      },
      threads);
  float total = 0.0f;
  for (float c : chunk_sums) total += c;
  s.std = std::sqrt(static_cast<float>(static_cast<double>(total) / static_cast<double>(n)));
}

/// Reduction of High-scores Effect: statistics from the model's score_mat.
struct RheStatistics {
  float min_score = kNaN, match_mean = kNaN, match_std = kNaN;
};

/// (x - shift) / divisor per model, the divisor already cast to float32.
struct Affine {
  float shift, divisor;
};

/// The matrix `out` becomes rows x cols, keeping its buffer when it has the size.
void shape_like(const ScoreMatrix& like, ScoreMatrix& out) {
  out.rows = like.rows;
  out.cols = like.cols;
  resize_prefaulted(out.values, like.values.size());
}

/// Runs body(begin, end) over blocks of the matrices' elements on the worker threads.
template <typename Body>
void for_each_block(size_t n, int threads, Body&& body) {
  constexpr size_t kBlock = 4096;
  parallel_for(
      static_cast<int64_t>((n + kBlock - 1) / kBlock),
      [&](int64_t begin, int64_t end, int) {
        for (auto b = static_cast<size_t>(begin); b < static_cast<size_t>(end); ++b) {
          body(b * kBlock, std::min(n, (b + 1) * kBlock));
        }
      },
      threads);
}

/// fuse = 0; fuse += (nan_to_num(x_k) - shift_k) / divisor_k for each k; fuse /= M -- float32
/// throughout, like numpy, in one pass over the models' matrices.
void normalised_mean(const std::vector<const ScoreMatrix*>& mats, const std::vector<Affine>& affine,
                     int threads, ScoreMatrix& out) {
  shape_like(*mats[0], out);
  const auto count = static_cast<float>(mats.size());
  for_each_block(out.values.size(), threads, [&](size_t begin, size_t end) {
    float* o = out.values.data();
    for (size_t i = begin; i < end; ++i) o[i] = 0.0f;
    for (size_t k = 0; k < mats.size(); ++k) {
      const float* x = mats[k]->values.data();
      const Affine a = affine[k];
      for (size_t i = begin; i < end; ++i) o[i] += (nan_to_num(x[i]) - a.shift) / a.divisor;
    }
    for (size_t i = begin; i < end; ++i) o[i] /= count;
  });
}

/// np.minimum / np.maximum (NaN propagates) or the float32 mean of the raw matrices.
void elementwise(FusionMethod method, const std::vector<const ScoreMatrix*>& mats, int threads,
                 ScoreMatrix& out) {
  shape_like(*mats[0], out);
  const auto count = static_cast<float>(mats.size());
  for_each_block(out.values.size(), threads, [&](size_t begin, size_t end) {
    float* o = out.values.data();
    const float* first = mats[0]->values.data();
    for (size_t i = begin; i < end; ++i) o[i] = method == FusionMethod::kMean ? 0.0f + first[i] : first[i];
    for (size_t k = 1; k < mats.size(); ++k) {
      const float* x = mats[k]->values.data();
      for (size_t i = begin; i < end; ++i) {
        if (method == FusionMethod::kMean) {
          o[i] += x[i];
        } else if (std::isnan(o[i]) || std::isnan(x[i])) {
          o[i] = kNaN;
        } else {
          o[i] = method == FusionMethod::kMin ? std::min(o[i], x[i]) : std::max(o[i], x[i]);
        }
      }
    }
    if (method == FusionMethod::kMean) {
      for (size_t i = begin; i < end; ++i) o[i] /= count;
    }
  });
}

void check_models(const std::vector<const ModelScores*>& models) {
  if (models.empty()) throw UsageError("score fusion needs at least one model");
  for (const auto* m : models) {
    if (m->score_mat.rows != models[0]->score_mat.rows || m->score_mat.cols != models[0]->score_mat.cols ||
        m->merge_score_mat.cols != models[0]->merge_score_mat.cols ||
        m->merge_score_mat.rows != models[0]->merge_score_mat.rows) {
      throw Error("score fusion: the models' score matrices differ in shape");
    }
  }
}

}  // namespace

struct ClassicFusion::Impl {
  std::vector<const ModelScores*> models;
  const TestLabels* labels = nullptr;
  int threads = 0;
  // Per model: statistics of score_mat and of merge_score_mat, and RHE's.
  std::vector<MatrixStatistics> entry_stats, subject_stats;
  std::vector<RheStatistics> rhe;
  bool has_rhe = false;

  const MatrixStatistics& stats(size_t k, bool subjects, bool need_std) {
    auto& s = (subjects ? subject_stats : entry_stats)[k];
    const auto& m = subjects ? models[k]->merge_score_mat : models[k]->score_mat;
    if (!s.has_first_pass) first_pass(m, threads, s);
    if (need_std && !s.has_std) std_pass(m, threads, s);
    return s;
  }

  /// RHE's min, match mean and match std (population) of every model's score_mat; the matches
  /// in numpy's boolean-mask order (row-major).
  void compute_rhe() {
    has_rhe = true;
    const auto& query = labels->query.pids;
    const auto& gallery = labels->gallery.pids;
    std::unordered_map<int64_t, std::vector<int64_t>> columns_of;
    for (size_t j = 0; j < gallery.size(); ++j) columns_of[gallery[j]].push_back(static_cast<int64_t>(j));
    rhe.assign(models.size(), {});
    for (size_t k = 0; k < models.size(); ++k) {
      const auto& scores = models[k]->score_mat;
      std::vector<float> matches;
      for (int64_t i = 0; i < scores.rows; ++i) {
        const auto it = columns_of.find(query[static_cast<size_t>(i)]);
        if (it == columns_of.end()) continue;
        for (auto j : it->second) matches.push_back(scores.at(i, j));
      }
      rhe[k].min_score = stats(k, false, false).raw_min;
      if (!matches.empty()) {
        rhe[k].match_mean = numpy::mean(matches.data(), matches.size());
        rhe[k].match_std = numpy::std_dev(matches.data(), matches.size());
      }
    }
  }

  Affine affine(FusionMethod method, size_t k, bool subjects) {
    if (method == FusionMethod::kZScore) {
      const auto& s = stats(k, subjects, true);
      return {s.mean, numpy::plus_epsilon(s.std)};
    }
    if (method == FusionMethod::kMinMax) {
      const auto& s = stats(k, subjects, false);
      return {s.min, numpy::plus_epsilon(s.max - s.min)};
    }
    if (!has_rhe) compute_rhe();
    const auto& r = rhe[k];
    return {r.min_score, numpy::plus_epsilon((r.match_mean + r.match_std) - r.min_score)};
  }

  void fuse_kind(FusionMethod method, bool subjects, ScoreMatrix& out) {
    std::vector<const ScoreMatrix*> mats;
    for (const auto* m : models) mats.push_back(subjects ? &m->merge_score_mat : &m->score_mat);
    if (method == FusionMethod::kMin || method == FusionMethod::kMean || method == FusionMethod::kMax) {
      elementwise(method, mats, threads, out);
      return;
    }
    std::vector<Affine> affines;
    for (size_t k = 0; k < models.size(); ++k) affines.push_back(affine(method, k, subjects));
    normalised_mean(mats, affines, threads, out);
  }
};

ClassicFusion::ClassicFusion(std::vector<const ModelScores*> models, const TestLabels& labels,
                             int num_threads)
    : impl_(std::make_unique<Impl>()) {
  check_models(models);
  impl_->models = std::move(models);
  impl_->labels = &labels;
  impl_->threads = num_threads;
  impl_->entry_stats.resize(impl_->models.size());
  impl_->subject_stats.resize(impl_->models.size());
}

ClassicFusion::~ClassicFusion() = default;
ClassicFusion::ClassicFusion(ClassicFusion&&) noexcept = default;
ClassicFusion& ClassicFusion::operator=(ClassicFusion&&) noexcept = default;

void ClassicFusion::fuse(FusionMethod method, ModelScores& out) {
  impl_->fuse_kind(method, false, out.score_mat);
  impl_->fuse_kind(method, true, out.merge_score_mat);
}

ModelScores ClassicFusion::fuse(FusionMethod method) {
  ModelScores out;
  fuse(method, out);
  return out;
}

const std::vector<FusionMethod>& all_fusion_methods() {
  static const std::vector<FusionMethod> methods = {FusionMethod::kZScore, FusionMethod::kMinMax,
                                                    FusionMethod::kRhe,    FusionMethod::kMin,
                                                    FusionMethod::kMean,   FusionMethod::kMax};
  return methods;
}

std::string to_string(FusionMethod method) {
  switch (method) {
    case FusionMethod::kZScore:
      return "zscore";
    case FusionMethod::kMinMax:
      return "minmax";
    case FusionMethod::kRhe:
      return "rhe";
    case FusionMethod::kMin:
      return "min";
    case FusionMethod::kMean:
      return "mean";
    case FusionMethod::kMax:
      return "max";
  }
  return "?";
}

FusionMethod parse_fusion_method(const std::string& name) {
  for (auto m : all_fusion_methods()) {
    if (to_string(m) == name) return m;
  }
  throw UsageError("unknown fusion baseline '" + name + "' (known: zscore, minmax, rhe, min, mean, max)");
}

ModelScores fuse_scores(FusionMethod method, const std::vector<const ModelScores*>& models,
                        const TestLabels& labels, int num_threads) {
  return ClassicFusion(models, labels, num_threads).fuse(method);
}

}  // namespace qme::eval
