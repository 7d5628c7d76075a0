// Training-time sampling (qme::data, docs/architecture.md §7.3): every TemporalRandomCrop
// branch, the face sampler's branches (training padding per dataset), and the
// identity sampler's epoch structure.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/data/sampling.hpp"

using qme::data::IdentitySampler;
using qme::data::SampleRng;
using qme::data::TemporalRandomCrop;

namespace {

/// A face file as a map group -> member names (name order).
class MapFaceIndex : public qme::data::FaceIndex {
 public:
  /// Adds dataset paths "a/b/face_0": every group on the way gets its member.
  void add(const std::string& path) {
    std::string group;
    size_t start = 0;
    while (true) {
      const auto slash = path.find('/', start);
      const std::string name =
          path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
      tree_[group].insert(name);
      if (slash == std::string::npos) break;
      group = group.empty() ? name : group + "/" + name;
      start = slash + 1;
    }
  }
  std::vector<std::string> members(const std::string& group) const override {
    const auto it = tree_.find(group);
    if (it == tree_.end()) return {};
    return {it->second.begin(), it->second.end()};
  }

 private:
  std::map<std::string, std::set<std::string>> tree_;
};

std::vector<std::string> frame_names(const std::string& folder, int n) {
  std::vector<std::string> frames;
  for (int i = 0; i < n; ++i) frames.push_back(folder + "/" + std::to_string(1000 + i));
  return frames;
}

std::string dirname(const std::string& path) {
  return path.substr(0, path.rfind('/'));
}

}  // namespace

TEST_CASE("uniform_index stays in range and covers it", "[data]") {
  SampleRng rng(7);
  std::vector<int> counts(5, 0);
  for (int i = 0; i < 5000; ++i) {
    const auto v = qme::data::uniform_index(rng, 5);
    REQUIRE(v >= 0);
    REQUIRE(v < 5);
    ++counts[static_cast<size_t>(v)];
  }
  for (int c : counts) CHECK(c > 800);  // expected 1000 each
  CHECK_THROWS_AS(qme::data::uniform_index(rng, 0), qme::UsageError);
}

TEST_CASE("TemporalRandomCrop: L >= size*stride takes a strided window", "[data]") {
  const TemporalRandomCrop crop(8, 4);
  const int64_t length = 50;  // starts 0 .. 50 - 28 - 1 = 21
  SampleRng rng(1);
  std::set<int64_t> starts;
  for (int draw = 0; draw < 10000; ++draw) {
    const auto idx = crop.indices(length, rng);
    REQUIRE(idx.size() == 8);
    for (size_t i = 1; i < idx.size(); ++i) REQUIRE(idx[i] - idx[i - 1] == 4);
    REQUIRE(idx.front() >= 0);
    REQUIRE(idx.back() < length);
    starts.insert(idx.front());
  }
  CHECK(starts.size() == 22);  // every start 0..21 drawn
  CHECK(*starts.begin() == 0);
  CHECK(*starts.rbegin() == 21);

  // Exactly size*stride frames: starts 0..3.
  std::set<int64_t> exact_starts;
  for (int draw = 0; draw < 1000; ++draw) exact_starts.insert(crop.indices(32, rng).front());
  CHECK(exact_starts == std::set<int64_t>{0, 1, 2, 3});
}

TEST_CASE("TemporalRandomCrop: size <= L < size*stride draws one frame per chunk", "[data]") {
  const TemporalRandomCrop crop(8, 4);
  SECTION("L = 27: chunks of 3, the last 3 frames never drawn") {
    const int64_t length = 27;
    SampleRng rng(2);
    std::vector<std::set<int64_t>> seen(8);
    for (int draw = 0; draw < 10000; ++draw) {
      const auto idx = crop.indices(length, rng);
      REQUIRE(idx.size() == 8);
      REQUIRE(std::is_sorted(idx.begin(), idx.end()));
      for (size_t i = 0; i < 8; ++i) {
        REQUIRE(idx[i] >= 3 * static_cast<int64_t>(i));
        REQUIRE(idx[i] < 3 * static_cast<int64_t>(i + 1));
        seen[i].insert(idx[i]);
      }
    }
    for (size_t i = 0; i < 8; ++i) CHECK(seen[i].size() == 3);
  }
  SECTION("L = size: every frame once") {
    SampleRng rng(3);
    CHECK(crop.indices(8, rng) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  }
}

TEST_CASE("TemporalRandomCrop: L < size draws with replacement, sorted", "[data]") {
  const TemporalRandomCrop crop(8, 4);
  SampleRng rng(4);
  std::set<int64_t> seen;
  for (int draw = 0; draw < 1000; ++draw) {
    const auto idx = crop.indices(5, rng);
    REQUIRE(idx.size() == 8);
    REQUIRE(std::is_sorted(idx.begin(), idx.end()));
    for (auto v : idx) {
      REQUIRE(v >= 0);
      REQUIRE(v < 5);
      seen.insert(v);
    }
  }
  CHECK(seen.size() == 5);
  CHECK(crop.indices(1, rng) == std::vector<int64_t>(8, 0));
}

TEST_CASE("TemporalRandomCrop: deterministic per seed, frames follow indices, bad input", "[data]") {
  const TemporalRandomCrop crop(4, 4);
  for (int64_t length : {3, 10, 40}) {
    SampleRng a(11), b(11), c(12);
    std::vector<std::vector<int64_t>> run_a, run_b, run_c;
    for (int i = 0; i < 20; ++i) {
      run_a.push_back(crop.indices(length, a));
      run_b.push_back(crop.indices(length, b));
      run_c.push_back(crop.indices(length, c));
    }
    CHECK(run_a == run_b);
    CHECK(run_a != run_c);
  }
  const auto frames = frame_names("session1/001_01", 40);
  SampleRng a(5), b(5);
  const auto picked = crop(frames, a);
  const auto idx = crop.indices(40, b);
  REQUIRE(picked.size() == 4);
  for (size_t i = 0; i < 4; ++i) CHECK(picked[i] == frames[static_cast<size_t>(idx[i])]);

  SampleRng rng(0);
  CHECK_THROWS_AS(crop.indices(0, rng), qme::UsageError);
  CHECK_THROWS_AS(TemporalRandomCrop(0, 4), qme::UsageError);
  CHECK_THROWS_AS(TemporalRandomCrop(8, 0), qme::UsageError);
}

TEST_CASE("sample_clip_faces: one face per frame with faces, none without", "[data]") {
  MapFaceIndex faces;
  faces.add("session1/001_01/1000/face_0");
  faces.add("session1/001_01/1000/face_1");
  faces.add("session1/001_01/1002/face_0");
  const auto frames = frame_names("session1/001_01", 4);

  SampleRng rng(1);
  std::set<std::string> drawn;
  for (int i = 0; i < 200; ++i) {
    const auto out = qme::data::sample_clip_faces(faces, frames, "ccvid", false, rng);
    REQUIRE(out.size() == 2);
    CHECK(dirname(out[0]) == "session1/001_01/1000");
    CHECK(out[1] == "session1/001_01/1002/face_0");
    drawn.insert(out[0]);
  }
  CHECK(drawn.size() == 2);  // both faces of frame 1000 drawn

  // A test clip with no face gives no face.
  SampleRng rng2(2);
  CHECK(qme::data::sample_clip_faces(faces, frame_names("session1/002_01", 4), "ccvid", false, rng2).empty());
}

TEST_CASE("sample_clip_faces: training pads from the same tracklet", "[data]") {
  MapFaceIndex faces;
  faces.add("session1/001_01/1000/face_0");
  faces.add("session1/001_01/1009/face_0");  // outside the clip, in the tracklet
  const auto frames = frame_names("session1/001_01", 4);
  for (const std::string dataset : {"ccvid", "mevid"}) {
    SampleRng rng(3);
    std::set<std::string> padded;
    for (int i = 0; i < 200; ++i) {
      const auto out = qme::data::sample_clip_faces(faces, frames, dataset, true, rng);
      REQUIRE(out.size() == 4);
      CHECK(out[0] == "session1/001_01/1000/face_0");  // frames' own faces first
      for (size_t j = 1; j < 4; ++j) {
        CHECK(dirname(dirname(out[j])) == "session1/001_01");
        padded.insert(out[j]);
      }
    }
    CHECK(padded.size() == 2);
  }
}

TEST_CASE("sample_clip_faces: CCVID pads a faceless tracklet from the same pid and session", "[data]") {
  MapFaceIndex faces;
  faces.add("session1/001_02/2000/face_0");
  faces.add("session1/001_03/3000/face_0");
  faces.add("session1/002_01/4000/face_0");  // another pid
  faces.add("session2/001_01/5000/face_0");  // another session
  const auto frames = frame_names("session1/001_01", 3);
  SampleRng rng(4);
  std::set<std::string> sources;
  for (int i = 0; i < 200; ++i) {
    const auto out = qme::data::sample_clip_faces(faces, frames, "ccvid", true, rng);
    REQUIRE(out.size() == 3);
    for (const auto& face : out) sources.insert(dirname(dirname(face)));
  }
  CHECK(sources == std::set<std::string>{"session1/001_02", "session1/001_03"});

  // No tracklet of that pid has a face: no face at all.
  SampleRng rng2(5);
  CHECK(qme::data::sample_clip_faces(faces, frame_names("session1/003_01", 3), "ccvid", true, rng2).empty());
}

TEST_CASE("sample_clip_faces: MEVID does not pad a faceless tracklet; other datasets refuse", "[data]") {
  MapFaceIndex faces;
  faces.add("0001C001T0001F001/0001C001T0001F001_F0001/face_0");
  SampleRng rng(6);
  std::vector<std::string> faceless = {"0001C002T0002F001/a", "0001C002T0002F001/b"};
  CHECK(qme::data::sample_clip_faces(faces, faceless, "mevid", true, rng).empty());
  CHECK_THROWS_AS(qme::data::sample_clip_faces(faces, faceless, "ltcc", true, rng), qme::UsageError);
  // Without training, any name is fine (nothing to pad).
  CHECK(qme::data::sample_clip_faces(faces, faceless, "ltcc", false, rng).empty());
  CHECK(qme::data::sample_clip_faces(faces, {}, "mevid", true, rng).empty());
}

TEST_CASE("sample_image_face: own face, else (training) a face of the same id", "[data]") {
  MapFaceIndex faces;
  faces.add("train/001_1_c1_0001.png/face_0");
  faces.add("train/001_1_c1_0001.png/face_1");
  faces.add("train/001_2_c3_0007.png/face_0");
  faces.add("train/002_1_c1_0001.png/face_0");
  const std::map<std::string, std::vector<std::string>> id2face = {
      {"001", {"001_1_c1_0001.png", "001_2_c3_0007.png"}}, {"002", {"002_1_c1_0001.png"}}};

  SampleRng rng(7);
  std::set<std::string> own;
  for (int i = 0; i < 100; ++i) {
    const auto out = qme::data::sample_image_face(faces, "train/001_1_c1_0001.png", true, id2face, rng);
    REQUIRE(out.size() == 1);
    own.insert(out[0]);
  }
  CHECK(own == std::set<std::string>{"train/001_1_c1_0001.png/face_0", "train/001_1_c1_0001.png/face_1"});

  std::set<std::string> padded;
  for (int i = 0; i < 200; ++i) {
    const auto out = qme::data::sample_image_face(faces, "train/001_5_c2_0003.png", true, id2face, rng);
    REQUIRE(out.size() == 1);
    padded.insert(dirname(out[0]));
  }
  CHECK(padded == std::set<std::string>{"train/001_1_c1_0001.png", "train/001_2_c3_0007.png"});

  CHECK(qme::data::sample_image_face(faces, "query/001_5_c2_0003.png", false, id2face, rng).empty());
  CHECK(qme::data::sample_image_face(faces, "train/009_1_c1_0001.png", true, id2face, rng).empty());
}

TEST_CASE("IdentitySampler: K instances per pid, rounded as upstream", "[data]") {
  // pid 10: 5 samples, pid 20: 2, pid 30: 4 (first appearance order 10, 20, 30).
  const std::vector<int64_t> pids = {10, 20, 10, 30, 10, 30, 10, 20, 30, 10, 30};
  const IdentitySampler sampler(pids, 4, 42);
  // max(n, K) - max(n, K) % K: 5 -> 4, 2 -> 4, 4 -> 4.
  CHECK(sampler.size() == 12);
  for (int64_t epoch = 0; epoch < 5; ++epoch) {
    const auto order = sampler.epoch_indices(epoch);
    REQUIRE(static_cast<int64_t>(order.size()) == sampler.size());
    std::map<int64_t, int> per_pid;
    for (size_t start = 0; start < order.size(); start += 4) {
      // Each group of K is one pid.
      const int64_t pid = pids[static_cast<size_t>(order[start])];
      for (size_t j = start; j < start + 4; ++j) REQUIRE(pids[static_cast<size_t>(order[j])] == pid);
      per_pid[pid] += 4;
    }
    CHECK(per_pid == std::map<int64_t, int>{{10, 4}, {20, 4}, {30, 4}});
    // pid 30 has exactly K samples: each appears once; pid 10 without replacement.
    std::set<int64_t> distinct_10;
    for (auto i : order) {
      if (pids[static_cast<size_t>(i)] == 10) distinct_10.insert(i);
    }
    CHECK(distinct_10.size() == 4);
  }
}

TEST_CASE("IdentitySampler: K = 1 is a permutation; seed + epoch orders deterministically", "[data]") {
  std::vector<int64_t> pids;
  for (int i = 0; i < 40; ++i) pids.push_back(i % 7);
  const IdentitySampler sampler(pids, 1, 100);
  CHECK(sampler.size() == 40);
  auto order = sampler.epoch_indices(0);
  auto sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> all(40);
  for (int i = 0; i < 40; ++i) all[static_cast<size_t>(i)] = i;
  CHECK(sorted == all);

  CHECK(sampler.epoch_indices(0) == order);  // same epoch, same order
  CHECK(sampler.epoch_indices(1) != order);  // next epoch differs
  CHECK(IdentitySampler(pids, 1, 101).epoch_indices(0) == sampler.epoch_indices(1));  // seed + epoch
  CHECK(IdentitySampler(pids, 1, 100).epoch_indices(3) == sampler.epoch_indices(3));

  CHECK_THROWS_AS(IdentitySampler(pids, 0, 0), qme::UsageError);
}

TEST_CASE("IdentitySampler: pids with fewer than K samples draw with replacement", "[data]") {
  const std::vector<int64_t> pids = {1, 2, 2};
  const IdentitySampler sampler(pids, 4, 0);
  CHECK(sampler.size() == 8);
  const auto order = sampler.epoch_indices(0);
  REQUIRE(order.size() == 8);
  int ones = 0;
  for (auto i : order) ones += (i == 0);
  CHECK(ones == 4);  // the single sample of pid 1, four times

  std::vector<qme::data::Tracklet> samples(3);
  for (size_t i = 0; i < 3; ++i) samples[i].pid = pids[i];
  CHECK(IdentitySampler(samples, 4, 0).epoch_indices(2) == sampler.epoch_indices(2));
}
