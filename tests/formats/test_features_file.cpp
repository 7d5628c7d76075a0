#include "qme/formats/features_file.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/io/hdf5_file.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using qme::formats::TestFeatures;
using qme::io::AtomicH5Writer;
using qme::test::TempDir;

namespace {

TestFeatures features() {
  TestFeatures f;
  f.dim = 3;
  f.query = {1, 2, 3, std::numeric_limits<float>::quiet_NaN(), 0, 0};
  f.gallery = {0, 1, 0, 1, 0, 0, 0.5f, 0.5f, 0.5f};
  f.query_labels = {{4, 7}, {0, 1}, {40, 70}};
  f.gallery_labels = {{7, 4, 4}, {1, 0, 2}, {71, 41, 42}};
  return f;
}

/// Upstream's layout written field by field, so that single fields can be broken.
struct RawFile {
  std::vector<float> qf = {1, 2, 3, 4, 5, 6};  // (2, 3)
  std::vector<uint64_t> qf_shape = {2, 3};
  std::vector<float> gf = {1, 0, 0, 0, 1, 0, 0, 0, 1};  // (3, 3)
  std::vector<uint64_t> gf_shape = {3, 3};
  std::vector<int64_t> q_pids = {1, 2}, q_camids = {0, 1}, q_clothes = {10, 20};
  std::vector<int64_t> g_pids = {1, 2, 2}, g_camids = {1, 0, 0}, g_clothes = {11, 21, 22};
  bool with_g_camids = true;

  void write(const std::string& path) const {
    AtomicH5Writer w(path);
    w.write_float32("qf", qf.data(), qf_shape);
    w.write_float32("gf", gf.data(), gf_shape);
    w.write_int64("q_pids", q_pids.data(), {q_pids.size()});  // int64 ids: any numeric dtype reads
    w.write_int64("q_camids", q_camids.data(), {q_camids.size()});
    w.write_int64("q_clothes_ids", q_clothes.data(), {q_clothes.size()});
    w.write_int64("g_pids", g_pids.data(), {g_pids.size()});
    if (with_g_camids) w.write_int64("g_camids", g_camids.data(), {g_camids.size()});
    w.write_int64("g_clothes_ids", g_clothes.data(), {g_clothes.size()});
    w.commit();
  }
};

}  // namespace

TEST_CASE("test features round-trip through upstream's layout with float32 ids", "[formats]") {
  TempDir dir;
  const auto path = dir.path("adaface_ltcc_test.h5");
  qme::formats::write_test_features(path, features());
  const auto f = qme::formats::read_test_features(path);
  CHECK(f.dim == 3);
  CHECK(f.num_query() == 2);
  CHECK(f.num_gallery() == 3);
  CHECK(f.query[0] == 1.0f);
  CHECK(std::isnan(f.query[3]));
  CHECK(f.gallery == features().gallery);
  CHECK(f.query_labels.clothes_ids == std::vector<int64_t>{40, 70});
  CHECK(f.gallery_labels.pids == std::vector<int64_t>{7, 4, 4});
  // The ids are float32 on disk, as upstream's torch.tensor([]) makes them.
  const qme::io::H5Reader reader(path);
  CHECK(reader.shape("g_camids") == qme::io::Shape{3});
  CHECK(reader.shape("qf") == qme::io::Shape{2, 3});
}

TEST_CASE("test features with int64 ids read like float32 ones", "[formats]") {
  TempDir dir;
  RawFile raw;
  raw.write(dir.path("f.h5"));
  const auto f = qme::formats::read_test_features(dir.path("f.h5"));
  CHECK(f.gallery_labels.clothes_ids == std::vector<int64_t>{11, 21, 22});
}

TEST_CASE("test-features errors name the file and the dataset", "[formats]") {
  TempDir dir;
  const auto path = dir.path("biggait_ccvid_test.h5");
  CHECK_THROWS_WITH(qme::formats::read_test_features(path), Contains("biggait_ccvid_test.h5 does not exist"));

  RawFile missing;
  missing.with_g_camids = false;
  missing.write(path);
  CHECK_THROWS_WITH(qme::formats::read_test_features(path), Contains("'g_camids' dataset is missing"));

  RawFile widths;
  widths.gf = {1, 0, 0, 1, 0, 0};
  widths.gf_shape = {3, 2};
  widths.write(path);
  CHECK_THROWS_WITH(qme::formats::read_test_features(path),
                    Contains("'gf' has 2 feature columns but 'qf' has 3"));

  RawFile ids;
  ids.g_pids = {1, 2};
  ids.write(path);
  CHECK_THROWS_WITH(qme::formats::read_test_features(path),
                    Contains("'g_pids' has 2 entries but gf has 3 rows"));

  RawFile empty;
  empty.gf = {};
  empty.gf_shape = {0, 3};
  empty.g_pids = empty.g_camids = empty.g_clothes = {};
  empty.write(path);
  CHECK_THROWS_WITH(qme::formats::read_test_features(path), Contains("'gf' is empty"));

  RawFile flat;
  flat.qf_shape = {6};
  flat.write(path);
  CHECK_THROWS_WITH(qme::formats::read_test_features(path), Contains("'qf' must be a 2-D"));
}

TEST_CASE("inconsistent test features are refused before anything is written", "[formats]") {
  TempDir dir;
  auto f = features();
  f.gallery_labels.camids.pop_back();
  CHECK_THROWS_WITH(qme::formats::write_test_features(dir.path("x.h5"), f),
                    Contains("'g_camids' has 2 entries"));
  CHECK(!fs::exists(dir.path("x.h5")));
  CHECK(qme::formats::test_features_path("test_feats", "cal-ltcc", "ltcc") ==
        "test_feats/cal-ltcc_ltcc_test.h5");
  CHECK(qme::formats::score_matrix_path("test_feats", "ltcc") == "test_feats/scoremats_ltcc.h5");
}
