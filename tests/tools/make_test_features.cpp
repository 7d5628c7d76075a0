// Writes small test-features files for the qme_test CLI tests:
//   OUT/good/{adaface,biggait,cal-ltcc}_ltcc_test.h5  consistent ids (adaface with faceless NaN rows)
//   OUT/bad/{adaface,aim}_ltcc_test.h5                 g_pids differ at index 5
//   OUT/bad/biggait_ltcc_test.h5                       100-d: not 16 BigGait parts
#include <cstdio>
#include <limits>
#include <random>
#include <string>

#include "qme/formats/features_file.hpp"

namespace {

constexpr int64_t kQueries = 12, kGallery = 40, kSubjects = 6;

qme::formats::TestFeatures make(int64_t dim, uint32_t seed, bool faceless_rows) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  qme::formats::TestFeatures f;
  f.dim = dim;
  std::vector<float> centres(static_cast<size_t>(kSubjects * dim));
  for (auto& c : centres) c = normal(rng);
  auto fill = [&](qme::IdentityLabels& labels, std::vector<float>& rows, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t pid = 100 + i % kSubjects;
      labels.pids.push_back(pid);
      labels.camids.push_back((i / kSubjects) % 3);
      labels.clothes_ids.push_back(pid * 10 + (i / (2 * kSubjects)) % 2);
      for (int64_t k = 0; k < dim; ++k) {
        const bool faceless = faceless_rows && i % 7 == 3;
        rows.push_back(faceless ? std::numeric_limits<float>::quiet_NaN()
                                : centres[static_cast<size_t>((pid - 100) * dim + k)] + 0.7f * normal(rng));
      }
    }
  };
  fill(f.query_labels, f.query, kQueries);
  fill(f.gallery_labels, f.gallery, kGallery);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string out = argv[1];
  const std::string good = out + "/good", bad = out + "/bad";
  using qme::formats::test_features_path;
  using qme::formats::write_test_features;
  try {
    write_test_features(test_features_path(good, "adaface", "ltcc"), make(32, 1, true));
    write_test_features(test_features_path(good, "biggait", "ltcc"), make(64, 2, false));
    write_test_features(test_features_path(good, "cal-ltcc", "ltcc"), make(16, 3, false));
    write_test_features(test_features_path(bad, "adaface", "ltcc"), make(32, 1, true));
    auto other = make(16, 4, false);
    other.gallery_labels.pids[5] = 999;
    write_test_features(test_features_path(bad, "aim", "ltcc"), other);
    write_test_features(test_features_path(bad, "biggait", "ltcc"), make(100, 5, false));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
