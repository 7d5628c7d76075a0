#include "qme/eval/classic_fusion.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "qme/core/error.hpp"
#include "qme/core/numpy_float32.hpp"

namespace qme::eval {

namespace {

/// np.nan_to_num for float32: NaN -> 0, +-inf -> the largest finite values.
std::vector<float> nan_to_num(const std::vector<float>& values) {
  std::vector<float> out(values.size());
  std::transform(values.begin(), values.end(), out.begin(), [](float v) {
    if (std::isnan(v)) return 0.0f;
    if (std::isinf(v))
      return v > 0 ? std::numeric_limits<float>::max() : std::numeric_limits<float>::lowest();
    return v;
  });
  return out;
}

/// (x - shift) / divisor in float32, the divisor already cast to float32.
std::vector<float> affine(const std::vector<float>& x, float shift, float divisor) {
  std::vector<float> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = (x[i] - shift) / divisor;
  return out;
}

/// np.min / np.max: a NaN anywhere gives NaN.
float nan_propagating_min(const std::vector<float>& v) {
  float m = std::numeric_limits<float>::infinity();
  for (float x : v) {
    if (std::isnan(x)) return x;
    m = std::min(m, x);
  }
  return m;
}

std::vector<float> zscore(const std::vector<float>& raw) {
  const auto x = nan_to_num(raw);
  const float mu = numpy::mean(x.data(), x.size());
  const float sd = numpy::std_dev(x.data(), x.size());
  return affine(x, mu, numpy::plus_epsilon(sd));
}

std::vector<float> minmax(const std::vector<float>& raw) {
  const auto x = nan_to_num(raw);
  const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
  return affine(x, *lo, numpy::plus_epsilon(*hi - *lo));
}

/// Reduction of High-scores Effect: statistics from the model's score_mat.
struct RheStatistics {
  float min_score, match_mean, match_std;
};

RheStatistics rhe_statistics(const ScoreMatrix& scores, const TestLabels& labels) {
  std::vector<float> matches;
  for (int64_t i = 0; i < scores.rows; ++i) {
    for (int64_t j = 0; j < scores.cols; ++j) {
      if (labels.query.pids[i] == labels.gallery.pids[j]) matches.push_back(scores.at(i, j));
    }
  }
  const float nan = std::numeric_limits<float>::quiet_NaN();
  RheStatistics s{nan_propagating_min(scores.values), nan, nan};
  if (!matches.empty()) {
    s.match_mean = numpy::mean(matches.data(), matches.size());
    s.match_std = numpy::std_dev(matches.data(), matches.size());
  }
  return s;
}

std::vector<float> rhe(const std::vector<float>& raw, const RheStatistics& s) {
  const float span = (s.match_mean + s.match_std) - s.min_score;
  return affine(nan_to_num(raw), s.min_score, numpy::plus_epsilon(span));
}

/// fuse = 0; fuse += each; fuse /= M  -- float32 throughout, like numpy.
void add_into(std::vector<float>& sum, const std::vector<float>& x) {
  for (size_t i = 0; i < sum.size(); ++i) sum[i] += x[i];
}

void divide(std::vector<float>& sum, size_t count) {
  const auto c = static_cast<float>(count);
  for (auto& v : sum) v /= c;
}

template <typename Normalise>
ModelScores normalise_and_average(const std::vector<const ModelScores*>& models, Normalise normalise) {
  ModelScores out;
  out.score_mat = ScoreMatrix(models[0]->score_mat.rows, models[0]->score_mat.cols);
  out.merge_score_mat = ScoreMatrix(models[0]->merge_score_mat.rows, models[0]->merge_score_mat.cols);
  for (size_t k = 0; k < models.size(); ++k) {
    add_into(out.score_mat.values, normalise(k, models[k]->score_mat));
    add_into(out.merge_score_mat.values, normalise(k, models[k]->merge_score_mat));
  }
  divide(out.score_mat.values, models.size());
  divide(out.merge_score_mat.values, models.size());
  return out;
}

ScoreMatrix elementwise(FusionMethod method, const std::vector<const ScoreMatrix*>& mats) {
  ScoreMatrix out = *mats[0];
  if (method == FusionMethod::kMean) out.values.assign(out.values.size(), 0.0f);
  for (size_t k = (method == FusionMethod::kMean ? 0 : 1); k < mats.size(); ++k) {
    const auto& x = mats[k]->values;
    for (size_t i = 0; i < x.size(); ++i) {
      float& o = out.values[i];
      if (method == FusionMethod::kMean) {
        o += x[i];
      } else if (std::isnan(o) || std::isnan(x[i])) {
        o = std::numeric_limits<float>::quiet_NaN();  // np.minimum / np.maximum propagate NaN
      } else {
        o = method == FusionMethod::kMin ? std::min(o, x[i]) : std::max(o, x[i]);
      }
    }
  }
  if (method == FusionMethod::kMean) divide(out.values, mats.size());
  return out;
}

void check_models(const std::vector<const ModelScores*>& models) {
  if (models.empty()) throw UsageError("score fusion needs at least one model");
  for (const auto* m : models) {
    if (m->score_mat.rows != models[0]->score_mat.rows || m->score_mat.cols != models[0]->score_mat.cols ||
        m->merge_score_mat.cols != models[0]->merge_score_mat.cols) {
      throw Error("score fusion: the models' score matrices differ in shape");
    }
  }
}

}  // namespace

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
                        const TestLabels& labels) {
  check_models(models);
  switch (method) {
    case FusionMethod::kZScore:
      return normalise_and_average(models, [](size_t, const ScoreMatrix& m) { return zscore(m.values); });
    case FusionMethod::kMinMax:
      return normalise_and_average(models, [](size_t, const ScoreMatrix& m) { return minmax(m.values); });
    case FusionMethod::kRhe: {
      std::vector<RheStatistics> stats;
      for (const auto* m : models) stats.push_back(rhe_statistics(m->score_mat, labels));
      return normalise_and_average(
          models, [&stats](size_t k, const ScoreMatrix& m) { return rhe(m.values, stats[k]); });
    }
    default:
      break;
  }
  return fuse_each_kind(models, [method](const std::vector<const ScoreMatrix*>& matrices) {
    return elementwise(method, matrices);
  });
}

}  // namespace qme::eval
