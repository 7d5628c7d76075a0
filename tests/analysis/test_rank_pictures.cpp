// Rank-list pictures (qme_ranks): the rank-list contract's CSV files, the choice of probes, the
// pictures themselves (read back as PNG) and the refusals, on a tiny hand-made CCVID dataset.
#include "qme/analysis/rank_pictures.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <functional>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/data/datasets.hpp"
#include "qme/io/hdf5_file.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace qme::analysis;
using qme::test::message_of;
using qme::test::TempDir;

namespace {

constexpr const char* kHeader =
    "probe_index,rank,gallery_index,pid,camid,clothes_id,score,label_general,label_cc\n";
constexpr const char* kFirstHeader = "probe_index,first_match_rank_general,first_match_rank_cc\n";

std::string input_error(const std::function<void()>& f) {
  return message_of<qme::InputError>(f);
}

std::string usage_error(const std::function<void()>& f) {
  return message_of<qme::UsageError>(f);
}

/// A tiny CCVID root: every tracklet 3 frames of 24x12 pixels in one colour; faces (16x16) on
/// the middle frame of probe 0 and on the last frame of probe 1, none for probe 2.
///   query    0: session1/001_01 pid 1 clothes a    1: session1/002_02 pid 2    2: session1/003_01 pid 3
///   gallery  0: session1/001_02 pid 1 clothes a (match, CC junk)   1: session2/001_01 pid 1 (junk)
///            2: session1/001_03 pid 1 clothes d (match)            3: session1/002_03 pid 2
///            4: session1/003_02 pid 3
struct TinyDataset {
  TempDir dir;
  std::string root;
  qme::data::DatasetSplits splits;

  TinyDataset() : root(dir.path("data")) {
    const std::string ccvid = root + "/CCVID";
    fs::create_directories(ccvid);
    const std::vector<std::string> query = {"session1/001_01 1 a", "session1/002_02 2 b",
                                            "session1/003_01 3 c"};
    const std::vector<std::string> gallery = {"session1/001_02 1 a", "session2/001_01 1 a",
                                              "session1/001_03 1 d", "session1/002_03 2 b",
                                              "session1/003_02 3 c"};
    const std::vector<std::string> train = {"session1/009_01 9 z"};
    std::vector<std::string> tracklets;
    auto write_split = [&](const std::string& name, const std::vector<std::string>& lines) {
      std::string text;
      for (const auto& line : lines) {
        text += line + "\n";
        tracklets.push_back(line.substr(0, line.find(' ')));
      }
      dir.write("data/CCVID/" + name, text);
    };
    write_split("train.txt", train);
    write_split("query.txt", query);
    write_split("gallery.txt", gallery);
    {
      qme::io::AtomicH5Writer body(ccvid + "/ccvid.h5");
      for (size_t t = 0; t < tracklets.size(); ++t) {
        std::vector<uint8_t> pixels(24 * 12 * 3);
        for (size_t i = 0; i < pixels.size(); i += 3) {
          pixels[i] = static_cast<uint8_t>(40 + 20 * t);
          pixels[i + 1] = 200;
          pixels[i + 2] = static_cast<uint8_t>(250 - 20 * t);
        }
        for (int f = 1; f <= 3; ++f) {
          body.write_uint8(tracklets[t] + "/0000" + std::to_string(f), pixels.data(), {24, 12, 3});
        }
      }
      body.commit();
    }
    {
      qme::io::AtomicH5Writer faces(ccvid + "/ccvid_face.h5");
      const std::vector<uint8_t> face(16 * 16 * 3, 90);
      faces.write_uint8("session1/001_01/00002/face_0", face.data(), {16, 16, 3});
      faces.write_uint8("session1/002_02/00003/face_0", face.data(), {16, 16, 3});
      faces.commit();
    }
    splits = qme::data::read_dataset("ccvid", root);
    REQUIRE(splits.query.size() == 3);
    REQUIRE(splits.gallery.size() == 5);
  }

  /// A rank-list line of probe q for gallery entry g with the dataset's ids; labels as given.
  std::string line(int64_t q, const std::string& rank, int64_t g, double score, const std::string& general,
                   const std::string& cc) const {
    const auto& e = splits.gallery[static_cast<size_t>(g)];
    return std::to_string(q) + "," + rank + "," + std::to_string(g) + "," + std::to_string(e.pid) + "," +
           std::to_string(e.camid) + "," + std::to_string(e.clothes_id) + "," + std::to_string(score) + "," +
           general + "," + cc + "\n";
  }

  /// DIR/qme.csv: every probe's whole gallery in a fixed order with the true labels.
  std::string rank_list() const {
    std::string text = kHeader;
    text += line(0, "1", 0, 0.9, "match", "junk");
    text += line(0, "", 1, 0.8, "junk", "junk");
    text += line(0, "2", 3, 0.7, "wrong", "wrong");
    text += line(0, "3", 2, 0.6, "match", "match");
    text += line(0, "4", 4, 0.5, "wrong", "wrong");
    text += line(1, "1", 0, 0.9, "wrong", "wrong");
    text += line(1, "2", 3, 0.8, "match", "junk");
    text += line(2, "1", 4, 0.9, "match", "junk");
    return text;
  }
};

/// The BGR pixel of `image` at (x, y) as RGB.
std::array<uint8_t, 3> rgb_at(const cv::Mat& image, int x, int y) {
  const auto& p = image.at<cv::Vec3b>(y, x);
  return {p[2], p[1], p[0]};
}

RankPicturesOptions options_for(const TinyDataset& data, const std::string& ranks, const std::string& out) {
  RankPicturesOptions options;
  options.rank_lists = ranks;
  options.dataset_root = data.root;
  options.dataset = "ccvid";
  options.out_dir = out;
  options.column = "qme";
  return options;
}

}  // namespace

TEST_CASE("rank-list CSV: a probe's entries in file order, junk unranked, nan scores read", "[analysis]") {
  TempDir dir;
  const auto path = dir.write("qme.csv", std::string(kHeader) +
                                             "0,1,4,13,1,1,0.9,match,junk\r\n"
                                             "0,,7,13,4,2,nan,junk,junk\n"
                                             "1,1,2,20,3,21,-1.5,wrong,wrong\n"
                                             "\n"
                                             "0,2,3,14,1,4,0.25,wrong,wrong\n");
  const auto list = read_rank_list(path);
  REQUIRE(list.probes.size() == 2);
  const auto& p0 = list.probes.at(0);
  REQUIRE(p0.size() == 3);
  CHECK(p0[0].rank == 1);
  CHECK(p0[0].gallery_index == 4);
  CHECK(p0[0].pid == 13);
  CHECK(p0[0].camid == 1);
  CHECK(p0[0].clothes_id == 1);
  CHECK(p0[0].score == 0.9);
  CHECK(p0[0].label_general == RankLabel::kMatch);
  CHECK(p0[0].label_cc == RankLabel::kJunk);
  CHECK(p0[1].rank == 0);
  CHECK(std::isnan(p0[1].score));
  CHECK(p0[1].label_general == RankLabel::kJunk);
  CHECK(p0[2].rank == 2);
  CHECK(p0[2].line == 6);
  CHECK(list.probes.at(1)[0].score == -1.5);
  CHECK(to_string(RankLabel::kWrong) == "wrong");
}

TEST_CASE("rank-list CSV: refusals name the file, the line and the field", "[analysis]") {
  TempDir dir;
  const auto read = [&](const std::string& text) {
    const auto path = dir.write("qme.csv", text);
    return input_error([&] { read_rank_list(path); });
  };
  const std::string file = dir.path("qme.csv");
  CHECK(input_error([&] { read_rank_list(dir.path("absent.csv")); }) ==
        dir.path("absent.csv") + " does not exist");
  CHECK(read("probe,rank\n0,1\n").find(file + ": 'header' is 'probe,rank', expected 'probe_index,rank,") ==
        0);
  CHECK(read("").find(file + ": 'header' is missing") == 0);
  CHECK(read(std::string(kHeader) + "0,1,4,13,1,1,0.9,match\n").find(file + ":2 has 8 fields, expected 9") ==
        0);
  CHECK(read(std::string(kHeader) + "x,1,4,13,1,1,0.9,match,junk\n") ==
        file + ":2: 'probe_index' is 'x', expected an integer");
  CHECK(read(std::string(kHeader) + "0,1,-4,13,1,1,0.9,match,junk\n") ==
        file + ":2: 'gallery_index' is -4, expected an index >= 0");
  CHECK(read(std::string(kHeader) + "0,1,4,13,1,1,high,match,junk\n") ==
        file + ":2: 'score' is 'high', expected a number");
  CHECK(read(std::string(kHeader) + "0,1,4,13,1,1,0.9,good,junk\n") ==
        file + ":2: 'label_general' is 'good', expected match, junk or wrong");
  CHECK(read(std::string(kHeader) + "0,,4,13,1,1,0.9,match,junk\n").find(file + ":2: 'rank' is empty") == 0);
  CHECK(read(std::string(kHeader) + "0,1,4,13,1,1,0.9,junk,junk\n").find(file + ":2: 'rank' is 1 but") == 0);
  CHECK(read(std::string(kHeader) + "0,1,4,13,1,1,0.9,match,junk\n0,3,5,13,1,1,0.8,wrong,wrong\n") ==
        file +
            ":3: 'rank' is 3 but the previous rank of probe 0 is 1 (ranks run 1, 2, 3, ... in metric order)");
}

TEST_CASE("first-match CSV: an empty rank is no match; a repeated probe is refused", "[analysis]") {
  TempDir dir;
  const auto path = dir.write("qme_first_match.csv", std::string(kFirstHeader) + "0,1,16\n1,,\n2,3,\n");
  const auto matches = read_first_matches(path);
  REQUIRE(matches.size() == 3);
  CHECK(matches.at(0).general == 1);
  CHECK(matches.at(0).cc == 16);
  CHECK_FALSE(matches.at(1).general);
  CHECK_FALSE(matches.at(1).cc);
  CHECK(matches.at(2).general == 3);
  CHECK_FALSE(matches.at(2).cc);
  CHECK(rank1_share(matches) == 0.5);  // probe 1 has no valid match

  const auto twice = dir.write("twice.csv", std::string(kFirstHeader) + "0,1,1\n0,2,2\n");
  CHECK(input_error([&] { read_first_matches(twice); }) ==
        twice + ":3: 'probe_index' lists probe 0 a second time");
  const auto zero = dir.write("zero.csv", std::string(kFirstHeader) + "0,0,1\n");
  CHECK(input_error([&] { read_first_matches(zero); }) ==
        zero + ":2: 'first_match_rank_general' is 0, expected a rank >= 1 or empty");
  CHECK(rank_list_path("d", "qme") == "d/qme.csv");
  CHECK(first_match_path("d", "zscore") == "d/zscore_first_match.csv");
}

TEST_CASE("improved and regressed: rank 1 in one column and not in the other, in probe order, capped",
          "[analysis]") {
  FirstMatches qme{{0, {1, 1}},   {1, {1, 2}}, {2, {3, 3}}, {3, {1, {}}},
                   {4, {{}, {}}}, {5, {1, 1}}, {6, {2, 2}}};
  FirstMatches zscore{{0, {1, 1}},   {1, {2, 2}}, {2, {1, 1}}, {3, {4, {}}},
                      {4, {{}, {}}}, {5, {5, 5}}, {6, {1, 1}}};
  const auto improved = select_by_first_match(qme, zscore, ProbeSelection::kImproved, 12, "qme", "zscore");
  REQUIRE(improved.size() == 3);
  CHECK(improved[0].probe_index == 1);
  CHECK(improved[0].why == "improved: qme rank 1, zscore rank 2");
  CHECK(improved[1].probe_index == 3);
  CHECK(improved[2].probe_index == 5);
  const auto capped = select_by_first_match(qme, zscore, ProbeSelection::kImproved, 2, "qme", "zscore");
  REQUIRE(capped.size() == 2);
  CHECK(capped[1].probe_index == 3);
  const auto regressed = select_by_first_match(qme, zscore, ProbeSelection::kRegressed, 12, "qme", "zscore");
  REQUIRE(regressed.size() == 2);
  CHECK(regressed[0].probe_index == 2);
  CHECK(regressed[0].why == "regressed: qme rank 3, zscore rank 1");
  CHECK(regressed[1].probe_index == 6);
  CHECK(parse_probe_selection("regressed") == ProbeSelection::kRegressed);
  CHECK(usage_error([] { parse_probe_selection("best"); }) ==
        "--select must be improved, regressed or random, got 'best'");
}

TEST_CASE("--against best: the baseline with the highest share of rank-1 first matches", "[analysis]") {
  TempDir dir;
  CHECK(input_error([&] { best_baseline(dir.path("")); }).find("holds no baseline first-match file") !=
        std::string::npos);
  // zscore 2 of 3 valid probes (probe 3 has no match), rhe 2 of 4, max 2 of 3 (a tie: zscore first).
  dir.write("zscore_first_match.csv", std::string(kFirstHeader) + "0,1,1\n1,1,1\n2,2,2\n3,,\n");
  dir.write("rhe_first_match.csv", std::string(kFirstHeader) + "0,1,1\n1,1,1\n2,2,2\n3,5,\n");
  dir.write("max_first_match.csv", std::string(kFirstHeader) + "0,1,1\n1,2,1\n2,1,2\n3,,\n");
  dir.write("adaface_first_match.csv",
            std::string(kFirstHeader) + "0,1,1\n1,1,1\n2,1,2\n3,,\n");  // not a baseline
  CHECK(best_baseline(dir.path("")) == "zscore");
  dir.write("mean_first_match.csv", std::string(kFirstHeader) + "0,1,1\n1,1,1\n2,1,2\n3,2,\n");
  CHECK(best_baseline(dir.path("")) == "mean");
  CHECK(best_baseline(dir.path(""), "mean") == "zscore");  // not the column compared itself
  CHECK(baseline_columns() == std::vector<std::string>{"zscore", "minmax", "rhe", "min", "mean", "max"});
}

TEST_CASE("random probes: a seed always draws the same distinct probes, in probe order", "[analysis]") {
  std::vector<int64_t> candidates;
  for (int64_t i = 0; i < 50; ++i) candidates.push_back(i * 2);
  const auto a = select_random(candidates, 5, 7);
  const auto b = select_random(candidates, 5, 7);
  const auto c = select_random(candidates, 5, 8);
  REQUIRE(a.size() == 5);
  std::vector<int64_t> pa, pb, pc;
  for (size_t i = 0; i < a.size(); ++i) {
    pa.push_back(a[i].probe_index);
    pb.push_back(b[i].probe_index);
    pc.push_back(c[i].probe_index);
  }
  CHECK(pa == pb);
  CHECK(pa != pc);
  CHECK(std::is_sorted(pa.begin(), pa.end()));
  CHECK(std::adjacent_find(pa.begin(), pa.end()) == pa.end());
  for (const auto p : pa) CHECK(p % 2 == 0);
  CHECK(a[0].why == "random (seed 7)");
  // std::mt19937's output is specified by the standard and the bounded draw is qme's own: these
  // probes on every platform.
  CHECK(pa == std::vector<int64_t>{10, 14, 30, 38, 54});
  const auto all = select_random(candidates, 80, 3);
  CHECK(all.size() == 50);
  CHECK(select_random({}, 3, 1).empty());
}

TEST_CASE("pictures: one PNG per probe, borders coloured by label, the index", "[analysis]") {
  TinyDataset data;
  TempDir work;
  work.write("qme.csv", data.rank_list());
  work.write("qme_first_match.csv", std::string(kFirstHeader) + "0,1,3\n1,2,\n2,1,\n");
  auto options = options_for(data, work.path(""), work.path("out"));
  options.probes = {0, 2, 0, 1};  // a repeat is drawn once
  const auto result = write_rank_pictures(options);
  REQUIRE(result.pictures.size() == 3);
  CHECK(result.against.empty());

  const auto& p0 = result.pictures[0];
  CHECK(p0.probe_index == 0);
  CHECK(p0.file == "qme_probe0.png");
  CHECK(p0.why == "listed");
  REQUIRE(p0.panels.size() == 6);  // the probe, then its 5 entries (junk included)
  const cv::Mat image = cv::imread(work.path("out/qme_probe0.png"), cv::IMREAD_COLOR);
  REQUIRE_FALSE(image.empty());
  CHECK(image.cols == p0.width);
  CHECK(image.rows == p0.height);
  CHECK(rgb_at(image, 0, 0) == std::array<uint8_t, 3>{255, 255, 255});  // white background
  const std::vector<RankLabel> labels = {RankLabel::kMatch, RankLabel::kJunk, RankLabel::kWrong,
                                         RankLabel::kMatch, RankLabel::kWrong};
  const std::vector<int64_t> gallery = {0, 1, 3, 2, 4};
  for (size_t i = 1; i < p0.panels.size(); ++i) {
    const auto& box = p0.panels[i];
    CAPTURE(i);
    CHECK(box.label == labels[i - 1]);
    CHECK(box.gallery_index == gallery[i - 1]);
    CHECK(box.height == options.thumb_height + 2 * box.border);
    const auto colour = label_colour(box.label);
    // Four sides of the border, and the frame's own colour inside it.
    CHECK(rgb_at(image, box.x, box.y) == colour);
    CHECK(rgb_at(image, box.x + box.width - 1, box.y + box.height / 2) == colour);
    CHECK(rgb_at(image, box.x + box.width / 2, box.y + box.height - 1) == colour);
    CHECK(rgb_at(image, box.x + box.border - 1, box.y + box.height / 2) == colour);
    const auto inside = rgb_at(image, box.x + box.width / 2, box.y + box.height / 2);
    CHECK(inside != colour);
    CHECK(inside[1] == 200);  // the tracklet's uniform colour (G = 200)
  }
  CHECK(label_colour(RankLabel::kMatch) != label_colour(RankLabel::kWrong));
  CHECK(label_colour(RankLabel::kJunk) != label_colour(RankLabel::kWrong));
  // Panels do not overlap, left to right in rank order (one row).
  for (size_t i = 1; i < p0.panels.size(); ++i)
    CHECK(p0.panels[i].x >= p0.panels[i - 1].x + p0.panels[i - 1].width);

  const cv::Mat second = cv::imread(work.path("out/qme_probe2.png"), cv::IMREAD_COLOR);
  REQUIRE_FALSE(second.empty());
  CHECK(result.pictures[1].panels.size() == 2);

  // Face crops (grey 90): probe 0's on its middle frame, probe 1's on its last one (the nearest
  // with a face); probe 2 has none, a light grey box instead.
  const auto face_at_centre = [&](const RankPicture& p) {
    const cv::Mat png = cv::imread(work.path("out/" + p.file), cv::IMREAD_COLOR);
    REQUIRE(p.face.width > 0);
    return rgb_at(png, p.face.x + p.face.width / 2, p.face.y + p.face.height / 4);
  };
  CHECK(face_at_centre(p0) == std::array<uint8_t, 3>{90, 90, 90});
  CHECK(face_at_centre(result.pictures[2]) == std::array<uint8_t, 3>{90, 90, 90});
  CHECK(face_at_centre(result.pictures[1]) == std::array<uint8_t, 3>{235, 235, 235});
  CHECK(p0.face.x >= p0.panels[0].x + p0.panels[0].width);
  CHECK(p0.panels[1].x >= p0.face.x + p0.face.width);

  std::ifstream csv(result.index_csv);
  const std::string index((std::istreambuf_iterator<char>(csv)), std::istreambuf_iterator<char>());
  CHECK(index ==
        "probe_index,column,file,why_chosen\n"
        "0,qme,qme_probe0.png,listed\n"
        "2,qme,qme_probe2.png,listed\n"
        "1,qme,qme_probe1.png,listed\n");
  std::ifstream html_in(result.index_html);
  const std::string html((std::istreambuf_iterator<char>(html_in)), std::istreambuf_iterator<char>());
  CHECK(html.find("<img src=\"qme_probe0.png\"") != std::string::npos);
  CHECK(html.find("<img src=\"qme_probe2.png\"") != std::string::npos);
}

TEST_CASE("pictures: --top_k stops after the k-th ranked entry, keeping the junk before it", "[analysis]") {
  TinyDataset data;
  TempDir work;
  work.write("qme.csv", data.rank_list());
  auto options = options_for(data, work.path(""), work.path("out"));
  options.probes = {0};
  options.top_k = 2;
  auto result = write_rank_pictures(options);  // no first-match file: fine for listed probes
  REQUIRE(result.pictures.size() == 1);
  std::vector<int64_t> shown;
  for (const auto& box : result.pictures[0].panels) shown.push_back(box.gallery_index);
  CHECK(shown == std::vector<int64_t>{-1, 0, 1, 3});
  options.top_k = 9;  // more than the list holds: everything
  CHECK(write_rank_pictures(options).pictures[0].panels.size() == 6);
  options.top_k = 1;
  options.per_row = 1;
  CHECK(write_rank_pictures(options).pictures[0].panels.size() == 2);
}

TEST_CASE("pictures: improved against the best baseline, random by seed", "[analysis]") {
  TinyDataset data;
  TempDir work;
  work.write("qme.csv", data.rank_list());
  work.write("qme_first_match.csv", std::string(kFirstHeader) + "0,1,3\n1,2,\n2,1,\n");
  work.write("zscore_first_match.csv", std::string(kFirstHeader) + "0,2,1\n1,1,\n2,1,\n");
  work.write("minmax_first_match.csv", std::string(kFirstHeader) + "0,2,1\n1,2,\n2,2,\n");
  auto options = options_for(data, work.path(""), work.path("out"));
  auto improved = write_rank_pictures(options);
  CHECK(improved.against == "zscore");
  REQUIRE(improved.pictures.size() == 1);
  CHECK(improved.pictures[0].probe_index == 0);
  CHECK(improved.pictures[0].why == "improved: qme rank 1, zscore rank 2");

  options.selection = ProbeSelection::kRegressed;
  options.against = "minmax";
  const auto regressed = write_rank_pictures(options);
  CHECK(regressed.pictures.empty());  // qme is never behind minmax here
  options.against = "zscore";
  const auto behind = write_rank_pictures(options);
  REQUIRE(behind.pictures.size() == 1);
  CHECK(behind.pictures[0].probe_index == 1);

  options.selection = ProbeSelection::kRandom;
  options.count = 2;
  options.seed = 11;
  const auto a = write_rank_pictures(options);
  const auto b = write_rank_pictures(options);
  REQUIRE(a.pictures.size() == 2);
  CHECK(a.pictures[0].probe_index == b.pictures[0].probe_index);
  CHECK(a.pictures[1].probe_index == b.pictures[1].probe_index);
  CHECK(a.pictures[0].why == "random (seed 11)");
}

TEST_CASE("pictures: bad inputs are refused with nothing written", "[analysis]") {
  TinyDataset data;
  TempDir work;
  const std::string out = work.path("out");
  auto options = options_for(data, work.path(""), out);
  options.probes = {0};

  // No rank list.
  CHECK(input_error([&] { write_rank_pictures(options); }) == work.path("qme.csv") + " does not exist");
  work.write("qme.csv", data.rank_list());

  SECTION("a probe outside the query set") {
    options.probes = {99999};
    CHECK(usage_error([&] { write_rank_pictures(options); }) ==
          "--probes: probe 99999 is outside the query set of ccvid in " + data.root + " (0..2)");
  }
  SECTION("--count 0") {
    options.probes.clear();
    options.selection = ProbeSelection::kRandom;
    options.count = 0;
    CHECK(usage_error([&] { write_rank_pictures(options); }) == "--count must be at least 1, got 0");
  }
  SECTION("a gallery index beyond the dataset") {
    work.write("qme.csv", data.rank_list() + "2,2,5,3,2,4,0.1,wrong,wrong\n");
    CHECK(input_error([&] { write_rank_pictures(options); }) ==
          work.path("qme.csv") + ":10: 'gallery_index' is 5, beyond the gallery of ccvid in " + data.root +
              " (5 entries): is the rank list from this dataset?");
  }
  SECTION("a probe index beyond the dataset") {
    work.write("qme.csv", data.rank_list() + data.line(3, "1", 0, 0.1, "wrong", "wrong"));
    CHECK(input_error([&] {
            write_rank_pictures(options);
          }).find(":10: 'probe_index' is 3, beyond the query set") != std::string::npos);
  }
  SECTION("ids that are not the dataset's gallery entry") {
    work.write("qme.csv", std::string(kHeader) + "0,1,3,1,1,0,0.9,match,junk\n");
    CHECK(input_error([&] { write_rank_pictures(options); })
              .find(":2: 'pid,camid,clothes_id' are 1,1,0 but gallery entry 3 of ccvid in " + data.root +
                    " is 2,3,") != std::string::npos);
  }
  SECTION("a match of another identity than the probe") {
    work.write("qme.csv", std::string(kHeader) + data.line(0, "1", 3, 0.9, "match", "match"));
    CHECK(input_error([&] { write_rank_pictures(options); })
              .find(":2: 'label_general' is match for gallery pid 2 but probe 0 of ccvid in " + data.root +
                    " is pid 1") != std::string::npos);
  }
  SECTION("a chosen probe without entries") {
    work.write("qme.csv", std::string(kHeader) + data.line(0, "1", 0, 0.9, "match", "junk"));
    options.probes = {1};
    CHECK(input_error([&] { write_rank_pictures(options); }) ==
          work.path("qme.csv") + ": 'probe_index' has no entries for probe 1");
  }
  SECTION("improved without the first-match files") {
    options.probes.clear();
    CHECK(input_error([&] { write_rank_pictures(options); }) ==
          work.path("qme_first_match.csv") + " does not exist");
  }
  SECTION("an output folder that is a file") {
    work.write("out", "not a folder");
    CHECK_FALSE(input_error([&] { write_rank_pictures(options); }).empty());
    CHECK(fs::is_regular_file(out));
    return;
  }
  CHECK_FALSE(fs::exists(out));
}
