#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/io/hdf5_file.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using qme::ModelScores;
using qme::ScoreMatrix;
using qme::TestLabels;
using qme::formats::ScoreMatrixFile;
using qme::io::AtomicH5Writer;
using qme::test::TempDir;

namespace {

// Q = 3 probes, G = 4 gallery entries, U = 3 subjects.
TestLabels labels() {
  return qme::test::make_labels({{1, 2, 9}, {0, 1, 2}, {10, 20, 90}},
                                {{1, 1, 2, 5}, {1, 2, 0, 1}, {11, 12, 21, 50}});
}

ScoreMatrix matrix(int64_t rows, int64_t cols, float start) {
  ScoreMatrix m(rows, cols);
  for (size_t i = 0; i < m.values.size(); ++i) m.values[i] = start + 0.125f * static_cast<float>(i);
  return m;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

/// A file in upstream's layout written field by field, for malformed variants.
void write_raw(const std::string& path, const TestLabels& l, const std::string& model, const ScoreMatrix& s,
               const ScoreMatrix& merged, const std::vector<std::pair<std::string, ModelScores>>& more = {}) {
  AtomicH5Writer w(path);
  auto ids = [&](const std::string& name, const std::vector<int64_t>& v) {
    const std::vector<float> f(v.begin(), v.end());
    w.write_float32(name, f.data(), {f.size()});
  };
  ids("q_pids", l.query.pids);
  ids("q_camids", l.query.camids);
  ids("q_clothes_ids", l.query.clothes_ids);
  ids("g_pids", l.gallery.pids);
  ids("g_camids", l.gallery.camids);
  ids("g_clothes_ids", l.gallery.clothes_ids);
  ids("unique_g_pids", l.unique_gallery_pids);
  w.write_float32(model + "/score_mat", s.values.data(),
                  {static_cast<uint64_t>(s.rows), static_cast<uint64_t>(s.cols)});
  w.write_float32(model + "/merge_score_mat", merged.values.data(),
                  {static_cast<uint64_t>(merged.rows), static_cast<uint64_t>(merged.cols)});
  for (const auto& [name, m] : more) {
    w.write_float32(name + "/score_mat", m.score_mat.values.data(),
                    {static_cast<uint64_t>(m.score_mat.rows), static_cast<uint64_t>(m.score_mat.cols)});
    w.write_float32(
        name + "/merge_score_mat", m.merge_score_mat.values.data(),
        {static_cast<uint64_t>(m.merge_score_mat.rows), static_cast<uint64_t>(m.merge_score_mat.cols)});
  }
  w.commit();
}

}  // namespace

TEST_CASE("score-matrix files round-trip labels and matrices exactly", "[formats]") {
  TempDir dir;
  const auto path = dir.path("scoremats_test.h5");
  ModelScores a{matrix(3, 4, -1.0f), matrix(3, 3, 0.5f)};
  a.score_mat.values[5] = std::numeric_limits<float>::quiet_NaN();
  a.score_mat.values[6] = 0.1f;  // not exact in binary: must survive bit for bit
  const ModelScores b{matrix(3, 4, 10.0f), matrix(3, 3, 20.0f)};
  qme::formats::write_score_matrix_file(path, labels(), {{"adaface", a}, {"cal-ccvid", b}});

  const ScoreMatrixFile file(path);
  const auto& l = file.labels();
  CHECK(l.query.pids == labels().query.pids);
  CHECK(l.query.camids == labels().query.camids);
  CHECK(l.query.clothes_ids == labels().query.clothes_ids);
  CHECK(l.gallery.pids == labels().gallery.pids);
  CHECK(l.gallery.camids == labels().gallery.camids);
  CHECK(l.gallery.clothes_ids == labels().gallery.clothes_ids);
  CHECK(l.unique_gallery_pids == labels().unique_gallery_pids);
  CHECK(file.models() == std::vector<std::string>{"adaface", "cal-ccvid"});
  const auto got = file.read_model("adaface");
  CHECK(got.score_mat.rows == 3);
  CHECK(got.score_mat.cols == 4);
  CHECK(got.merge_score_mat.rows == 3);
  CHECK(got.merge_score_mat.cols == 3);
  CHECK(same_bits(got.score_mat.values, a.score_mat.values));
  CHECK(same_bits(got.merge_score_mat.values, a.merge_score_mat.values));
  CHECK(same_bits(file.read_model("cal-ccvid").score_mat.values, b.score_mat.values));
  // Ids are stored as float32, as upstream writes them.
  const qme::io::H5Reader raw(path);
  CHECK(raw.read_float32("q_pids") == std::vector<float>{1, 2, 9});
}

TEST_CASE("reading an unknown model lists the models the file has", "[formats]") {
  TempDir dir;
  const auto path = dir.path("scoremats.h5");
  const ModelScores a{matrix(3, 4, 0), matrix(3, 3, 0)};
  qme::formats::write_score_matrix_file(path, labels(), {{"adaface", a}, {"biggait", a}});
  const ScoreMatrixFile file(path);
  CHECK_THROWS_AS(file.read_model("arcface"), qme::InputError);
  CHECK_THROWS_WITH(file.read_model("arcface"),
                    Contains(path) && Contains("arcface") && Contains("adaface") && Contains("biggait"));
}

// The matrices fix how many ids there must be: a mismatch names the id array and the matrix.
TEST_CASE("a score_mat whose width disagrees with g_pids is an InputError naming both", "[formats]") {
  TempDir dir;
  const auto path = dir.path("bad_width.h5");
  write_raw(path, labels(), "adaface", matrix(3, 5, 0), matrix(3, 3, 0));  // G = 4
  CHECK(qme::test::message_of<qme::InputError>([&] { ScoreMatrixFile{path}; }) ==
        path + ": 'g_pids' has 4 entries but adaface/score_mat has 5 columns");
}

TEST_CASE("a merge_score_mat whose width disagrees with unique_g_pids is an InputError", "[formats]") {
  TempDir dir;
  const auto path = dir.path("bad_merge.h5");
  write_raw(path, labels(), "adaface", matrix(3, 4, 0), matrix(3, 2, 0));  // U = 3
  CHECK(qme::test::message_of<qme::InputError>([&] { ScoreMatrixFile{path}; }) ==
        path + ": 'unique_g_pids' has 3 entries but adaface/merge_score_mat has 2 columns");
}

TEST_CASE("a score_mat with the wrong number of rows is an InputError naming q_pids", "[formats]") {
  TempDir dir;
  const auto path = dir.path("bad_rows.h5");
  write_raw(path, labels(), "adaface", matrix(2, 4, 0), matrix(3, 3, 0));
  CHECK(qme::test::message_of<qme::InputError>([&] { ScoreMatrixFile{path}; }) ==
        path + ": 'q_pids' has 3 entries but adaface/score_mat has 2 rows");
}

TEST_CASE("every model's shapes are checked before any matrix is read", "[formats]") {
  TempDir dir;
  const auto path = dir.path("two_models.h5");
  const ScoreMatrix wide = matrix(3, 5, 0);
  write_raw(path, labels(), "adaface", matrix(3, 4, 0), matrix(3, 3, 0), {{"zz", {wide, matrix(3, 3, 0)}}});
  const ScoreMatrixFile file(path);  // 'adaface' (first in name order) fixes the lengths
  CHECK_NOTHROW(file.check_model("adaface"));
  CHECK(qme::test::message_of<qme::InputError>([&] { file.check_model("zz"); }) ==
        path + ": 'zz/score_mat' is 3x5 but q_pids has 3 entries and g_pids has 4");
}

TEST_CASE("unique_g_pids that are not ascending are rejected", "[formats]") {
  TempDir dir;
  const auto path = dir.path("unsorted.h5");
  auto l = labels();
  l.unique_gallery_pids = {1, 5, 2};
  write_raw(path, l, "adaface", matrix(3, 4, 0), matrix(3, 3, 0));
  CHECK_THROWS_AS(ScoreMatrixFile(path), qme::InputError);
  CHECK_THROWS_WITH(ScoreMatrixFile(path), Contains("unique_g_pids"));
  // The writer validates too, and then leaves no file behind.
  const auto out = dir.path("never.h5");
  CHECK_THROWS_AS(qme::formats::write_score_matrix_file(out, l, {}), qme::InputError);
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("id arrays of different lengths are rejected", "[formats]") {
  TempDir dir;
  const auto path = dir.path("ragged.h5");
  auto l = labels();
  l.gallery.camids.pop_back();
  write_raw(path, l, "adaface", matrix(3, 4, 0), matrix(3, 3, 0));
  CHECK(qme::test::message_of<qme::InputError>([&] { ScoreMatrixFile{path}; }) ==
        path + ": 'g_camids' has 3 entries but adaface/score_mat has 4 columns");
  // Without models, q_pids and g_pids set the lengths.
  const auto bare = dir.path("bare.h5");
  qme::formats::write_score_matrix_file(bare, labels(), {});
  CHECK_NOTHROW(ScoreMatrixFile{bare});
}

TEST_CASE("a file without id arrays is an InputError naming the missing dataset", "[formats]") {
  TempDir dir;
  const auto path = dir.path("no_ids.h5");
  {
    AtomicH5Writer w(path);
    const float x[1] = {0};
    w.write_float32("adaface/score_mat", x, {1, 1});
    w.commit();
  }
  CHECK_THROWS_AS(ScoreMatrixFile(path), qme::InputError);
  CHECK_THROWS_WITH(ScoreMatrixFile(path), Contains("q_pids"));
}

TEST_CASE("ids stored as int64 or as (n, 1) columns are read too", "[formats]") {
  TempDir dir;
  const auto path = dir.path("int_ids.h5");
  const auto l = labels();
  {
    AtomicH5Writer w(path);
    auto ids = [&](const std::string& name, const std::vector<int64_t>& v, bool column) {
      w.write_int64(name, v.data(), column ? qme::io::Shape{v.size(), 1} : qme::io::Shape{v.size()});
    };
    ids("q_pids", l.query.pids, true);
    ids("q_camids", l.query.camids, false);
    ids("q_clothes_ids", l.query.clothes_ids, false);
    ids("g_pids", l.gallery.pids, true);
    ids("g_camids", l.gallery.camids, false);
    ids("g_clothes_ids", l.gallery.clothes_ids, false);
    ids("unique_g_pids", l.unique_gallery_pids, false);
    const auto s = matrix(3, 4, 0), m = matrix(3, 3, 0);
    w.write_float32("m/score_mat", s.values.data(), {3, 4});
    w.write_float32("m/merge_score_mat", m.values.data(), {3, 3});
    w.commit();
  }
  const ScoreMatrixFile file(path);
  CHECK(file.labels().query.pids == l.query.pids);
  CHECK(file.labels().gallery.pids == l.gallery.pids);
  CHECK(file.read_model("m").score_mat.cols == 4);
}
