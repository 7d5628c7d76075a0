#include "qme/scores/score_matrices.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <tuple>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/kernels/inner_product.hpp"
#include "qme/scores/device_scores.hpp"
#include "scores_test_util.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
using qme::ScoreMatrix;
using qme::scores::FeatureRows;
using qme::scores::ScoreOptions;
using qme::scores::Similarity;
using qme::scores::similarity_matrix;
using qme_test::kNaN;

namespace {

/// The generic kernels and device names are LibTorch's side (qme/scores/device_scores.hpp).
[[maybe_unused]] const bool kDeviceScores = [] {
  qme::scores::enable_device_scores();
  return true;
}();

FeatureRows rows_of(const std::vector<float>& values, int64_t dim) {
  return {values.data(), static_cast<int64_t>(values.size()) / dim, dim};
}

bool finite(const float* x, int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    if (!std::isfinite(x[k])) return false;
  }
  return true;
}

/// Upstream's formulas pair by pair, in double: the reference for the vectorised code.
double cosine_reference(const float* a, const float* b, int64_t dim) {
  if (!finite(a, dim) || !finite(b, dim)) return 0.0;  // NaN -> 0
  double ab = 0, aa = 0, bb = 0;
  for (int64_t k = 0; k < dim; ++k) {
    ab += double{a[k]} * b[k];
    aa += double{a[k]} * a[k];
    bb += double{b[k]} * b[k];
  }
  return ab / (std::max(std::sqrt(aa), 1e-8) * std::max(std::sqrt(bb), 1e-8));
}

double biggait_reference(const float* a, const float* b, int64_t dim) {
  if (!finite(a, dim) || !finite(b, dim)) return 0.0;
  const int64_t parts = 16, channels = dim / parts;
  double sum = 0;
  for (int64_t p = 0; p < parts; ++p) {
    double d2 = 0;
    for (int64_t c = 0; c < channels; ++c) {
      const double d = double{a[c * parts + p]} - b[c * parts + p];
      d2 += d * d;
    }
    sum += std::sqrt(d2);
  }
  return 1.0 / (1.0 + sum / parts);
}

double max_error(const ScoreMatrix& m, const std::vector<float>& probes, const std::vector<float>& gallery,
                 int64_t dim, Similarity similarity) {
  double worst = 0;
  for (int64_t i = 0; i < m.rows; ++i) {
    for (int64_t j = 0; j < m.cols; ++j) {
      const float* a = probes.data() + i * dim;
      const float* b = gallery.data() + j * dim;
      const double expected =
          similarity == Similarity::kCosine ? cosine_reference(a, b, dim) : biggait_reference(a, b, dim);
      worst = std::max(worst, std::abs(double{m.at(i, j)} - expected));
    }
  }
  return worst;
}

std::vector<float> random_features(int64_t rows, int64_t dim, float offset, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(rows * dim));
  for (auto& x : v) x = offset + scale * normal(rng);
  return v;
}

using qme::test::max_abs_diff;

}  // namespace

TEST_CASE("cosine scores of hand-made vectors, zero vectors and NaN rows", "[scores]") {
  const std::vector<float> probes = {1,    0,    0,  //
                                     1,    1,    0,  //
                                     0,    0,    0,  // zero vector: its norm is clamped, every score is 0
                                     kNaN, kNaN, kNaN};
  const std::vector<float> gallery = {1,  0,    0,   //
                                      0,  2,    0,   //
                                      -3, 0,    0,   //
                                      0,  0,    0,   //
                                      2,  kNaN, 1};  // one NaN value spoils the whole row
  const auto m = similarity_matrix(rows_of(probes, 3), rows_of(gallery, 3), Similarity::kCosine);
  REQUIRE(m.rows == 4);
  REQUIRE(m.cols == 5);
  const float h = static_cast<float>(1.0 / std::sqrt(2.0));
  const std::vector<std::vector<float>> expected = {
      {1, 0, -1, 0, 0}, {h, h, -h, 0, 0}, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}};
  for (int64_t i = 0; i < 4; ++i) {
    for (int64_t j = 0; j < 5; ++j) {
      INFO("probe " << i << ", gallery " << j);
      CHECK(m.at(i, j) == Approx(expected[static_cast<size_t>(i)][static_cast<size_t>(j)]).margin(1e-6));
      if (i == 3 || j == 4) CHECK(!std::signbit(m.at(i, j)));  // NaN becomes +0, as np.nan_to_num
    }
  }
}

TEST_CASE("biggait reads value c*16 + p as channel c of part p", "[scores]") {
  const int64_t dim = 32;  // 2 channels x 16 parts
  std::vector<float> probes(dim, 0.0f);
  std::vector<float> gallery(3 * dim, 0.0f);
  for (int64_t p = 0; p < 16; ++p) {
    gallery[static_cast<size_t>(p)] = 3.0f;       // channel 0 of part p
    gallery[static_cast<size_t>(16 + p)] = 4.0f;  // channel 1 of part p: every part is 5 away
  }
  gallery[static_cast<size_t>(dim + 0)] = 3.0f;  // only part 0, at distance 5
  gallery[static_cast<size_t>(dim + 16)] = 4.0f;
  // Row 2 stays zero: distance 0, score 1.
  const auto m = similarity_matrix(rows_of(probes, dim), rows_of(gallery, dim), Similarity::kBigGaitParts);
  CHECK(m.at(0, 0) == Approx(1.0 / (1.0 + 5.0)).epsilon(1e-6));
  CHECK(m.at(0, 1) ==
        Approx(1.0 / (1.0 + 5.0 / 16.0)).epsilon(1e-6));  // a (16, 2) layout would give 1/(1+7/16)
  CHECK(m.at(0, 2) == Approx(1.0).epsilon(1e-6));
}

TEST_CASE("biggait scores of NaN rows are 0, of other rows upstream's", "[scores]") {
  const int64_t dim = 64;
  auto probes = random_features(5, dim, 0.0f, 1.0f, 1);
  auto gallery = random_features(7, dim, 0.0f, 1.0f, 2);
  probes[static_cast<size_t>(1 * dim + 3)] = kNaN;
  std::fill(gallery.begin() + 2 * dim, gallery.begin() + 3 * dim, kNaN);
  const auto m = similarity_matrix(rows_of(probes, dim), rows_of(gallery, dim), Similarity::kBigGaitParts);
  for (int64_t j = 0; j < 7; ++j) CHECK(m.at(1, j) == 0.0f);
  for (int64_t i = 0; i < 5; ++i) CHECK(m.at(i, 2) == 0.0f);
  CHECK(max_error(m, probes, gallery, dim, Similarity::kBigGaitParts) < 1e-6);
}

TEST_CASE("random features score as upstream's formulas, for both similarities", "[scores]") {
  const int64_t dim = 256;
  const auto probes = random_features(9, dim, 0.3f, 2.0f, 3);
  const auto gallery = random_features(13, dim, 0.3f, 2.0f, 4);
  for (auto similarity : {Similarity::kCosine, Similarity::kBigGaitParts}) {
    INFO(qme::scores::to_string(similarity));
    const auto m = similarity_matrix(rows_of(probes, dim), rows_of(gallery, dim), similarity);
    CHECK(max_error(m, probes, gallery, dim, similarity) < 2e-6);
  }
}

TEST_CASE("biggait keeps its precision for near-duplicate features far from the origin", "[scores]") {
  // ||a||^2 + ||b||^2 - 2ab cancels almost completely here; the small distances are
  // recomputed directly, so the scores stay as exact as upstream's subtract-then-norm.
  const int64_t dim = 4096;
  const auto gallery = random_features(6, dim, 40.0f, 10.0f, 5);
  auto probes = gallery;
  std::mt19937 rng(6);
  std::normal_distribution<float> tiny(0.0f, 1e-3f);
  for (size_t k = dim; k < probes.size(); ++k) probes[k] += tiny(rng);  // probe 0 is an exact copy
  for (const bool generic : {false, true}) {
    INFO("generic kernels: " << generic);
    ScoreOptions options;
    options.generic_kernels = generic;
    const auto m =
        similarity_matrix(rows_of(probes, dim), rows_of(gallery, dim), Similarity::kBigGaitParts, options);
    CHECK(m.at(0, 0) == 1.0f);
    CHECK(max_error(m, probes, gallery, dim, Similarity::kBigGaitParts) < 1e-6);
  }
}

TEST_CASE("blocks of probe rows and the generic (CUDA) path give the same scores", "[scores]") {
  const int64_t dim = 128;
  auto probes = random_features(11, dim, 0.0f, 1.0f, 7);
  auto gallery = random_features(17, dim, 0.0f, 1.0f, 8);
  std::fill(probes.begin() + 4 * dim, probes.begin() + 5 * dim, kNaN);
  gallery[static_cast<size_t>(9 * dim)] = std::numeric_limits<float>::infinity();
  for (auto similarity : {Similarity::kCosine, Similarity::kBigGaitParts}) {
    INFO(qme::scores::to_string(similarity));
    const auto whole = similarity_matrix(rows_of(probes, dim), rows_of(gallery, dim), similarity);
    ScoreOptions blocked;
    blocked.block_elements = 3 * 17;  // 3 probe rows at a time, the last block shorter
    ScoreOptions generic = blocked;
    generic.generic_kernels = true;
    ScoreOptions one_thread;
    one_thread.num_threads = 1;
    CHECK(max_abs_diff(whole, similarity_matrix(rows_of(probes, dim), rows_of(gallery, dim), similarity,
                                                blocked)) < 1e-6);
    CHECK(max_abs_diff(whole, similarity_matrix(rows_of(probes, dim), rows_of(gallery, dim), similarity,
                                                generic)) < 1e-6);
    CHECK(max_abs_diff(whole, similarity_matrix(rows_of(probes, dim), rows_of(gallery, dim), similarity,
                                                one_thread)) < 1e-6);
    CHECK(max_error(whole, probes, gallery, dim, similarity) < 2e-6);
  }
}

TEST_CASE("the same inputs give the same scores bit for bit", "[scores]") {
  const int64_t dim = 4096;
  const auto probes = random_features(8, dim, 1.0f, 1.0f, 9);
  const auto gallery = random_features(20, dim, 1.0f, 1.0f, 10);
  const auto a = similarity_matrix(rows_of(probes, dim), rows_of(gallery, dim), Similarity::kBigGaitParts);
  const auto b = similarity_matrix(rows_of(probes, dim), rows_of(gallery, dim), Similarity::kBigGaitParts);
  CHECK(a.values == b.values);
}

TEST_CASE("subject templates are NaN-ignoring means of each subject's gallery rows", "[scores]") {
  const std::vector<float> gallery = {1,    kNaN, 0,      // pid 4
                                      3,    5,    2,      // pid 4
                                      kNaN, kNaN, kNaN,   // pid 8: no face anywhere
                                      7,    8,    9,      // pid 1
                                      -1,   0,    kNaN};  // pid 1
  const std::vector<int64_t> pids = {4, 4, 8, 1, 1};
  const auto t = qme::scores::subject_templates(rows_of(gallery, 3), pids, {1, 4, 8});
  REQUIRE(t.size() == 9);
  CHECK(t[0] == 3.0f);
  CHECK(t[1] == 4.0f);
  CHECK(t[2] == 9.0f);
  CHECK(t[3] == 2.0f);
  CHECK(t[4] == 5.0f);
  CHECK(t[5] == 1.0f);
  CHECK(std::isnan(t[6]));
  CHECK(std::isnan(t[7]));
  CHECK(std::isnan(t[8]));
  CHECK_THROWS_AS(qme::scores::subject_templates(rows_of(gallery, 3), {4, 4}, {4}), qme::InputError);
}

TEST_CASE("merge_score_mat scores each probe against the subject templates", "[scores]") {
  auto f = qme_test::small_features(32);
  // Subject 9's gallery rows (2 and 5) have no feature: its merged scores are 0.
  std::fill(f.gallery.begin() + 2 * 32, f.gallery.begin() + 3 * 32, kNaN);
  std::fill(f.gallery.begin() + 5 * 32, f.gallery.begin() + 6 * 32, kNaN);
  const auto labels = qme::scores::test_labels(f);
  CHECK(labels.unique_gallery_pids == std::vector<int64_t>{2, 5, 9});
  for (auto similarity : {Similarity::kCosine, Similarity::kBigGaitParts}) {
    INFO(qme::scores::to_string(similarity));
    const auto scores = qme::scores::build_model_scores(f, similarity);
    REQUIRE(scores.score_mat.rows == 4);
    REQUIRE(scores.score_mat.cols == 6);
    REQUIRE(scores.merge_score_mat.rows == 4);
    REQUIRE(scores.merge_score_mat.cols == 3);
    CHECK(max_error(scores.score_mat, f.query, f.gallery, 32, similarity) < 2e-6);
    // Subject 2 = gallery rows 1 and 3, subject 5 = rows 0 and 4.
    std::vector<float> templates(3 * 32, kNaN);
    for (int64_t k = 0; k < 32; ++k) {
      templates[static_cast<size_t>(k)] =
          (f.gallery[static_cast<size_t>(32 + k)] + f.gallery[static_cast<size_t>(96 + k)]) / 2;
      templates[static_cast<size_t>(32 + k)] =
          (f.gallery[static_cast<size_t>(k)] + f.gallery[static_cast<size_t>(128 + k)]) / 2;
    }
    CHECK(max_error(scores.merge_score_mat, f.query, templates, 32, similarity) < 2e-6);
    for (int64_t i = 0; i < 4; ++i) CHECK(scores.merge_score_mat.at(i, 2) == 0.0f);
  }
}

TEST_CASE("similarity_matrix rejects features it cannot compare", "[scores]") {
  const std::vector<float> a(2 * 32, 1.0f), b(3 * 16, 1.0f), c(2 * 20, 1.0f);
  CHECK_THROWS_WITH(similarity_matrix(rows_of(a, 32), rows_of(b, 16), Similarity::kCosine),
                    Contains("32 columns") && Contains("16"));
  CHECK_THROWS_WITH(similarity_matrix(rows_of(c, 20), rows_of(c, 20), Similarity::kBigGaitParts),
                    Contains("multiple of 16"));
}

TEST_CASE("a CUDA device that LibTorch does not have is a usage error", "[scores]") {
  const std::vector<float> a(4, 1.0f);
  ScoreOptions options;
  options.device = "cuda:99";
  CHECK_THROWS_AS(similarity_matrix(rows_of(a, 2), rows_of(a, 2), Similarity::kCosine, options),
                  qme::UsageError);
  options.device = "gpu";
  CHECK_THROWS_AS(similarity_matrix(rows_of(a, 2), rows_of(a, 2), Similarity::kCosine, options),
                  qme::UsageError);
}

TEST_CASE("the CPU's cosine scores are LibTorch's oneDNN products bit for bit", "[scores]") {
  // The CPU kernels call oneDNN without LibTorch; qme's LibTorch inner product
  // (kernels::times_transposed: torch::mkldnn_linear) must give the very same floats, at tile
  // shapes below and above the kernels' (512 probe rows, 2^20 scores) and odd sizes.
  for (const auto& [rows, cols, dim] :
       {std::tuple<int64_t, int64_t, int64_t>{13, 75, 512}, {600, 2100, 64}, {7, 3, 100}, {40, 300, 4096}}) {
    auto probes = random_features(rows, dim, 0.1f, 1.0f, 3);
    auto gallery = random_features(cols, dim, -0.2f, 0.5f, 4);
    probes[5] = kNaN;  // probe 0 has no feature: its scores are 0
    // oneDNN splits a long inner product over its threads: the same number on both sides.
    ScoreOptions options;
    options.num_threads = at::get_num_threads();
    const auto m =
        similarity_matrix(rows_of(probes, dim), rows_of(gallery, dim), Similarity::kCosine, options);
    // The kernels' normalisation: each row divided by max(norm, 1e-8), the norm summed in double.
    const auto unit = [dim](std::vector<float> v) {
      for (size_t i = 0; i < v.size(); i += static_cast<size_t>(dim)) {
        double sq = 0;
        for (int64_t k = 0; k < dim; ++k) sq += double{v[i + k]} * v[i + k];
        const float norm = std::max(static_cast<float>(std::sqrt(sq)), 1e-8f);
        for (int64_t k = 0; k < dim; ++k) v[i + k] = std::isfinite(sq) ? v[i + k] / norm : 0.0f;
      }
      return torch::from_blob(v.data(), {static_cast<int64_t>(v.size()) / dim, dim}, torch::kFloat32).clone();
    };
    const auto expected = qme::kernels::times_transposed(unit(probes), unit(gallery)).contiguous();
    INFO(rows << " x " << cols << ", " << dim << "-d");
    int64_t differing = 0;
    for (int64_t i = 1; i < rows; ++i) {
      differing += std::memcmp(m.row(i), expected.data_ptr<float>() + i * cols, sizeof(float) * cols) != 0;
    }
    CHECK(differing == 0);
    CHECK(std::all_of(m.row(0), m.row(0) + cols, [](float s) { return s == 0.0f; }));
  }
}
