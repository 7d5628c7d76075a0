#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

#include "formats/cache_test_util.hpp"
#include "qme/core/error.hpp"
#include "qme/formats/cache_format.hpp"
#include "qme/formats/training_frames.hpp"
#include "qme/io/hdf5_file.hpp"
#include "support/test_support.hpp"

using Catch::Matchers::Contains;
using qme::formats::TrainingFrames;
using qme::io::AtomicH5Writer;
using qme::test::message_of;
using qme::test::ramp_matrix;
using qme::test::TempDir;

namespace {

TrainingFrames face_frames() {
  TrainingFrames f;
  f.feats = ramp_matrix(3, 4);
  f.pids = {0, 0, 1};
  f.camids = {2, 2, 3};
  f.clothes_ids = {0, 0, 5};
  f.sample_index = {0, 0, 1};
  f.frame_keys = {"session1/001_01/00001", "session1/001_01/00002", "session2/002_02/00001"};
  f.qe_stats = ramp_matrix(3, 8, 0.5f);
  f.has_face = std::vector<uint8_t>{1, 0, 1};
  return f;
}

TrainingFrames body_frames(std::vector<std::string> keys) {
  TrainingFrames f;
  const auto n = static_cast<int64_t>(keys.size());
  f.feats = ramp_matrix(n, 2);
  f.pids = f.camids = f.clothes_ids = f.sample_index = std::vector<int64_t>(keys.size(), 0);
  f.frame_keys = std::move(keys);
  return f;
}

/// Writes a training-frames file by hand: every dataset of face_frames(),
/// then `tweak` may add, replace or leave out things; `version` < 0: no stamp.
std::string write_by_hand(const TempDir& dir, int64_t version, const std::vector<std::string>& skip,
                          const std::function<void(AtomicH5Writer&)>& tweak = {}) {
  const auto f = face_frames();
  const auto path = dir.path("hand.h5");
  AtomicH5Writer w(path);
  if (version >= 0) w.write_int_attribute("qme_format", version);
  const auto has = [&](const std::string& n) { return std::find(skip.begin(), skip.end(), n) == skip.end(); };
  if (has("feats")) w.write_float32("feats", f.feats.values.data(), {3, 4});
  if (has("pids")) w.write_int64("pids", f.pids.data(), {3});
  if (has("camids")) w.write_int64("camids", f.camids.data(), {3});
  if (has("clothes_ids")) w.write_int64("clothes_ids", f.clothes_ids.data(), {3});
  if (has("sample_index")) w.write_int64("sample_index", f.sample_index.data(), {3});
  if (has("frame_keys")) w.write_strings("frame_keys", f.frame_keys);
  if (tweak) tweak(w);
  w.commit();
  return path;
}

}  // namespace

TEST_CASE("training frames round-trip with and without QE statistics", "[formats]") {
  TempDir dir;
  const auto path = qme::formats::training_frames_path(dir.path("mod_center_feat"), "adaface", "ccvid");
  CHECK(path == dir.path("mod_center_feat") + "/adaface_train_ccvid.h5");
  const auto in = face_frames();
  qme::formats::write_training_frames(path, in);
  const auto out = qme::formats::read_training_frames(path);
  CHECK(out.source == path);
  CHECK(out.size() == 3);
  CHECK(out.feats.cols == 4);
  CHECK(out.feats.values == in.feats.values);
  CHECK(out.pids == in.pids);
  CHECK(out.camids == in.camids);
  CHECK(out.clothes_ids == in.clothes_ids);
  CHECK(out.sample_index == in.sample_index);
  CHECK(out.frame_keys == in.frame_keys);
  REQUIRE(out.qe_stats);
  CHECK(out.qe_stats->cols == 8);
  CHECK(out.qe_stats->values == in.qe_stats->values);
  REQUIRE(out.has_face);
  CHECK(*out.has_face == *in.has_face);

  const auto body_path = dir.path("body.h5");
  qme::formats::write_training_frames(body_path, body_frames({"a", "b"}));
  const auto body = qme::formats::read_training_frames(body_path);
  CHECK_FALSE(body.qe_stats);
  CHECK_FALSE(body.has_face);
  CHECK(body.frame_keys == std::vector<std::string>{"a", "b"});
}

TEST_CASE("training frames are stamped qme_format 1 with typed datasets", "[formats]") {
  TempDir dir;
  const auto path = dir.path("t.h5");
  qme::formats::write_training_frames(path, face_frames());
  const qme::io::H5Reader r(path);
  CHECK(r.read_int_attribute("qme_format") == 1);
  CHECK(r.shape("feats") == qme::io::Shape{3, 4});
  CHECK(r.shape("qe_stats") == qme::io::Shape{3, 8});
  const auto keys = qme::test::stored_type(path, "frame_keys");
  CHECK(keys.type_class == H5T_STRING);
  CHECK(keys.variable_string);
  const auto pids = qme::test::stored_type(path, "pids");
  CHECK((pids.type_class == H5T_INTEGER && pids.size == 8));
  const auto face = qme::test::stored_type(path, "has_face");
  CHECK((face.type_class == H5T_INTEGER && face.size == 1));
  CHECK(qme::test::stored_type(path, "feats").size == 4);
}

TEST_CASE("training frames of another or no qme_format are refused, naming the file", "[formats]") {
  TempDir dir;
  const auto unstamped = write_by_hand(dir, -1, {});
  CHECK_THROWS_WITH(qme::formats::read_training_frames(unstamped),
                    Contains(unstamped) && Contains("qme_format") && Contains("missing"));
  const auto future = write_by_hand(dir, 2, {});
  CHECK_THROWS_WITH(qme::formats::read_training_frames(future),
                    Contains(future) && Contains("qme_format") && Contains("is 2"));
  CHECK_NOTHROW(qme::formats::read_training_frames(write_by_hand(dir, 1, {})));
}

TEST_CASE("training-frames reader names the file and the dataset that is wrong", "[formats]") {
  TempDir dir;
  CHECK_THROWS_WITH(qme::formats::read_training_frames(dir.path("absent.h5")), Contains("absent.h5"));
  for (const std::string name : {"feats", "pids", "camids", "clothes_ids", "sample_index", "frame_keys"}) {
    const auto path = write_by_hand(dir, 1, {name});
    CHECK_THROWS_WITH(qme::formats::read_training_frames(path), Contains(path) && Contains("'" + name + "'"));
  }
  const std::vector<float> flat(12, 0.0f);
  const std::vector<int64_t> two{0, 1}, bad_flag{1, 2, 0}, neg{0, -1, 0};
  const auto fails = [&](const std::vector<std::string>& skip,
                         const std::function<void(AtomicH5Writer&)>& tweak, const std::string& field,
                         const std::string& problem) {
    const auto path = write_by_hand(dir, 1, skip, tweak);
    const auto message = message_of<qme::InputError>([&] { qme::formats::read_training_frames(path); });
    CHECK_THAT(message, Contains(path) && Contains("'" + field + "'") && Contains(problem));
  };
  fails(
      {"feats"}, [&](AtomicH5Writer& w) { w.write_float32("feats", flat.data(), {12}); }, "feats", "2-D");
  fails(
      {"pids"}, [&](AtomicH5Writer& w) { w.write_int64("pids", two.data(), {2}); }, "pids", "has 2 entries");
  fails(
      {"camids"}, [&](AtomicH5Writer& w) { w.write_int64("camids", two.data(), {2}); }, "camids", "3 rows");
  fails(
      {"clothes_ids"}, [&](AtomicH5Writer& w) { w.write_int64("clothes_ids", two.data(), {2}); },
      "clothes_ids", "has 2 entries");
  fails(
      {"sample_index"}, [&](AtomicH5Writer& w) { w.write_int64("sample_index", neg.data(), {3}); },
      "sample_index", "negative");
  fails(
      {"frame_keys"}, [&](AtomicH5Writer& w) { w.write_strings("frame_keys", {"a"}); }, "frame_keys",
      "has 1 entries");
  fails(
      {"frame_keys"}, [&](AtomicH5Writer& w) { w.write_int64("frame_keys", two.data(), {2}); }, "frame_keys",
      "strings");
  fails(
      {},
      [&](AtomicH5Writer& w) {
        w.write_float32("qe_stats", flat.data(), {2, 6});
      },
      "qe_stats", "has 2 entries");
  fails(
      {},
      [&](AtomicH5Writer& w) {
        w.write_float32("qe_stats", flat.data(), {3, 2, 2});
      },
      "qe_stats", "2-D");
  fails(
      {}, [&](AtomicH5Writer& w) { w.write_int64("has_face", bad_flag.data(), {3}); }, "has_face",
      "not 0 or 1");
  fails(
      {}, [&](AtomicH5Writer& w) { w.write_int64("has_face", two.data(), {2}); }, "has_face",
      "has 2 entries");
  fails(
      {"feats", "pids", "camids", "clothes_ids", "sample_index", "frame_keys"},
      [&](AtomicH5Writer& w) {
        w.write_float32("feats", flat.data(), {0, 4});
        for (const char* n : {"pids", "camids", "clothes_ids", "sample_index"})
          w.write_int64(n, two.data(), {0});
        w.write_strings("frame_keys", {});
      },
      "feats", "no training frame");
}

TEST_CASE("write_training_frames validates before writing anything", "[formats]") {
  TempDir dir;
  const auto path = dir.path("t.h5");
  auto f = face_frames();
  f.camids.pop_back();
  CHECK_THROWS_WITH(qme::formats::write_training_frames(path, f), Contains(path) && Contains("'camids'"));
  f = face_frames();
  f.qe_stats->values.pop_back();
  CHECK_THROWS_WITH(qme::formats::write_training_frames(path, f), Contains("'qe_stats'"));
  f = face_frames();
  (*f.has_face)[0] = 7;
  CHECK_THROWS_WITH(qme::formats::write_training_frames(path, f), Contains("'has_face'"));
  CHECK(dir.entries() == 0);
}

TEST_CASE("align_by_frame_key keeps frames present in every model, in the first model's order", "[formats]") {
  const auto a = body_frames({"a", "b", "c", "d"});
  const auto b = body_frames({"d", "c", "a"});
  const auto rows = qme::formats::align_by_frame_key({&a, &b});
  REQUIRE(rows.size() == 2);
  CHECK(rows[0] == std::vector<int64_t>{0, 2, 3});
  CHECK(rows[1] == std::vector<int64_t>{2, 1, 0});
  CHECK(qme::formats::align_by_frame_key({}).empty());
  CHECK(qme::formats::align_by_frame_key({&a}) == std::vector<std::vector<int64_t>>{{0, 1, 2, 3}});
}

TEST_CASE("align_by_frame_key matches repeated keys occurrence by occurrence", "[formats]") {
  const auto a = body_frames({"x", "x", "y", "x"});
  const auto b = body_frames({"y", "x", "x"});
  const auto rows = qme::formats::align_by_frame_key({&a, &b});
  CHECK(rows[0] == std::vector<int64_t>{0, 1, 2});
  CHECK(rows[1] == std::vector<int64_t>{1, 2, 0});
}

TEST_CASE("align_by_frame_key refuses caches that disagree or share no frame", "[formats]") {
  auto a = body_frames({"a", "b"});
  auto b = body_frames({"b", "a"});
  a.source = "a.h5";
  b.source = "b.h5";
  b.pids[1] = 7;  // frame "a" has another pid in b
  CHECK_THROWS_WITH(qme::formats::align_by_frame_key({&a, &b}),
                    Contains("b.h5") && Contains("a.h5") && Contains("'a'"));
  const auto c = body_frames({"z"});
  CHECK_THROWS_WITH(qme::formats::align_by_frame_key({&a, &c}), Contains("no training frame"));
}
