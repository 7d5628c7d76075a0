// Test-feature and center extraction (qme::backbone, extraction.hpp) with tiny TorchScript
// backbones on the synthetic datasets of ../shared/fixtures/data/root: ids and order, NaN rows
// exactly for faceless videos, clip and video averaging against a hand computation, centers
// against the cached frames, and sharded runs against a single run, bit for bit.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "qme/backbone/backbone.hpp"
#include "qme/core/error.hpp"
#include "qme/data/datasets.hpp"
#include "qme/data/transforms.hpp"
#include "qme/formats/center_file.hpp"
#include "qme/formats/features_file.hpp"
#include "qme/formats/probe_quality_stats.hpp"
#include "qme/formats/training_frames.hpp"
#include "qme/io/hdf5_file.hpp"
#include "qme/pipeline/extraction.hpp"
#include "support/test_support.hpp"
#include "support/tiny_backbones.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using namespace qme::backbone;
using namespace qme::pipeline;

namespace {

const std::string kRoot = std::string(QME_FIXTURES_DIR) + "/data/root";

bool have_fixtures() {
  if (fs::exists(kRoot)) return true;
  WARN("no synthetic datasets at " << kRoot << ": extraction tests skipped");
  return false;
}

qme::config::BackboneConfig config_for(const qme::test::TempDir& dir, const std::string& model) {
  const auto path = qme::test::save_tiny_backbone(dir.path(model + ".pt"), model);
  return qme::config::parse_backbone_config(
      "model_list: [" + model + "]\n" + model + "_torchscript_path: '" + path + "'\n",
      dir.path("backbone_cfg.yaml"));
}

/// LTCC's fixture has 4 query images: batches of one image leave room for three shards.
TestExtractionOptions test_options(const qme::test::TempDir& dir, const std::string& model,
                                   const std::string& dataset, const std::string& out = "feats") {
  TestExtractionOptions options;
  options.model = model;
  options.dataset = dataset;
  options.root = kRoot;
  options.backbone = config_for(dir, model);
  options.feats_dir = dir.path(out);
  options.batch_frames = dataset == "ltcc" ? 1 : 16;
  options.optimize = false;
  return options;
}

CenterExtractionOptions center_options(const qme::test::TempDir& dir, const std::string& model,
                                       const std::string& dataset, const std::string& out = "centers") {
  CenterExtractionOptions options;
  options.model = model;
  options.dataset = dataset;
  options.root = kRoot;
  options.backbone = config_for(dir, model);
  options.save_path = dir.path(out);
  options.num_sample = 16;
  options.batch_frames = 16;
  options.optimize = false;
  return options;
}

bool has_face(const qme::io::H5Reader& faces, const std::vector<std::string>& frames) {
  for (const auto& frame : frames) {
    if (faces.has_group(frame) && !faces.list_group(frame).empty()) return true;
  }
  return false;
}

bool nan_row(const std::vector<float>& rows, int64_t dim, size_t i) {
  return std::isnan(rows[i * static_cast<size_t>(dim)]);
}

void check_labels(const qme::IdentityLabels& labels, const std::vector<qme::data::Tracklet>& videos) {
  REQUIRE(labels.size() == videos.size());
  for (size_t i = 0; i < videos.size(); ++i) {
    CHECK(labels.pids[i] == videos[i].pid);
    CHECK(labels.camids[i] == videos[i].camid);
    CHECK(labels.clothes_ids[i] == videos[i].clothes_id);
  }
}

/// Every dataset of two HDF5 files, compared value for value (bit patterns, NaN included).
void check_same_h5(const std::string& a, const std::string& b, const std::string& group = "/") {
  INFO(a << " vs " << b << " at " << group);
  qme::io::H5Reader ra(a), rb(b);
  const auto names = ra.list_group(group);
  REQUIRE(names == rb.list_group(group));
  for (const auto& name : names) {
    const std::string path = group == "/" ? name : group + "/" + name;
    if (ra.has_group(path)) {
      check_same_h5(a, b, path);
      continue;
    }
    INFO(path);
    REQUIRE(ra.shape(path) == rb.shape(path));
    if (name == "frame_keys") {
      CHECK(ra.read_strings(path) == rb.read_strings(path));
      continue;
    }
    const auto va = ra.read_float64(path), vb = rb.read_float64(path);
    REQUIRE(va.size() == vb.size());
    CHECK(std::memcmp(va.data(), vb.data(), va.size() * sizeof(double)) == 0);
  }
}

}  // namespace

TEST_CASE("face test features: ids in order, NaN exactly for videos without a face", "[backbone]") {
  if (!have_fixtures()) return;
  qme::test::TempDir dir;
  const auto result = extract_test_features(test_options(dir, "adaface", "ccvid"));
  const auto splits = qme::data::read_dataset("ccvid", kRoot);
  const auto features = qme::formats::read_test_features(result.features_path);
  CHECK(result.features_path == dir.path("feats") + "/adaface_ccvid_test.h5");
  CHECK(features.dim == 512);
  check_labels(features.query_labels, splits.query);
  check_labels(features.gallery_labels, splits.gallery);
  qme::io::H5Reader faces(splits.face_file);
  int64_t faceless = 0;
  for (size_t i = 0; i < splits.query.size(); ++i) {
    INFO("query " << i);
    CHECK(nan_row(features.query, 512, i) == !has_face(faces, splits.query[i].frames));
    faceless += has_face(faces, splits.query[i].frames) ? 0 : 1;
  }
  for (size_t i = 0; i < splits.gallery.size(); ++i) {
    INFO("gallery " << i);
    CHECK(nan_row(features.gallery, 512, i) == !has_face(faces, splits.gallery[i].frames));
    faceless += has_face(faces, splits.gallery[i].frames) ? 0 : 1;
  }
  CHECK(faceless > 0);  // the fixture has faceless tracklets (102_03)
  CHECK(result.nan_query + result.nan_gallery == faceless);
  // Whole rows: a row is all NaN or has no NaN.
  for (size_t i = 0; i < features.query.size(); ++i) {
    CHECK(std::isnan(features.query[i]) == nan_row(features.query, 512, i / 512));
  }

  // QE statistics: one row per query clip frame with a face, clip by clip.
  const auto stats = qme::formats::read_probe_quality_stats(result.qe_path);
  const auto clips = qme::data::test_clips(splits.query);
  REQUIRE(stats.num_clips() == static_cast<int64_t>(clips.clips.size()));
  std::vector<int64_t> expected_frame_clip;
  for (size_t c = 0; c < clips.clips.size(); ++c) {
    for (const auto& frame : clips.clips[c].frames) {
      if (has_face(faces, {frame})) expected_frame_clip.push_back(static_cast<int64_t>(c));
    }
  }
  CHECK(stats.frame_clip == expected_frame_clip);
  CHECK(stats.qe_stats.cols == 2048);
  for (size_t v = 0; v < clips.vid2clip_index.size(); ++v) {
    for (int64_t c = clips.vid2clip_index[v][0]; c < clips.vid2clip_index[v][1]; ++c) {
      CHECK(stats.clip_query[static_cast<size_t>(c)] == static_cast<int64_t>(v));
    }
  }
  CHECK(fs::exists(dir.path("feats") + "/adaface_ccvid_test.run.yaml"));
}

TEST_CASE("a video's feature is the mean of its clips' frame means, by hand", "[backbone]") {
  if (!have_fixtures()) return;
  qme::test::TempDir dir;
  const auto options = test_options(dir, "cal-ccvid", "ccvid");
  const auto result = extract_test_features(options);
  const auto features = qme::formats::read_test_features(result.features_path);
  CHECK(features.dim == 48);
  CHECK(result.qe_path.empty() == false);

  const auto splits = qme::data::read_dataset("ccvid", kRoot);
  const auto clips = qme::data::test_clips(splits.gallery);
  auto backbone = Backbone::load(options.backbone.model_paths.at("cal-ccvid").torchscript_path, "cal-ccvid");
  const auto transform = qme::data::test_transform("cal-ccvid");
  qme::io::H5Reader body(splits.body_file);
  size_t checked = 0;
  for (size_t v = 0; v < clips.vid2clip_index.size(); ++v) {
    const auto [first, end] = clips.vid2clip_index[v];
    if (end - first < 2) continue;  // videos of several clips, the padded last one included
    std::vector<double> video(48, 0.0);
    for (int64_t c = first; c < end; ++c) {
      const auto& frames = clips.clips[static_cast<size_t>(c)].frames;
      auto input = torch::empty({static_cast<int64_t>(frames.size()), 3, 384, 192});
      for (size_t f = 0; f < frames.size(); ++f) {
        qme::io::Shape shape;
        auto pixels = body.read_uint8(frames[f], &shape);
        transform.apply(
            qme::data::RgbImage(static_cast<int64_t>(shape[0]), static_cast<int64_t>(shape[1]), pixels),
            input[static_cast<int64_t>(f)].data_ptr<float>());
      }
      const auto per_frame = backbone.frames(input, false).features.to(torch::kFloat64);
      const auto clip = per_frame.mean(0);
      for (int64_t d = 0; d < 48; ++d)
        video[static_cast<size_t>(d)] += clip[d].item<double>() / (end - first);
    }
    for (int64_t d = 0; d < 48; ++d) {
      CHECK(features.gallery[v * 48 + static_cast<size_t>(d)] ==
            Approx(video[static_cast<size_t>(d)]).epsilon(1e-5));
    }
    ++checked;
  }
  CHECK(checked >= 2);
}

TEST_CASE("image and clip models on LTCC and MEVID", "[backbone]") {
  if (!have_fixtures()) return;
  qme::test::TempDir dir;
  {
    const auto result = extract_test_features(test_options(dir, "cal-ltcc", "ltcc"));
    const auto splits = qme::data::read_dataset("ltcc", kRoot);
    const auto features = qme::formats::read_test_features(result.features_path);
    check_labels(features.query_labels, splits.query);
    check_labels(features.gallery_labels, splits.gallery);
    CHECK(result.nan_query + result.nan_gallery == 0);
    const auto stats = qme::formats::read_probe_quality_stats(result.qe_path);
    CHECK(stats.qe_stats.rows == static_cast<int64_t>(splits.query.size()));  // one frame per image
    CHECK(stats.qe_stats.cols == 3072);
  }
  for (const std::string model : {"cal-mevid", "agrl", "biggait"}) {
    INFO(model);
    const auto result = extract_test_features(test_options(dir, model, "mevid"));
    const auto splits = qme::data::read_dataset("mevid", kRoot);
    const auto features = qme::formats::read_test_features(result.features_path);
    check_labels(features.query_labels, splits.query);
    CHECK(features.dim == (model == "cal-mevid" ? 32 : model == "agrl" ? 40 : 64));
    CHECK(result.nan_query + result.nan_gallery == 0);
    CHECK(result.qe_path.empty() == (model != "cal-mevid"));
  }
}

TEST_CASE("centers are the means of the cached training frames", "[backbone]") {
  if (!have_fixtures()) return;
  for (const std::string model : {"adaface", "cal-ccvid", "biggait"}) {
    INFO(model);
    qme::test::TempDir dir;
    const auto result = extract_centers(center_options(dir, model, "ccvid"));
    const auto splits = qme::data::read_dataset("ccvid", kRoot);
    const auto samples = qme::data::dense_samples(splits.train, 16);
    const auto cache = qme::formats::read_training_frames(result.training_frames_path);

    // One row per training frame, in order, with its sample and labels.
    std::vector<std::string> keys;
    std::vector<int64_t> sample_index;
    for (size_t s = 0; s < samples.size(); ++s) {
      for (const auto& f : samples[s].frames) {
        keys.push_back(f);
        sample_index.push_back(static_cast<int64_t>(s));
      }
    }
    CHECK(cache.frame_keys == keys);
    CHECK(cache.sample_index == sample_index);
    CHECK(cache.has_face.has_value() == (model == "adaface"));
    CHECK(cache.qe_stats.has_value() == (model != "biggait"));
    if (cache.has_face) {
      qme::io::H5Reader faces(splits.face_file);
      for (size_t i = 0; i < keys.size(); ++i)
        CHECK(((*cache.has_face)[i] == 1) == has_face(faces, {keys[i]}));
    }

    const auto frames = qme::formats::read_center_frames(result.frames_path);
    const auto centers = qme::formats::read_centers(result.centers_path);
    REQUIRE(centers.size() == static_cast<int64_t>(frames.size()));
    int64_t rows = 0;
    for (size_t k = 0; k < frames.size(); ++k) {
      const auto& key = frames[k].key;
      INFO("key " << qme::formats::center_key_text(key));
      // The cached rows of this key (frames with a face, for a face model).
      std::vector<int64_t> mine;
      std::set<int64_t> key_samples;
      for (int64_t i = 0; i < cache.size(); ++i) {
        if (cache.pids[i] != key.pid || cache.camids[i] != key.camid ||
            cache.clothes_ids[i] != key.clothes_id)
          continue;
        if (cache.has_face && (*cache.has_face)[static_cast<size_t>(i)] == 0) continue;
        mine.push_back(i);
        key_samples.insert(cache.sample_index[i]);
      }
      std::vector<double> mean(static_cast<size_t>(cache.feats.cols), 0.0);
      if (model == "biggait") {
        // Clip models: one row per sample, not per frame.
        CHECK(frames[k].frames.rows == static_cast<int64_t>(key_samples.size()));
      } else {
        REQUIRE(frames[k].frames.rows == static_cast<int64_t>(mine.size()));
        for (size_t r = 0; r < mine.size(); ++r) {
          CHECK(std::memcmp(frames[k].frames.row(static_cast<int64_t>(r)), cache.feats.row(mine[r]),
                            sizeof(float) * static_cast<size_t>(cache.feats.cols)) == 0);
        }
      }
      for (int64_t r = 0; r < frames[k].frames.rows; ++r) {
        for (int64_t d = 0; d < frames[k].frames.cols; ++d) {
          mean[static_cast<size_t>(d)] +=
              frames[k].frames.at(r, d) / static_cast<double>(frames[k].frames.rows);
        }
      }
      const auto pos = std::find(centers.keys.begin(), centers.keys.end(), key) - centers.keys.begin();
      REQUIRE(pos < centers.size());
      for (int64_t d = 0; d < centers.dim(); ++d) {
        CHECK(centers.features.at(pos, d) == Approx(mean[static_cast<size_t>(d)]).margin(1e-6));
      }
      rows += frames[k].frames.rows;
    }
    CHECK(rows == result.num_center_rows);
    if (model == "biggait") CHECK(rows == static_cast<int64_t>(samples.size()));
    if (model == "cal-ccvid") CHECK(rows == cache.size());
  }
}

TEST_CASE("sharded and merged test features equal a single run, bit for bit", "[backbone]") {
  if (!have_fixtures()) return;
  for (const auto& [model, dataset] : std::vector<std::pair<std::string, std::string>>{
           {"adaface", "ccvid"}, {"cal-ltcc", "ltcc"}, {"biggait", "mevid"}}) {
    INFO(model << " on " << dataset);
    qme::test::TempDir dir;
    const auto single = extract_test_features(test_options(dir, model, dataset, "single"));
    auto options = test_options(dir, model, dataset, "sharded");
    for (int64_t i = 0; i < 3; ++i) {
      options.shard = {3, i};
      const auto part = extract_test_features(options);
      CHECK(part.features_path == test_shard_path(options.feats_dir, model, dataset, {3, i}));
      CHECK(part.num_clips > 0);
    }
    CHECK_FALSE(fs::exists(qme::formats::test_features_path(options.feats_dir, model, dataset)));
    const auto merged = merge_test_shards(options.feats_dir, model, dataset, 3);
    check_same_h5(single.features_path, merged.features_path);
    if (!single.qe_path.empty()) check_same_h5(single.qe_path, merged.qe_path);
  }
}

TEST_CASE("sharded and merged centers equal a single run, bit for bit", "[backbone]") {
  if (!have_fixtures()) return;
  for (const std::string model : {"adaface", "biggait"}) {
    INFO(model);
    qme::test::TempDir dir;
    const auto single = extract_centers(center_options(dir, model, "ccvid", "single"));
    auto options = center_options(dir, model, "ccvid", "sharded");
    for (int64_t i = 0; i < 3; ++i) {
      options.shard = {3, i};
      extract_centers(options);
    }
    const auto merged = merge_center_shards(options.save_path, model, "ccvid", 16, 3);
    check_same_h5(single.frames_path, merged.frames_path);
    check_same_h5(single.centers_path, merged.centers_path);
    check_same_h5(single.training_frames_path, merged.training_frames_path);
  }
}

TEST_CASE("merging refuses missing or foreign parts", "[backbone]") {
  if (!have_fixtures()) return;
  qme::test::TempDir dir;
  auto options = test_options(dir, "aim", "ltcc");
  options.shard = {2, 0};
  extract_test_features(options);
  auto message =
      qme::test::message_of<qme::InputError>([&] { merge_test_shards(options.feats_dir, "aim", "ltcc", 2); });
  CHECK_THAT(message, Contains("aim_ltcc_test.shard1of2.h5 does not exist: run shard 1 of 2 first"));
  options.batch_frames = 2;  // another plan
  options.shard = {2, 1};
  extract_test_features(options);
  message =
      qme::test::message_of<qme::InputError>([&] { merge_test_shards(options.feats_dir, "aim", "ltcc", 2); });
  CHECK_THAT(message, Contains("shard1of2.h5: this part does not continue the parts before it"));
}

TEST_CASE("extraction names the missing config key and refuses a wrong backbone", "[backbone]") {
  if (!have_fixtures()) return;
  qme::test::TempDir dir;
  auto options = test_options(dir, "adaface", "ccvid");
  options.backbone = qme::config::parse_backbone_config("model_list: [adaface]\n", "cfg.yaml");
  CHECK_THAT(qme::test::message_of<qme::InputError>([&] { extract_test_features(options); }),
             Contains("cfg.yaml: 'adaface_torchscript_path' is not set: export the model"));
  const auto cal = qme::test::save_tiny_backbone(dir.path("cal.pt"), "cal-ccvid");
  options.backbone = qme::config::parse_backbone_config(
      "model_list: [adaface]\nadaface_torchscript_path: " + cal, "cfg.yaml");
  CHECK_THAT(qme::test::message_of<qme::InputError>([&] { extract_test_features(options); }),
             Contains("model 'adaface' needs family 'adaface'"));
  CHECK_FALSE(fs::exists(options.feats_dir));
  auto centers = center_options(dir, "adaface", "ccvid");
  centers.views = 0;
  CHECK_THAT(qme::test::message_of<qme::UsageError>([&] { extract_centers(centers); }),
             Contains("--views must be at least 1"));
}

TEST_CASE("augmented views: that many cache rows per frame, the same centers", "[backbone]") {
  if (!have_fixtures()) return;
  for (const std::string model : {"cal-ccvid", "adaface"}) {
    INFO(model);
    qme::test::TempDir dir;
    const auto one = extract_centers(center_options(dir, model, "ccvid", "one"));
    auto options = center_options(dir, model, "ccvid", "three");
    options.views = 3;
    const auto three = extract_centers(options);
    check_same_h5(one.frames_path, three.frames_path);
    check_same_h5(one.centers_path, three.centers_path);
    const auto plain = qme::formats::read_training_frames(one.training_frames_path);
    const auto views = qme::formats::read_training_frames(three.training_frames_path);
    REQUIRE(views.size() == 3 * plain.size());
    REQUIRE(views.qe_stats.has_value());
    CHECK(views.qe_stats->rows == views.size());
    int64_t differing = 0;
    for (int64_t i = 0; i < plain.size(); ++i) {
      for (int64_t v = 0; v < 3; ++v) {
        const int64_t r = 3 * i + v;
        CHECK(views.frame_keys[static_cast<size_t>(r)] == plain.frame_keys[static_cast<size_t>(i)]);
        CHECK(views.sample_index[static_cast<size_t>(r)] == plain.sample_index[static_cast<size_t>(i)]);
        if (plain.has_face) {
          CHECK((*views.has_face)[static_cast<size_t>(r)] == (*plain.has_face)[static_cast<size_t>(i)]);
        }
        differing +=
            std::memcmp(views.feats.row(r), plain.feats.row(i), sizeof(float) * plain.feats.cols) != 0;
      }
    }
    CHECK(differing > 0);  // flips (and blurs) change the features of some views
  }
}
