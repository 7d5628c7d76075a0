// Dataset readers (qme::data, docs/architecture.md §7.1): parity with what upstream's CCVID,
// MEVID and LTCC classes build on ../shared/fixtures/data, the dense and test
// clip splits branch by branch, and the error cases.
#include <catch2/catch.hpp>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/data/datasets.hpp"
#include "qme/io/hdf5_file.hpp"
#include "support/log_capture.hpp"
#include "support/report_parity.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using qme::data::Tracklet;

namespace {

const std::string kData = std::string(QME_FIXTURES_DIR) + "/data";

json load_json(const std::string& name) {
  return qme::test::load_json(kData + "/" + name);
}

/// Upstream samples: {"paths": [...]} (video) or {"path": "..."} (image).
void check_samples(const std::vector<Tracklet>& actual, const json& expected, const std::string& what) {
  INFO(what);
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    INFO("sample " << i);
    const auto& e = expected[i];
    const std::vector<std::string> frames = e.contains("paths") ? e["paths"].get<std::vector<std::string>>()
                                                                : std::vector<std::string>{e["path"]};
    CHECK(actual[i].frames == frames);
    CHECK(actual[i].pid == e["pid"].get<int64_t>());
    CHECK(actual[i].camid == e["camid"].get<int64_t>());
    CHECK(actual[i].clothes_id == e["clothes_id"].get<int64_t>());
  }
}

void check_index(const std::vector<std::array<int64_t, 2>>& actual, const json& expected) {
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    CHECK(actual[i][0] == expected[i][0].get<int64_t>());
    CHECK(actual[i][1] == expected[i][1].get<int64_t>());
  }
}

void check_clothes(const std::map<std::string, int64_t>& actual, const json& expected) {
  CHECK(actual == expected.get<std::map<std::string, int64_t>>());
}

void check_pid2clothes(const std::vector<std::vector<uint8_t>>& actual, const json& expected) {
  REQUIRE(actual.size() == expected.size());
  for (size_t p = 0; p < actual.size(); ++p) {
    REQUIRE(actual[p].size() == expected[p].size());
    for (size_t c = 0; c < actual[p].size(); ++c) CHECK(int(actual[p][c]) == expected[p][c].get<int>());
  }
}

/// The parts every video set shares: lists, dense split, clip split, labels, counts.
void check_video_set(const qme::data::DatasetSplits& splits, const json& e) {
  const auto& params = e["params"];
  check_samples(splits.train, e["train"], "train");
  check_samples(splits.query, e["query"], "query");
  check_samples(splits.gallery, e["gallery"], "gallery");
  check_samples(qme::data::dense_samples(splits.train, params["sampling_step"]), e["train_dense"],
                "train_dense");
  const auto query = qme::data::test_clips(splits.query, params["seq_len"], params["stride"]);
  const auto gallery = qme::data::test_clips(splits.gallery, params["seq_len"], params["stride"]);
  check_samples(query.clips, e["recombined_query"], "recombined_query");
  check_samples(gallery.clips, e["recombined_gallery"], "recombined_gallery");
  check_index(query.vid2clip_index, e["query_vid2clip_index"]);
  check_index(gallery.vid2clip_index, e["gallery_vid2clip_index"]);
  CHECK(splits.num_train_pids == e["num_train_pids"].get<int64_t>());
  CHECK(splits.num_train_clothes == e["num_train_clothes"].get<int64_t>());
  check_pid2clothes(splits.pid2clothes, e["pid2clothes"]);
  check_clothes(splits.train_clothes2label, e["train_clothes2label"]);
  check_clothes(splits.test_clothes2label, e["test_clothes2label"]);
  const auto& s = e["stats"];
  CHECK(splits.train_counts.num_tracklets == s["num_train_tracklets"].get<int64_t>());
  CHECK(splits.train_counts.num_pids == s["num_train_pids"].get<int64_t>());
  CHECK(splits.train_counts.num_clothes == s["num_train_clothes"].get<int64_t>());
  CHECK(splits.query_counts.num_tracklets == s["num_query_tracklets"].get<int64_t>());
  CHECK(splits.query_counts.num_pids == s["num_query_pids"].get<int64_t>());
  CHECK(splits.query_counts.num_clothes == s["num_query_clothes"].get<int64_t>());
  CHECK(splits.gallery_counts.num_tracklets == s["num_gallery_tracklets"].get<int64_t>());
  CHECK(splits.gallery_counts.num_pids == s["num_gallery_pids"].get<int64_t>());
  CHECK(splits.gallery_counts.num_clothes == s["num_gallery_clothes"].get<int64_t>());
  CHECK(splits.num_train_clothes + splits.num_test_clothes == s["num_total_clothes"].get<int64_t>());
  const auto dense = qme::data::dense_samples(splits.train, params["sampling_step"]);
  CHECK(qme::data::statistics_lines(splits, static_cast<int64_t>(dense.size())) ==
        e["log"].get<std::vector<std::string>>());
}

Tracklet numbered(int64_t length) {
  Tracklet t;
  for (int64_t i = 0; i < length; ++i) t.frames.push_back(std::to_string(i));
  t.pid = 7;
  t.camid = 3;
  t.clothes_id = 2;
  return t;
}

std::vector<std::string> frames_of(std::initializer_list<int> indices) {
  std::vector<std::string> out;
  for (int i : indices) out.push_back(std::to_string(i));
  return out;
}

std::vector<std::string> frame_range(int first, int step, int count) {
  std::vector<std::string> out;
  for (int k = 0; k < count; ++k) out.push_back(std::to_string(first + k * step));
  return out;
}

/// A scratch dataset root: the fixture's .h5 files linked, text files written by the test.
class ScratchRoot {
 public:
  explicit ScratchRoot(const std::string& tag)
      : dir_(fs::temp_directory_path() / ("qme_datasets_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~ScratchRoot() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string root() const { return dir_.string(); }
  /// Copies every file of fixture folder `from` (relative to fixtures/data) into `sub`.
  void copy_from(const std::string& from, const std::string& sub) {
    fs::create_directories(dir_ / sub);
    for (const auto& entry : fs::directory_iterator(kData + "/" + from)) {
      fs::copy_file(entry.path(), dir_ / sub / entry.path().filename(), fs::copy_options::overwrite_existing);
      fs::permissions(dir_ / sub / entry.path().filename(), fs::perms::owner_read | fs::perms::owner_write,
                      fs::perm_options::add);
    }
  }
  void write(const std::string& relative, const std::string& text) { std::ofstream(dir_ / relative) << text; }
  void remove(const std::string& relative) { fs::remove(dir_ / relative); }

 private:
  fs::path dir_;
};

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const qme::InputError& e) {
    return e.what();
  }
  FAIL("no InputError was thrown");
  return "";
}

}  // namespace

// ------------------------------------------------------------------ splits

TEST_CASE("dense sampling cuts steps and gives the remainder to the last chunk", "[data]") {
  const std::vector<Tracklet> videos = {numbered(1), numbered(13), numbered(20), numbered(45), numbered(8)};
  const auto dense = qme::data::dense_samples(videos, 8);
  // 1 -> whole; 13 -> one chunk of 13; 20 -> 8 + 12; 45 -> 8,8,8,8,13; 8 -> 8
  std::vector<size_t> sizes;
  for (const auto& d : dense) sizes.push_back(d.frames.size());
  CHECK(sizes == std::vector<size_t>{1, 13, 8, 12, 8, 8, 8, 8, 13, 8});
  CHECK(dense[3].frames == frame_range(8, 1, 12));
  CHECK(dense[8].frames == frame_range(32, 1, 13));
  for (const auto& d : dense) {
    CHECK(d.pid == 7);
    CHECK(d.camid == 3);
    CHECK(d.clothes_id == 2);
  }
  SECTION("step 0 keeps every video whole") {
    const auto whole = qme::data::dense_samples(videos, 0);
    REQUIRE(whole.size() == videos.size());
    for (size_t i = 0; i < whole.size(); ++i) CHECK(whole[i].frames == videos[i].frames);
  }
  SECTION("step 1 gives one chunk per frame") {
    CHECK(qme::data::dense_samples({numbered(5)}, 1).size() == 5);
  }
  SECTION("a negative step is refused") {
    CHECK_THROWS_AS(qme::data::dense_samples(videos, -1), qme::UsageError);
  }
}

TEST_CASE("test clips: ceil(L/8) clips of 8 for every branch of the split", "[data]") {
  for (int length : {1, 3, 5, 8, 13, 20, 31, 32, 33, 45}) {
    INFO("length " << length);
    const auto split = qme::data::test_clips({numbered(length)});
    CHECK(static_cast<int>(split.clips.size()) == (length + 7) / 8);
    REQUIRE(split.vid2clip_index.size() == 1);
    CHECK(split.vid2clip_index[0] == std::array<int64_t, 2>{0, static_cast<int64_t>(split.clips.size())});
    for (const auto& clip : split.clips) {
      CHECK(clip.frames.size() == 8);
      CHECK(clip.pid == 7);
    }
  }
  auto clips = [](int length) { return qme::data::test_clips({numbered(length)}).clips; };
  // shorter than one clip: the tail alone, padded cyclically
  CHECK(clips(1)[0].frames == frames_of({0, 0, 0, 0, 0, 0, 0, 0}));
  CHECK(clips(3)[0].frames == frames_of({0, 1, 2, 0, 1, 2, 0, 1}));
  CHECK(clips(5)[0].frames == frames_of({0, 1, 2, 3, 4, 0, 1, 2}));
  // exactly one clip, stride 1
  CHECK(clips(8)[0].frames == frame_range(0, 1, 8));
  // one stride-1 clip, then the padded tail
  CHECK(clips(13)[1].frames == frames_of({8, 9, 10, 11, 12, 8, 9, 10}));
  // remainder 20: two clips with stride 2, then the tail 16..19
  const auto c20 = clips(20);
  CHECK(c20[0].frames == frame_range(0, 2, 8));
  CHECK(c20[1].frames == frame_range(1, 2, 8));
  CHECK(c20[2].frames == frames_of({16, 17, 18, 19, 16, 17, 18, 19}));
  // remainder 31: three clips with stride 3, then the tail 24..30
  const auto c31 = clips(31);
  for (int j = 0; j < 3; ++j) CHECK(c31[static_cast<size_t>(j)].frames == frame_range(j, 3, 8));
  CHECK(c31[3].frames == frames_of({24, 25, 26, 27, 28, 29, 30, 24}));
  // one full block: four clips with stride 4, offsets 0..3
  const auto c32 = clips(32);
  for (int j = 0; j < 4; ++j) CHECK(c32[static_cast<size_t>(j)].frames == frame_range(j, 4, 8));
  // block + remainder 1: no reduced-stride clip, the tail is one frame
  CHECK(clips(33)[4].frames == frames_of({32, 32, 32, 32, 32, 32, 32, 32}));
  // block + remainder 13: one stride-1 clip from 32, tail 40..44
  const auto c45 = clips(45);
  CHECK(c45[3].frames == frame_range(3, 4, 8));
  CHECK(c45[4].frames == frame_range(32, 1, 8));
  CHECK(c45[5].frames == frames_of({40, 41, 42, 43, 44, 40, 41, 42}));
}

TEST_CASE("test clips index several videos and give an empty video an empty range", "[data]") {
  const auto split = qme::data::test_clips({numbered(13), numbered(0), numbered(45)});
  REQUIRE(split.vid2clip_index.size() == 3);
  CHECK(split.vid2clip_index[0] == std::array<int64_t, 2>{0, 2});
  CHECK(split.vid2clip_index[1] == std::array<int64_t, 2>{2, 2});
  CHECK(split.vid2clip_index[2] == std::array<int64_t, 2>{2, 8});
  CHECK_THROWS_AS(qme::data::test_clips({numbered(4)}, 0, 4), qme::UsageError);
}

// ------------------------------------------------------------------ parity

TEST_CASE("CCVID lists, splits and labels equal upstream's", "[data][parity]") {
  const auto e = load_json("ccvid_expected.json");
  const auto splits = qme::data::read_ccvid(kData + "/" + e["root"].get<std::string>());
  CHECK(splits.name == "ccvid");
  CHECK(splits.kind == qme::data::DatasetKind::kVideo);
  CHECK(!splits.face_file.empty());
  check_video_set(splits, e);
  CHECK(static_cast<int64_t>(qme::data::dense_samples(splits.train, 8).size()) ==
        e["stats"]["num_train_dense_clips"].get<int64_t>());
  for (const auto& [step, expected] : e["train_dense_by_sampling_step"].items()) {
    check_samples(qme::data::dense_samples(splits.train, std::stoll(step)), expected, "dense step " + step);
  }
  const auto& r = e["recombined_seq_len4_stride2"];
  const auto query = qme::data::test_clips(splits.query, 4, 2);
  const auto gallery = qme::data::test_clips(splits.gallery, 4, 2);
  check_samples(query.clips, r["recombined_query"], "query seq_len 4 stride 2");
  check_samples(gallery.clips, r["recombined_gallery"], "gallery seq_len 4 stride 2");
  check_index(query.vid2clip_index, r["query_vid2clip_index"]);
  check_index(gallery.vid2clip_index, r["gallery_vid2clip_index"]);
}

TEST_CASE("MEVID lists, splits and labels equal upstream's", "[data][parity]") {
  const auto e = load_json("mevid_expected.json");
  const auto splits = qme::data::read_mevid(kData + "/" + e["root"].get<std::string>());
  CHECK(splits.name == "mevid");
  CHECK(!splits.face_file.empty());
  check_video_set(splits, e);
  CHECK(static_cast<int64_t>(qme::data::dense_samples(splits.train, 8).size()) ==
        e["stats"]["num_train_dense_clips"].get<int64_t>());
}

TEST_CASE("LTCC lists, labels and id2face equal upstream's", "[data][parity]") {
  const auto e = load_json("ltcc_expected.json");
  const auto splits = qme::data::read_ltcc(kData + "/" + e["root"].get<std::string>());
  CHECK(splits.kind == qme::data::DatasetKind::kImage);
  check_samples(splits.train, e["train"], "train");
  check_samples(splits.query, e["query"], "query");
  check_samples(splits.gallery, e["gallery"], "gallery");
  CHECK(splits.num_train_pids == e["num_train_pids"].get<int64_t>());
  CHECK(splits.num_train_clothes == e["num_train_clothes"].get<int64_t>());
  check_pid2clothes(splits.pid2clothes, e["pid2clothes"]);
  CHECK(splits.id2face == e["id2face"].get<std::map<std::string, std::vector<std::string>>>());
  const auto& s = e["stats"];
  CHECK(splits.train_counts.num_tracklets == s["num_train_imgs"].get<int64_t>());
  CHECK(splits.query_counts.num_tracklets == s["num_query_imgs"].get<int64_t>());
  CHECK(splits.gallery_counts.num_tracklets == s["num_gallery_imgs"].get<int64_t>());
  CHECK(splits.query_counts.num_pids == s["num_test_pids"].get<int64_t>());
  CHECK(splits.num_test_clothes == s["num_test_clothes"].get<int64_t>());
  CHECK(qme::data::statistics_lines(splits) == e["log"].get<std::vector<std::string>>());
}

TEST_CASE("read_dataset dispatches by name and refuses others", "[data][parity]") {
  CHECK(qme::data::read_dataset("ltcc", kData + "/root").name == "ltcc");
  CHECK_THROWS_AS(qme::data::read_dataset("prcc", kData + "/root"), qme::UsageError);
}

TEST_CASE("face crops of a frame: none, one, two, or a missing group on the way", "[data][parity]") {
  const qme::io::H5Reader faces(kData + "/root/CCVID/ccvid_face.h5");
  CHECK(qme::data::face_crops(faces, "session1/012_01/00001") ==
        std::vector<std::string>{"session1/012_01/00001/face_0", "session1/012_01/00001/face_1"});
  CHECK(qme::data::face_crops(faces, "session1/012_01/00004") ==
        std::vector<std::string>{"session1/012_01/00004/face_0"});
  CHECK(qme::data::face_crops(faces, "session1/012_01/00002").empty());
  CHECK(qme::data::face_crops(faces, "session1/012_02/00001").empty());  // a tracklet without faces
  CHECK(qme::data::face_crops(faces, "session9/999_01/00001").empty());  // no such session
  qme::io::Shape shape;
  const auto pixels = faces.read_uint8("session1/012_01/00001/face_1", &shape);
  CHECK(shape == qme::io::Shape{112, 112, 3});
  CHECK(pixels.size() == 112u * 112u * 3u);
}

// ------------------------------------------------------------------ edge cases

TEST_CASE("MEVID: empty track rows are dropped but keep their test clothes labels", "[data][parity]") {
  const auto e = load_json("edge_cases_expected.json")["mevid_empty_track"];
  qme::test::LogCapture log;
  const auto splits = qme::data::read_mevid(kData + "/" + e["root"].get<std::string>());
  check_samples(splits.train, e["train"], "train");
  check_samples(splits.query, e["query"], "query");
  check_samples(splits.gallery, e["gallery"], "gallery");
  check_index(qme::data::test_clips(splits.query).vid2clip_index, e["query_vid2clip_index"]);
  check_index(qme::data::test_clips(splits.gallery).vid2clip_index, e["gallery_vid2clip_index"]);
  CHECK(splits.num_train_pids == e["num_train_pids"].get<int64_t>());
  CHECK(splits.num_train_clothes == e["num_train_clothes"].get<int64_t>());
  check_clothes(splits.train_clothes2label, e["train_clothes2label"]);
  check_clothes(splits.test_clothes2label, e["test_clothes2label"]);
  const auto text = log.text();
  CHECK_THAT(text, Catch::Contains("track_train_info.txt:2"));
  CHECK_THAT(text, Catch::Contains("track_test_info.txt:2"));
  CHECK_THAT(text, Catch::Contains("skipped"));
}

TEST_CASE("MEVID: a one-line query_IDX.txt works (upstream's numpy scalar fails)", "[data][parity]") {
  const auto splits = qme::data::read_mevid(kData + "/root_edge/mevid_single_query");
  REQUIRE(splits.query.size() == 1);
  REQUIRE(splits.gallery.size() == 1);
  CHECK(splits.query[0].frames.front() == "bbox_test/0201/0201O001C330T001F00000");
  CHECK(splits.gallery[0].frames.size() == 3);
  CHECK(splits.gallery[0].camid == 336);
}

TEST_CASE("CCVID: an empty tracklet is skipped with a warning, the rest as upstream", "[data][parity]") {
  const auto e = load_json("edge_cases_expected.json")["ccvid_empty_tracklet"];
  qme::test::LogCapture log;
  const auto splits = qme::data::read_ccvid(kData + "/" + e["root"].get<std::string>());
  check_samples(splits.train, e["train"], "train");
  check_samples(splits.query, e["query"], "query");
  // upstream keeps the empty tracklet (with an empty [k, k) clip range); qme drops it
  json non_empty = json::array();
  json non_empty_index = json::array();
  for (size_t i = 0; i < e["gallery"].size(); ++i) {
    if (e["gallery"][i]["paths"].empty()) continue;
    non_empty.push_back(e["gallery"][i]);
    non_empty_index.push_back(e["gallery_vid2clip_index"][i]);
  }
  check_samples(splits.gallery, non_empty, "gallery");
  const auto gallery = qme::data::test_clips(splits.gallery);
  check_samples(gallery.clips, e["recombined_gallery"], "recombined_gallery");
  check_index(gallery.vid2clip_index, non_empty_index);
  CHECK_THAT(log.text(), Catch::Contains("gallery.txt:1") && Catch::Contains("session1/101_01"));
}

TEST_CASE("CCVID: a split line naming a tracklet absent from the .h5 names the file and line",
          "[data][parity]") {
  const auto message = error_of([] { qme::data::read_ccvid(kData + "/root_edge/ccvid_missing_tracklet"); });
  CHECK_THAT(message, Catch::Contains("gallery.txt:3") && Catch::Contains("session2/101_05") &&
                          Catch::Contains("ccvid.h5"));
}

// ------------------------------------------------------------------ errors

TEST_CASE("CCVID: a missing split file or body file is an InputError naming it", "[data][parity]") {
  ScratchRoot scratch("ccvid_missing");
  scratch.copy_from("root/CCVID", "CCVID");
  SECTION("split file") {
    scratch.remove("CCVID/query.txt");
    CHECK_THAT(error_of([&] { qme::data::read_ccvid(scratch.root()); }),
               Catch::Contains("query.txt") && Catch::Contains("does not exist"));
  }
  SECTION("body file") {
    scratch.remove("CCVID/ccvid.h5");
    CHECK_THAT(error_of([&] { qme::data::read_ccvid(scratch.root()); }),
               Catch::Contains("ccvid.h5") && Catch::Contains("does not exist"));
  }
  SECTION("face file: body only, with a warning") {
    scratch.remove("CCVID/ccvid_face.h5");
    qme::test::LogCapture log;
    CHECK(qme::data::read_ccvid(scratch.root()).face_file.empty());
    CHECK_THAT(log.text(), Catch::Contains("ccvid_face.h5"));
  }
  SECTION("a line with two fields") {
    scratch.write("CCVID/train.txt", "session1/012_01\t012\tu0_l0_s0_c0_a0\n\nsession1/003_01 003\n");
    CHECK_THAT(error_of([&] { qme::data::read_ccvid(scratch.root()); }),
               Catch::Contains("train.txt:3") && Catch::Contains("got 2 fields"));
  }
  SECTION("a pid that is not a number") {
    scratch.write("CCVID/train.txt", "session1/012_01\tx12\tu0_l0_s0_c0_a0\n");
    CHECK_THAT(error_of([&] { qme::data::read_ccvid(scratch.root()); }),
               Catch::Contains("train.txt:1") && Catch::Contains("x12"));
  }
}

TEST_CASE("MEVID: malformed info rows and query indices name the file and line", "[data][parity]") {
  ScratchRoot scratch("mevid_bad");
  scratch.copy_from("root/mevid", "mevid");
  auto fails_with = [&](const std::string& file, const std::string& text, const std::string& where,
                        const std::string& what) {
    scratch.write("mevid/" + file, text);
    CHECK_THAT(error_of([&] { qme::data::read_mevid(scratch.root()); }),
               Catch::Contains(where) && Catch::Contains(what));
  };
  SECTION("four columns") {
    fails_with("track_train_info.txt", "0 2 9 3 330\n3 4 10 1\n", "track_train_info.txt:2", "got 4 fields");
  }
  SECTION("not an integer") {
    fails_with("track_test_info.txt", "0 12 201 1 330\n13 5x 201 2 336\n", "track_test_info.txt:2", "5x");
  }
  SECTION("end past the name list") {
    fails_with("track_train_info.txt", "0 100000 9 3 330\n", "track_train_info.txt:1", "train_name.txt");
  }
  SECTION("negative start") {
    fails_with("track_train_info.txt", "-1 2 9 3 330\n", "track_train_info.txt:1", ">= 0");
  }
  SECTION("a query index past the test rows") {
    fails_with("query_IDX.txt", "3\n99\n", "query_IDX.txt:2", "99");
  }
  SECTION("a missing info file") {
    scratch.remove("mevid/track_test_info.txt");
    CHECK_THAT(error_of([&] { qme::data::read_mevid(scratch.root()); }),
               Catch::Contains("track_test_info.txt") && Catch::Contains("does not exist"));
  }
  SECTION("a name list that does not belong to the .h5") {
    scratch.write("mevid/train_name.txt", "9999O003C330T004F00120.jpg\n");
    scratch.write("mevid/track_train_info.txt", "0 0 9999 3 330\n");
    CHECK_THAT(error_of([&] { qme::data::read_mevid(scratch.root()); }),
               Catch::Contains("track_train_info.txt:1") &&
                   Catch::Contains("bbox_train/9999/9999O003C330T004F00120"));
  }
}

TEST_CASE("LTCC: a missing body file or split group is an InputError", "[data][parity]") {
  ScratchRoot scratch("ltcc_missing");
  fs::create_directories(scratch.root() + "/LTCC_ReID");
  CHECK_THAT(error_of([&] { qme::data::read_ltcc(scratch.root()); }), Catch::Contains("ltcc.h5"));
  // The CCVID body file has no train/ group.
  fs::copy_file(kData + "/root/CCVID/ccvid.h5", scratch.root() + "/LTCC_ReID/ltcc.h5");
  CHECK_THAT(error_of([&] { qme::data::read_ltcc(scratch.root()); }),
             Catch::Contains("ltcc.h5") && Catch::Contains("'train'"));
}
