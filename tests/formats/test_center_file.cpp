#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "formats/cache_test_util.hpp"
#include "qme/core/error.hpp"
#include "qme/formats/center_file.hpp"
#include "qme/io/hdf5_file.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
using qme::formats::CenterFrames;
using qme::formats::CenterKey;
using qme::formats::Centers;
using qme::formats::FeatureMatrix;
using qme::io::AtomicH5Writer;
using qme::test::message_of;
using qme::test::ramp_matrix;
using qme::test::TempDir;

namespace {

std::vector<CenterFrames> three_centers() {
  return {{{10, 1, 20}, ramp_matrix(3, 4, 100.0f)},
          {{2, 10, 3}, ramp_matrix(2, 4, 20.0f)},
          {{2, 2, 1}, ramp_matrix(1, 4, 30.0f)}};
}

/// A file holding float32 datasets `names`, each (rows, 2).
std::string write_raw(const TempDir& dir, const std::vector<std::string>& names,
                      const qme::io::Shape& shape = {1, 2}) {
  const auto path = dir.path("raw.h5");
  AtomicH5Writer w(path);
  size_t count = 1;
  for (auto d : shape) count *= d;
  const std::vector<float> values(count, 1.0f);
  for (const auto& name : names) w.write_float32(name, values.data(), shape);
  w.commit();
  return path;
}

Centers make_centers(std::vector<CenterKey> keys, int64_t dim, const std::string& source) {
  Centers c;
  c.keys = std::move(keys);
  c.features = ramp_matrix(static_cast<int64_t>(c.keys.size()), dim, 1.0f);
  c.source = source;
  return c;
}

}  // namespace

TEST_CASE("center file paths follow upstream's names", "[formats]") {
  CHECK(qme::formats::center_frames_path("mod_center_feat", "adaface", "ccvid", 8) ==
        "mod_center_feat/adaface_center_n8_ccvid_CC.h5");
  CHECK(qme::formats::centers_path("mod_center_feat", "cal-ccvid", "ltcc") ==
        "mod_center_feat/cal-ccvid_center_ltcc_CC.h5");
  CHECK(qme::formats::center_dataset_name({12, 3, 40}) == "12/3_40");
  CHECK(qme::formats::center_key_text({12, 3, 40}) == "12_3_40");
}

TEST_CASE("center_mean reproduces numpy's float32 mean over axis 0", "[formats]") {
  // 1e8 + 1 rounds to 1e8 in float32: numpy's row-by-row float32 sum gives 0, not 1/3.
  FeatureMatrix m(3, 2);
  m.values = {1e8f, 2.0f, 1.0f, 4.0f, -1e8f, 6.0f};
  const auto mean = qme::formats::center_mean(m);
  CHECK(mean[0] == 0.0f);
  CHECK(mean[1] == 4.0f);
  // 100 values: numpy sums a (n, 1) column pairwise but (n, 2) row by row;
  // expected bits from numpy 1.24: 0x1.8a84aep+16 and 0x1.8a84a4p+16.
  FeatureMatrix col(100, 1), two(100, 2);
  for (int i = 0; i < 100; ++i) {
    const float v = 100000.0f + static_cast<float>((i * 7919) % 2000) + 0.125f * static_cast<float>(i);
    col.values[static_cast<size_t>(i)] = v;
    two.row(i)[0] = two.row(i)[1] = v;
  }
  CHECK(qme::formats::center_mean(col)[0] == 0x1.8a84aep+16f);
  CHECK(qme::formats::center_mean(two)[1] == 0x1.8a84a4p+16f);
}

TEST_CASE("center frames and aggregated centers round-trip", "[formats]") {
  TempDir dir;
  const auto frames_path = dir.path("mod_center_feat/m_center_n4_ds_CC.h5");
  const auto centers_file = dir.path("mod_center_feat/m_center_ds_CC.h5");
  const auto input = three_centers();
  qme::formats::write_center_frames(frames_path, input);
  qme::formats::write_centers(centers_file, input);

  const auto frames = qme::formats::read_center_frames(frames_path);
  REQUIRE(frames.size() == 3);
  // file order: pid 2 ("10_3" < "2_1" lexically), then pid 10
  CHECK(frames[0].key == CenterKey{2, 10, 3});
  CHECK(frames[1].key == CenterKey{2, 2, 1});
  CHECK(frames[2].key == CenterKey{10, 1, 20});
  CHECK(frames[0].frames.values == input[1].frames.values);
  CHECK(frames[2].frames.rows == 3);
  CHECK(frames[2].frames.values == input[0].frames.values);

  const auto agg = qme::formats::read_centers(centers_file);
  const auto from_frames = qme::formats::read_centers(frames_path);
  REQUIRE(agg.size() == 3);
  CHECK(agg.dim() == 4);
  CHECK(agg.source == centers_file);
  CHECK(agg.keys == from_frames.keys);
  CHECK(agg.features.values == from_frames.features.values);
  const auto mean10 = qme::formats::center_mean(input[0].frames);
  CHECK(std::vector<float>(agg.features.row(2), agg.features.row(2) + 4) == mean10);
  CHECK(agg.features.at(2, 0) == 101.0f);  // mean of 100, 101, 102
  CHECK(qme::formats::center_labels(agg) == std::vector<int64_t>{2, 2, 10});
}

TEST_CASE("center files have upstream's HDF5 layout", "[formats]") {
  TempDir dir;
  const auto frames_path = dir.path("f.h5"), centers_file = dir.path("c.h5");
  qme::formats::write_center_frames(frames_path, three_centers());
  qme::formats::write_centers(centers_file, three_centers());
  const qme::io::H5Reader frames(frames_path), centers(centers_file);
  CHECK(frames.list_group("/") == std::vector<std::string>{"10", "2"});  // HDF5 name order
  CHECK(frames.list_group("2") == std::vector<std::string>{"10_3", "2_1"});
  CHECK(frames.shape("10/1_20") == qme::io::Shape{3, 4});
  CHECK(centers.shape("10/1_20") == qme::io::Shape{1, 4});
  CHECK(centers.shape("2/2_1") == qme::io::Shape{1, 4});
  const auto t = qme::test::stored_type(centers_file, "10/1_20");
  CHECK(t.type_class == H5T_FLOAT);
  CHECK(t.size == 4);
}

TEST_CASE("read_centers orders pids numerically, not lexically", "[formats]") {
  TempDir dir;
  const auto path = dir.path("c.h5");
  qme::formats::write_centers(path, {{{10, 0, 0}, ramp_matrix(1, 2)},
                                     {{2, 0, 0}, ramp_matrix(1, 2)},
                                     {{1, 5, 5}, ramp_matrix(1, 2)},
                                     {{100, 0, 1}, ramp_matrix(1, 2)}});
  CHECK(qme::formats::center_labels(qme::formats::read_centers(path)) == std::vector<int64_t>{1, 2, 10, 100});
}

TEST_CASE("read_centers takes a (d) dataset as one center and reduces (n, d) to its mean", "[formats]") {
  TempDir dir;
  const auto path = dir.path("c.h5");
  {
    AtomicH5Writer w(path);
    const std::vector<float> vec{1, 2, 3};
    const std::vector<float> mat{1, 2, 3, 3, 4, 5};
    w.write_float32("0/0_0", vec.data(), {3});
    w.write_float32("1/0_1", mat.data(), {2, 3});
    w.commit();
  }
  const auto c = qme::formats::read_centers(path);
  REQUIRE(c.size() == 2);
  CHECK(c.features.values == std::vector<float>{1, 2, 3, 2, 3, 4});
}

TEST_CASE("align_centers fills zero rows for centers a model lacks", "[formats]") {
  const Centers body = make_centers({{0, 0, 0}, {0, 1, 1}, {1, 0, 2}}, 3, "body.h5");
  const Centers face = make_centers({{0, 0, 0}, {1, 0, 2}}, 2, "face.h5");  // no face for pid 0 outfit 1
  const auto aligned = qme::formats::align_centers({face, body});
  REQUIRE(aligned.size() == 2);
  for (const auto& a : aligned) CHECK(a.keys == body.keys);
  CHECK(aligned[0].source == "face.h5");
  REQUIRE(aligned[0].features.rows == 3);
  CHECK(aligned[0].features.cols == 2);
  CHECK(std::vector<float>(aligned[0].features.row(0), aligned[0].features.row(1)) ==
        std::vector<float>(face.features.row(0), face.features.row(1)));
  CHECK(std::vector<float>(aligned[0].features.row(1), aligned[0].features.row(2)) ==
        std::vector<float>{0, 0});
  CHECK(std::vector<float>(aligned[0].features.row(2), aligned[0].features.row(3)) ==
        std::vector<float>(face.features.row(1), face.features.row(2)));
  CHECK(aligned[1].features.values == body.features.values);
  CHECK(qme::formats::center_labels(aligned[0]) == std::vector<int64_t>{0, 0, 1});
}

TEST_CASE("align_centers takes the first largest model as reference and drops keys it lacks", "[formats]") {
  const Centers a = make_centers({{0, 0, 0}, {1, 0, 1}}, 2, "a.h5");
  const Centers b = make_centers({{1, 0, 1}, {2, 0, 2}}, 2, "b.h5");  // same count, other keys
  const auto aligned = qme::formats::align_centers({a, b});
  CHECK(aligned[1].keys == a.keys);
  CHECK(std::vector<float>(aligned[1].features.row(0), aligned[1].features.row(1)) ==
        std::vector<float>{0, 0});
  CHECK(std::vector<float>(aligned[1].features.row(1), aligned[1].features.row(2)) ==
        std::vector<float>(b.features.row(0), b.features.row(1)));
  CHECK(qme::formats::align_centers({}).empty());
}

TEST_CASE("center readers name the file and the group or dataset that is wrong", "[formats]") {
  TempDir dir;
  const auto missing = dir.path("absent.h5");
  CHECK_THROWS_WITH(qme::formats::read_centers(missing), Contains(missing) && Contains("does not exist"));

  const auto check = [&](const std::vector<std::string>& names, const std::string& field,
                         const std::string& problem, const qme::io::Shape& shape = {1, 2}) {
    const auto path = write_raw(dir, names, shape);
    const auto message = message_of<qme::InputError>([&] { qme::formats::read_centers(path); });
    CHECK_THAT(message, Contains(path) && Contains(field) && Contains(problem));
  };
  check({"abc/0_0"}, "'abc'", "decimal training pid");
  check({"top"}, "'top'", "decimal training pid");  // a dataset at the root
  check({"1/x"}, "'1/x'", "{camid}_{clothes_id}");
  check({"1/0_0/deeper"}, "'1/0_0'", "{camid}_{clothes_id}");  // a group where a dataset belongs
  check({"2/0_0", "02/0_0"}, "'2'", "same pid");
  check({"2/1_1", "2/01_1"}, "'2/1_1'", "same center");
  check({"1/0_0"}, "'1/0_0'", "at least one value", {1, 2, 2});
  check({"1/0_0"}, "'1/0_0'", "at least one value", {1, 0});
  check({"1/0_0"}, "'1/0_0'", "at least one value", {0, 2});
  {
    const auto path = dir.path("widths.h5");
    AtomicH5Writer w(path);
    const std::vector<float> v(3, 0.0f);
    w.write_float32("1/0_0", v.data(), {1, 2});
    w.write_float32("2/0_0", v.data(), {1, 3});
    w.commit();
    CHECK_THROWS_WITH(qme::formats::read_centers(path),
                      Contains(path) && Contains("'2/0_0'") && Contains("3 columns"));
  }
  {
    const auto path = dir.path("empty.h5");
    AtomicH5Writer w(path);
    w.commit();
    CHECK_THROWS_WITH(qme::formats::read_centers(path), Contains(path) && Contains("no center"));
  }
}

TEST_CASE("center writers refuse inconsistent input and leave no file", "[formats]") {
  TempDir dir;
  const auto path = dir.path("c.h5");
  const auto fails = [&](const std::vector<CenterFrames>& c, const std::string& problem) {
    CHECK_THROWS_WITH(qme::formats::write_centers(path, c), Contains(path) && Contains(problem));
    CHECK_THROWS_WITH(qme::formats::write_center_frames(path, c), Contains(path) && Contains(problem));
  };
  fails({}, "no centers");
  fails({{{1, 0, 0}, ramp_matrix(1, 2)}, {{1, 0, 0}, ramp_matrix(2, 2)}}, "twice");
  fails({{{1, 0, 0}, ramp_matrix(0, 2)}}, "no frames");
  fails({{{1, 0, 0}, ramp_matrix(1, 2)}, {{2, 0, 0}, ramp_matrix(1, 3)}}, "columns");
  FeatureMatrix broken = ramp_matrix(2, 2);
  broken.values.pop_back();
  fails({{{1, 0, 0}, broken}}, "rows x cols");
  CHECK(dir.entries() == 0);
}
