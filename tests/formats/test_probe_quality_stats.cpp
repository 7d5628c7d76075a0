#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

#include "formats/cache_test_util.hpp"
#include "qme/core/error.hpp"
#include "qme/formats/probe_quality_stats.hpp"
#include "qme/io/hdf5_file.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
using qme::formats::ProbeQualityStats;
using qme::io::AtomicH5Writer;
using qme::test::message_of;
using qme::test::ramp_matrix;
using qme::test::TempDir;

namespace {

/// 5 clips of 3 probes: clip 1 and clip 3 have no face.
ProbeQualityStats five_clips() {
  ProbeQualityStats s;
  s.qe_stats = ramp_matrix(6, 8);
  s.frame_clip = {0, 0, 2, 4, 4, 4};
  s.clip_query = {0, 0, 0, 1, 2};
  s.source = "stats.h5";
  return s;
}

std::string write_by_hand(const TempDir& dir, int64_t version,
                          const std::function<void(AtomicH5Writer&)>& body) {
  const auto path = dir.path("hand.h5");
  AtomicH5Writer w(path);
  if (version >= 0) w.write_int_attribute("qme_format", version);
  body(w);
  w.commit();
  return path;
}

}  // namespace

TEST_CASE("test QE statistics round-trip", "[formats]") {
  TempDir dir;
  const auto path = qme::formats::probe_quality_stats_path(dir.path("test_feats"), "adaface", "mevid");
  CHECK(path == dir.path("test_feats") + "/adaface_mevid_test_qe.h5");
  const auto in = five_clips();
  qme::formats::write_probe_quality_stats(path, in);
  const auto out = qme::formats::read_probe_quality_stats(path);
  CHECK(out.source == path);
  CHECK(out.qe_stats.rows == 6);
  CHECK(out.qe_stats.cols == 8);
  CHECK(out.qe_stats.values == in.qe_stats.values);
  CHECK(out.frame_clip == in.frame_clip);
  CHECK(out.clip_query == in.clip_query);
  const qme::io::H5Reader r(path);
  CHECK(r.read_int_attribute("qme_format") == 1);
  CHECK(qme::test::stored_type(path, "qe_stats").type_class == H5T_FLOAT);
  CHECK(qme::test::stored_type(path, "frame_clip").size == 8);
}

TEST_CASE("a file without any face frame round-trips", "[formats]") {
  TempDir dir;
  ProbeQualityStats s;
  s.qe_stats = qme::formats::FeatureMatrix(0, 2048);
  s.clip_query = {0, 1};
  const auto path = dir.path("none.h5");
  qme::formats::write_probe_quality_stats(path, s);
  const auto out = qme::formats::read_probe_quality_stats(path);
  CHECK(out.num_frames() == 0);
  CHECK(out.qe_stats.cols == 2048);
  CHECK(qme::formats::query_quality_weights(out, {}, 3) == std::vector<float>{0, 0, 0});
}

TEST_CASE("query weight is the mean over clips with faces of the mean frame weight", "[formats]") {
  const auto s = five_clips();
  // clip 0: (0.2 + 0.4) / 2 = 0.3; clip 1: no face; clip 2: 0.9 -> probe 0: (0.3 + 0.9) / 2
  // clip 3 (probe 1): no face -> 0; clip 4 (probe 2): (0.5 + 0.5 + 0.8) / 3 = 0.6
  const auto w = qme::formats::query_quality_weights(s, {0.2f, 0.4f, 0.9f, 0.5f, 0.5f, 0.8f}, 4);
  REQUIRE(w.size() == 4);
  CHECK(w[0] == Approx(0.6f));
  CHECK(w[1] == 0.0f);
  CHECK(w[2] == Approx(0.6f));
  CHECK(w[3] == 0.0f);  // a probe without clips
}

TEST_CASE("query_quality_weights refuses weights or probes that do not fit the file", "[formats]") {
  const auto s = five_clips();
  CHECK_THROWS_WITH(qme::formats::query_quality_weights(s, {0.1f}, 3),
                    Contains("stats.h5") && Contains("6 frames") && Contains("1 quality weights"));
  CHECK_THROWS_WITH(qme::formats::query_quality_weights(s, std::vector<float>(6, 0.5f), 2),
                    Contains("stats.h5") && Contains("'clip_query'") && Contains("2 probes"));
  CHECK_THROWS_AS(qme::formats::query_quality_weights(s, std::vector<float>(6, 0.5f), -1), qme::InputError);
}

TEST_CASE("test QE statistics of another or no qme_format are refused", "[formats]") {
  TempDir dir;
  const auto body = [](AtomicH5Writer& w) {
    const std::vector<float> q(8, 0.0f);
    const std::vector<int64_t> one{0};
    w.write_float32("qe_stats", q.data(), {1, 8});
    w.write_int64("frame_clip", one.data(), {1});
    w.write_int64("clip_query", one.data(), {1});
  };
  CHECK_NOTHROW(qme::formats::read_probe_quality_stats(write_by_hand(dir, 1, body)));
  const auto none = write_by_hand(dir, -1, body);
  CHECK_THROWS_WITH(qme::formats::read_probe_quality_stats(none), Contains(none) && Contains("qme_format"));
  const auto old = write_by_hand(dir, 0, body);
  CHECK_THROWS_WITH(qme::formats::read_probe_quality_stats(old), Contains(old) && Contains("is 0"));
}

TEST_CASE("test QE statistics reader names the file and the dataset that is wrong", "[formats]") {
  TempDir dir;
  CHECK_THROWS_WITH(qme::formats::read_probe_quality_stats(dir.path("absent.h5")), Contains("absent.h5"));
  const std::vector<float> q(16, 0.0f);
  const std::vector<int64_t> clips{0, 1}, big{0, 5}, neg{-1};
  const auto fails = [&](const std::function<void(AtomicH5Writer&)>& body, const std::string& field,
                         const std::string& problem) {
    const auto path = write_by_hand(dir, 1, body);
    const auto message = message_of<qme::InputError>([&] { qme::formats::read_probe_quality_stats(path); });
    CHECK_THAT(message, Contains(path) && Contains("'" + field + "'") && Contains(problem));
  };
  fails([&](AtomicH5Writer& w) { w.write_int64("frame_clip", clips.data(), {2}); }, "qe_stats", "missing");
  fails(
      [&](AtomicH5Writer& w) {
        w.write_float32("qe_stats", q.data(), {2, 8});
        w.write_int64("clip_query", clips.data(), {2});
      },
      "frame_clip", "missing");
  fails(
      [&](AtomicH5Writer& w) {
        w.write_float32("qe_stats", q.data(), {2, 8});
        w.write_int64("frame_clip", clips.data(), {2});
      },
      "clip_query", "missing");
  fails(
      [&](AtomicH5Writer& w) {
        w.write_float32("qe_stats", q.data(), {16});
        w.write_int64("frame_clip", clips.data(), {2});
        w.write_int64("clip_query", clips.data(), {2});
      },
      "qe_stats", "2-D");
  fails(
      [&](AtomicH5Writer& w) {
        w.write_float32("qe_stats", q.data(), {1, 16});
        w.write_int64("frame_clip", clips.data(), {2});
        w.write_int64("clip_query", clips.data(), {2});
      },
      "frame_clip", "has 2 entries but 'qe_stats' has 1 rows");
  fails(
      [&](AtomicH5Writer& w) {
        w.write_float32("qe_stats", q.data(), {2, 8});
        w.write_int64("frame_clip", big.data(), {2});
        w.write_int64("clip_query", clips.data(), {2});
      },
      "frame_clip", "not a clip index");
  fails(
      [&](AtomicH5Writer& w) {
        w.write_float32("qe_stats", q.data(), {2, 8});
        w.write_int64("frame_clip", clips.data(), {2});
        w.write_int64("clip_query", neg.data(), {1});
      },
      "frame_clip", "not a clip index");
  fails(
      [&](AtomicH5Writer& w) {
        w.write_float32("qe_stats", q.data(), {0, 8});
        w.write_int64("frame_clip", clips.data(), {0});
        w.write_int64("clip_query", neg.data(), {1});
      },
      "clip_query", "negative");
  fails(
      [&](AtomicH5Writer& w) {
        w.write_float32("qe_stats", q.data(), {2, 0});
        w.write_int64("frame_clip", clips.data(), {2});
        w.write_int64("clip_query", clips.data(), {2});
      },
      "qe_stats", "no columns");
}

TEST_CASE("write_probe_quality_stats validates before writing anything", "[formats]") {
  TempDir dir;
  const auto path = dir.path("s.h5");
  auto s = five_clips();
  s.frame_clip.back() = 9;
  CHECK_THROWS_WITH(qme::formats::write_probe_quality_stats(path, s),
                    Contains(path) && Contains("'frame_clip'"));
  s = five_clips();
  s.frame_clip.pop_back();
  CHECK_THROWS_WITH(qme::formats::write_probe_quality_stats(path, s), Contains("'frame_clip'"));
  CHECK(dir.entries() == 0);
}
