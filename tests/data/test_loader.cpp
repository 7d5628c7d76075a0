// The threaded batch loader (qme::data::ClipLoader, docs/architecture.md §7.3) on the fixture
// datasets: contents equal the per-model transforms of the frames it names,
// batches do not depend on the number of workers, errors reach the consumer,
// and destruction mid-pass returns.
#include "qme/data/loader.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/data/augment.hpp"
#include "qme/data/transforms.hpp"
#include "qme/io/hdf5_file.hpp"

using qme::data::Batch;
using qme::data::ClipLoader;
using qme::data::LoaderMode;
using qme::data::LoaderOptions;
using qme::data::LoaderSource;

namespace {

const std::string kRoot = std::string(QME_FIXTURES_DIR) + "/data/root";

std::vector<Batch> drain(ClipLoader& loader) {
  std::vector<Batch> batches;
  while (auto batch = loader.next()) batches.push_back(std::move(*batch));
  return batches;
}

std::vector<Batch> load(const qme::data::DatasetSplits& splits,
                        const std::vector<qme::data::Tracklet>& samples, LoaderOptions options, int workers) {
  options.num_workers = workers;
  ClipLoader loader(LoaderSource::of(splits), samples, options);
  return drain(loader);
}

void check_same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("batch " << i);
    CHECK(a[i].index == static_cast<int64_t>(i));
    CHECK(a[i].samples == b[i].samples);
    CHECK(a[i].keys == b[i].keys);
    CHECK(torch::equal(a[i].pids, b[i].pids));
    CHECK(torch::equal(a[i].clothes_ids, b[i].clothes_ids));
    REQUIRE(a[i].clips.size() == b[i].clips.size());
    for (const auto& [model, clip] : a[i].clips) {
      INFO(model);
      CHECK(torch::equal(clip, b[i].clips.at(model)));
      CHECK(torch::equal(a[i].masks.at(model), b[i].masks.at(model)));
    }
  }
}

qme::data::RgbImage read(const qme::io::H5Reader& reader, const std::string& key) {
  qme::io::Shape shape;
  auto pixels = reader.read_uint8(key, &shape);
  REQUIRE(shape.size() == 3);
  return qme::data::RgbImage(static_cast<int64_t>(shape[0]), static_cast<int64_t>(shape[1]),
                             std::move(pixels));
}

/// Every slot holds the model's test transform of the key it names; empty slots are zero.
void check_contents(const Batch& batch, const std::string& model, const qme::io::H5Reader& file) {
  const auto transform = qme::data::test_transform(model);
  const auto& clip = batch.clips.at(model);
  const auto& mask = batch.masks.at(model);
  const auto& keys = batch.keys.at(model);
  REQUIRE(clip.dim() == 5);
  CHECK(clip.size(1) == 3);
  CHECK(clip.size(3) == transform.height);
  CHECK(clip.size(4) == transform.width);
  for (int64_t r = 0; r < clip.size(0); ++r) {
    for (int64_t t = 0; t < clip.size(2); ++t) {
      const auto frame = clip[r].select(1, t).contiguous();  // (3, H, W)
      const bool filled = t < static_cast<int64_t>(keys[static_cast<size_t>(r)].size());
      CHECK(mask[r][t].item<bool>() == filled);
      if (!filled) {
        CHECK(frame.abs().sum().item<float>() == 0.0f);
        continue;
      }
      const auto expected = transform.apply(read(file, keys[static_cast<size_t>(r)][static_cast<size_t>(t)]));
      const std::vector<float> got(frame.data_ptr<float>(), frame.data_ptr<float>() + frame.numel());
      CHECK(got == expected);
    }
  }
}

std::string parent(const std::string& key) {
  return key.substr(0, key.rfind('/'));
}

}  // namespace

TEST_CASE("test clips: each slot is the model's test transform of the frame or face it names",
          "[data][parity]") {
  const auto splits = qme::data::read_ccvid(kRoot);
  const auto clips = qme::data::test_clips(splits.query).clips;
  LoaderOptions options;
  options.models = {"adaface", "biggait", "cal-ccvid"};
  options.batch_size = 3;
  options.seed = 17;
  const auto batches = load(splits, clips, options, 2);
  REQUIRE(static_cast<int64_t>(batches.size()) == (static_cast<int64_t>(clips.size()) + 2) / 3);
  const qme::io::H5Reader body(splits.body_file), faces(splits.face_file);
  int64_t rows = 0, face_rows = 0;
  for (const auto& batch : batches) {
    check_contents(batch, "biggait", body);
    check_contents(batch, "cal-ccvid", body);
    check_contents(batch, "adaface", faces);
    for (size_t r = 0; r < batch.samples.size(); ++r) {
      const auto& clip = clips[static_cast<size_t>(batch.samples[r])];
      CHECK(batch.samples[r] == rows);
      CHECK(batch.pids[static_cast<int64_t>(r)].item<int64_t>() == clip.pid);
      CHECK(batch.camids[static_cast<int64_t>(r)].item<int64_t>() == clip.camid);
      CHECK(batch.clothes_ids[static_cast<int64_t>(r)].item<int64_t>() == clip.clothes_id);
      CHECK(batch.keys.at("cal-ccvid")[r] == clip.frames);
      CHECK(batch.clips.at("cal-ccvid").size(2) == 8);
      // One face per frame that has faces, in frame order.
      std::vector<std::string> with_faces;
      for (const auto& frame : clip.frames)
        if (!qme::data::face_crops(faces, frame).empty()) with_faces.push_back(frame);
      std::vector<std::string> face_frames;
      for (const auto& key : batch.keys.at("adaface")[r]) face_frames.push_back(parent(key));
      CHECK(face_frames == with_faces);
      face_rows += !with_faces.empty();
      ++rows;
    }
  }
  CHECK(rows == static_cast<int64_t>(clips.size()));
  CHECK(face_rows > 0);
  CHECK(face_rows < rows);
}

TEST_CASE("LTCC images load as one-frame clips; a faceless image has an empty face clip", "[data][parity]") {
  const auto splits = qme::data::read_ltcc(kRoot);
  LoaderOptions options;
  options.models = {"adaface", "cal-ltcc"};
  options.batch_size = 1;
  const auto batches = load(splits, splits.gallery, options, 3);
  REQUIRE(batches.size() == splits.gallery.size());
  const qme::io::H5Reader body(splits.body_file), faces(splits.face_file);
  int empty = 0;
  for (const auto& batch : batches) {
    check_contents(batch, "cal-ltcc", body);
    check_contents(batch, "adaface", faces);
    CHECK(batch.clips.at("cal-ltcc").size(2) == 1);
    const int64_t t = batch.clips.at("adaface").size(2);
    CHECK(t <= 1);
    empty += t == 0;
  }
  CHECK(empty > 0);
}

TEST_CASE("the same seed gives the same batches with 1 and 3 workers", "[data][parity]") {
  const auto splits = qme::data::read_ccvid(kRoot);
  SECTION("test clips") {
    LoaderOptions options;
    options.models = {"adaface", "cal-ccvid"};
    options.batch_size = 2;
    options.seed = 5;
    const auto clips = qme::data::test_clips(splits.gallery).clips;
    check_same(load(splits, clips, options, 1), load(splits, clips, options, 3));
  }
  SECTION("training samples") {
    LoaderOptions options;
    options.models = {"adaface", "biggait", "cal-ccvid"};
    options.mode = LoaderMode::kTrain;
    options.batch_size = 3;
    options.seed = 1;
    options.epoch = 2;
    const auto dense = qme::data::dense_samples(splits.train, 8);
    const auto one = load(splits, dense, options, 1);
    check_same(one, load(splits, dense, options, 3));
    options.seed = 2;
    const auto other = load(splits, dense, options, 2);
    REQUIRE(other.size() == one.size());
    CHECK(other.front().samples != one.front().samples);
  }
}

TEST_CASE("training batches: sampler order, fixed clip length, padded faces, drop_last", "[data][parity]") {
  const auto splits = qme::data::read_ccvid(kRoot);
  const auto dense = qme::data::dense_samples(splits.train, 8);
  LoaderOptions options;
  options.models = {"adaface", "cal-ccvid"};
  options.mode = LoaderMode::kTrain;
  options.batch_size = 4;
  options.clip_len = 4;
  options.seed = 3;
  const auto order = qme::data::IdentitySampler(dense, 1, 3).epoch_indices(0);
  ClipLoader loader(LoaderSource::of(splits), dense, options);
  CHECK(loader.num_batches() == static_cast<int64_t>(order.size()) / 4);
  CHECK(loader.num_samples() == loader.num_batches() * 4);
  const auto batches = drain(loader);
  REQUIRE(static_cast<int64_t>(batches.size()) == loader.num_batches());
  size_t position = 0;
  bool some_face = false;
  for (const auto& batch : batches) {
    CHECK(batch.clips.at("cal-ccvid").sizes() == torch::IntArrayRef({4, 3, 4, 384, 192}));
    CHECK(batch.clips.at("adaface").sizes() == torch::IntArrayRef({4, 3, 4, 112, 112}));
    CHECK(batch.masks.at("cal-ccvid").all().item<bool>());
    for (size_t r = 0; r < 4; ++r, ++position) {
      const int64_t sample = order[position];
      CHECK(batch.samples[r] == sample);
      CHECK(batch.pids[static_cast<int64_t>(r)].item<int64_t>() == dense[static_cast<size_t>(sample)].pid);
      // Frames come from the sample, in temporal order.
      const auto& frames = dense[static_cast<size_t>(sample)].frames;
      const auto& keys = batch.keys.at("cal-ccvid")[r];
      REQUIRE(keys.size() == 4);
      for (const auto& key : keys) CHECK(std::find(frames.begin(), frames.end(), key) != frames.end());
      CHECK(std::is_sorted(keys.begin(), keys.end()));
      // Training pads faces from the same pid: a row either has 4 faces or none could be found.
      const auto& faces = batch.keys.at("adaface")[r];
      CHECK((faces.empty() || faces.size() == 4));
      some_face = some_face || !faces.empty();
      for (const auto& face : faces)
        CHECK(face.find(dense[static_cast<size_t>(sample)].frames[0].substr(0, 13)) != std::string::npos);
    }
  }
  CHECK(some_face);
}

TEST_CASE("LTCC training: one-frame clips, augmented, faces from the same id", "[data][parity]") {
  const auto splits = qme::data::read_ltcc(kRoot);
  LoaderOptions options;
  options.models = {"adaface", "cal-ltcc"};
  options.mode = LoaderMode::kTrain;
  options.batch_size = 2;
  options.seed = 4;
  const auto batches = load(splits, splits.train, options, 2);
  check_same(batches, load(splits, splits.train, options, 1));
  REQUIRE(!batches.empty());
  const qme::io::H5Reader body(splits.body_file);
  const auto test = qme::data::test_transform("cal-ltcc");
  int augmented = 0, faces = 0;
  for (const auto& batch : batches) {
    CHECK(batch.clips.at("cal-ltcc").sizes() == torch::IntArrayRef({2, 3, 1, 384, 192}));
    CHECK(batch.clips.at("adaface").sizes() == torch::IntArrayRef({2, 3, 1, 112, 112}));
    for (int64_t r = 0; r < 2; ++r) {
      const auto& sample = splits.train[static_cast<size_t>(batch.samples[static_cast<size_t>(r)])];
      const auto frame = batch.clips.at("cal-ltcc")[r].select(1, 0).contiguous();
      const std::vector<float> got(frame.data_ptr<float>(), frame.data_ptr<float>() + frame.numel());
      augmented += got != test.apply(read(body, sample.frames[0]));
      for (const auto& face : batch.keys.at("adaface")[static_cast<size_t>(r)]) {
        ++faces;
        // The image's own face, or one of an image of the same id ("PPP_...").
        const std::string id = sample.frames[0].substr(sample.frames[0].find('/') + 1, 3);
        CHECK(face.substr(face.find('/') + 1, 3) == id);
      }
    }
  }
  CHECK(augmented > 0);
  CHECK(faces > 0);
}

TEST_CASE("a worker's error reaches the consumer in order, naming the file and key", "[data][parity]") {
  const auto splits = qme::data::read_ccvid(kRoot);
  auto clips = qme::data::test_clips(splits.query).clips;
  REQUIRE(clips.size() >= 4);
  clips[3].frames[5] = "session3/101_01/99999";
  LoaderOptions options;
  options.models = {"cal-ccvid"};
  options.batch_size = 1;
  options.num_workers = 3;
  ClipLoader loader(LoaderSource::of(splits), clips, options);
  for (int i = 0; i < 3; ++i) CHECK(loader.next().has_value());
  for (int again = 0; again < 2; ++again) {
    try {
      loader.next();
      FAIL("no error");
    } catch (const qme::InputError& e) {
      CHECK_THAT(e.what(), Catch::Contains("ccvid.h5") && Catch::Contains("session3/101_01/99999"));
    }
  }
}

TEST_CASE("destroying a loader mid-pass or before its first batch returns", "[data][parity]") {
  const auto splits = qme::data::read_ccvid(kRoot);
  const auto one_pass = qme::data::test_clips(splits.gallery).clips;
  std::vector<qme::data::Tracklet> many;
  for (int i = 0; i < 40; ++i) many.insert(many.end(), one_pass.begin(), one_pass.end());
  LoaderOptions options;
  options.models = {"cal-ccvid"};
  options.batch_size = 2;
  options.num_workers = 3;
  options.prefetch = 2;
  const auto start = std::chrono::steady_clock::now();
  {
    ClipLoader loader(LoaderSource::of(splits), many, options);
    CHECK(loader.next().has_value());
  }
  { ClipLoader untouched(LoaderSource::of(splits), many, options); }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));
}

TEST_CASE("progress is reported after every batch up to the pass's size", "[data][parity]") {
  const auto splits = qme::data::read_ccvid(kRoot);
  const auto clips = qme::data::test_clips(splits.query).clips;
  std::vector<std::pair<int64_t, int64_t>> calls;
  LoaderOptions options;
  options.models = {"cal-ccvid"};
  options.batch_size = 4;
  options.progress = [&calls](int64_t done, int64_t total) { calls.emplace_back(done, total); };
  ClipLoader loader(LoaderSource::of(splits), clips, options);
  drain(loader);
  REQUIRE(static_cast<int64_t>(calls.size()) == loader.num_batches());
  for (size_t i = 0; i < calls.size(); ++i) {
    CHECK(calls[i].second == static_cast<int64_t>(clips.size()));
    CHECK(calls[i].first ==
          std::min<int64_t>(4 * static_cast<int64_t>(i + 1), static_cast<int64_t>(clips.size())));
  }
}

TEST_CASE("bad loader options and inputs are refused with a clear error", "[data][parity]") {
  const auto splits = qme::data::read_ccvid(kRoot);
  const auto clips = qme::data::test_clips(splits.query).clips;
  LoaderOptions options;
  options.models = {"resnet"};
  CHECK_THROWS_AS(ClipLoader(LoaderSource::of(splits), clips, options), qme::InputError);
  options.models = {"cal-ccvid"};
  options.batch_size = 0;
  CHECK_THROWS_AS(ClipLoader(LoaderSource::of(splits), clips, options), qme::UsageError);
  options.batch_size = 1;
  auto no_faces = LoaderSource::of(splits);
  no_faces.face_file.clear();
  options.models = {"adaface"};
  CHECK_THROWS_WITH(ClipLoader(no_faces, clips, options), Catch::Contains("face"));
  auto missing = LoaderSource::of(splits);
  missing.body_file += ".missing";
  options.models = {"cal-ccvid"};
  CHECK_THROWS_WITH(ClipLoader(missing, clips, options), Catch::Contains(".missing"));
  auto empty = clips;
  empty[1].frames.clear();
  CHECK_THROWS_WITH(ClipLoader(LoaderSource::of(splits), empty, options), Catch::Contains("sample 1"));
}
