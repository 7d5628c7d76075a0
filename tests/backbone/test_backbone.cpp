// TorchScript backbones (qme::backbone::Backbone): the contract checks, the per-family clip
// pooling and the QE statistics, on tiny modules built in C++.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include "qme/backbone/backbone.hpp"
#include "qme/config/backbone_config.hpp"
#include "qme/core/error.hpp"
#include "qme/data/transforms.hpp"
#include "qme/fusion/quality_estimator.hpp"
#include "support/test_support.hpp"
#include "support/tiny_backbones.hpp"

using Catch::Matchers::Contains;
using qme::backbone::Backbone;
using qme::backbone::backbone_spec;

namespace {

torch::Tensor random_frames(int64_t n, const std::string& model, uint64_t seed = 3) {
  const auto& spec = backbone_spec(model);
  torch::manual_seed(seed);
  return torch::randn({n, 3, spec.height, spec.width});
}

Backbone tiny(const qme::test::TempDir& dir, const std::string& model) {
  return Backbone::load(qme::test::save_tiny_backbone(dir.path(model + ".pt"), model), model);
}

}  // namespace

TEST_CASE("every upstream model has a backbone spec matching its test transform", "[backbone]") {
  for (const auto& model : qme::config::known_models()) {
    INFO(model);
    const auto& spec = backbone_spec(model);
    CHECK(spec.name == model);
    const auto transform = qme::data::test_transform(spec.name);
    CHECK(spec.height == transform.height);
    CHECK(spec.width == transform.width);
    CHECK(spec.face_input() == qme::models::is_face_model(model));
  }
  CHECK(backbone_spec("cal-ccvid").input_attribute() == "N,3,384,192");
  CHECK(backbone_spec("cal-mevid").input_attribute() == "B,3,T,256,128");
  CHECK(backbone_spec("agrl").input_attribute() == "B,T,3,256,128");
  CHECK(backbone_spec("adaface").qe_width() == 2048);
  CHECK(backbone_spec("cal-ltcc").qe_width() == 3072);
  CHECK(backbone_spec("aim").qe_width() == 0);
  CHECK_THAT(qme::test::message_of<qme::InputError>([] { backbone_spec("cal"); }),
             Contains("unknown model 'cal'"));
}

TEST_CASE("a missing or unreadable TorchScript file is a clear error", "[backbone]") {
  qme::test::TempDir dir;
  const std::string missing = dir.path("nope/adaface.pt");
  CHECK_THAT(qme::test::message_of<qme::InputError>([&] { Backbone::load(missing, "adaface"); }),
             Contains(missing + " does not exist"));
  const std::string garbage = dir.write("garbage.pt", "not a zip archive");
  CHECK_THAT(qme::test::message_of<qme::InputError>([&] { Backbone::load(garbage, "adaface"); }),
             Contains("garbage.pt: not a TorchScript file"));
}

TEST_CASE("a backbone of another family or input is refused", "[backbone]") {
  qme::test::TempDir dir;
  const auto cal = qme::test::save_tiny_backbone(dir.path("cal.pt"), "cal-ccvid");
  auto message = qme::test::message_of<qme::InputError>([&] { Backbone::load(cal, "aim"); });
  CHECK_THAT(message, Contains("family 'cal-image'"));
  CHECK_THAT(message, Contains("model 'aim' needs family 'aim', input N,3,384,192"));
  CHECK_THAT(message, Contains("aim_torchscript_path"));
  const auto wrong_size = qme::test::save_tiny_backbone(dir.path("small.pt"), "cal-ccvid", "", "N,3,256,128");
  message = qme::test::message_of<qme::InputError>([&] { Backbone::load(wrong_size, "cal-ltcc"); });
  CHECK_THAT(message, Contains("input N,3,256,128"));
  // cal-ccvid and cal-ltcc share a family: the same export serves both.
  CHECK_NOTHROW(Backbone::load(cal, "cal-ltcc"));

  torch::jit::Module bare("Bare");
  bare.define("def forward(self, x: Tensor) -> Dict[str, Tensor]:\n    return {'embedding': x}\n");
  bare.save(dir.path("bare.pt"));
  message = qme::test::message_of<qme::InputError>([&] { Backbone::load(dir.path("bare.pt"), "aim"); });
  CHECK_THAT(message, Contains("no 'qme_family' attribute: it is not a qme backbone export"));
}

TEST_CASE("frame models average their frames per clip, empty clips are NaN", "[backbone]") {
  qme::test::TempDir dir;
  auto backbone = tiny(dir, "cal-ccvid");
  const auto frames = random_frames(5, "cal-ccvid");
  const auto out = backbone.clips(frames, {2, 0, 3}, true);
  const auto per_frame = backbone.frames(frames, true);
  REQUIRE(out.features.sizes() == torch::IntArrayRef({3, 48}));
  CHECK(torch::allclose(out.features[0], per_frame.features.narrow(0, 0, 2).mean(0)));
  CHECK(torch::isnan(out.features[1]).all().item<bool>());
  CHECK(torch::allclose(out.features[2], per_frame.features.narrow(0, 2, 3).mean(0)));
  // One row of QE statistics per input frame, whatever the clips.
  REQUIRE(out.qe_stats.sizes() == torch::IntArrayRef({5, 3072}));
  CHECK(torch::equal(out.qe_stats, per_frame.qe_stats));
  CHECK(backbone.feature_width() == 48);
}

TEST_CASE("body QE statistics interleave per channel mean and unbiased std of layer2 then layer3",
          "[backbone]") {
  qme::test::TempDir dir;
  auto backbone = tiny(dir, "cal-ltcc");
  const auto frame = random_frames(1, "cal-ltcc");
  const auto raw = backbone.forward(frame);
  const auto stats = backbone.frames(frame, true).qe_stats;
  const auto l2 = raw.at("layer2")[0].reshape({512, -1});
  const auto l3 = raw.at("layer3")[0].reshape({1024, -1});
  CHECK(stats[0][2 * 7].item<float>() == Approx(l2[7].mean().item<float>()).epsilon(1e-5));
  CHECK(stats[0][2 * 7 + 1].item<float>() == Approx(l2[7].std().item<float>()).epsilon(1e-5));
  CHECK(stats[0][2 * (512 + 9)].item<float>() == Approx(l3[9].mean().item<float>()).epsilon(1e-5));
  CHECK(stats[0][2 * (512 + 9) + 1].item<float>() == Approx(l3[9].std().item<float>()).epsilon(1e-5));
}

TEST_CASE("face QE statistics are the face quality estimator's, [block][stat][channel]", "[backbone]") {
  qme::test::TempDir dir;
  auto backbone = tiny(dir, "adaface");
  const auto frames = random_frames(3, "adaface");
  const auto raw = backbone.forward(frames);
  const auto stats = backbone.frames(frames, true).qe_stats;
  REQUIRE(stats.sizes() == torch::IntArrayRef({3, 2048}));
  CHECK(
      torch::equal(stats, qme::fusion::FaceQualityEstimatorImpl::style_statistics(raw.at("intermediates"))));
  const auto block1 = raw.at("intermediates")[2][1];  // frame 2, block 16: (196, 512)
  CHECK(stats[2][1024 + 5].item<float>() == Approx(block1.select(1, 5).mean().item<float>()).margin(1e-6));
  CHECK(stats[2][1024 + 512 + 5].item<float>() ==
        Approx(block1.select(1, 5).std().item<float>()).epsilon(1e-5));
}

TEST_CASE("biggait takes the max over frames, then fc_bin per part", "[backbone]") {
  qme::test::TempDir dir;
  auto backbone = tiny(dir, "biggait");
  const auto frames = random_frames(4, "biggait");
  const auto raw = backbone.forward(frames).at("embedding");  // (4, 8, 16)
  const auto out = backbone.clips(frames, {3, 1}, false).features;
  REQUIRE(out.sizes() == torch::IntArrayRef({2, 64}));
  const auto fc_bin = qme::test::fixed_weights({16, 8, 4}, 0.6);
  const auto pooled = std::get<0>(raw.narrow(0, 0, 3).max(0));  // (8, 16)
  for (int64_t c = 0; c < 4; ++c) {
    for (int64_t p = 0; p < 16; ++p) {
      const float expected = (pooled.select(1, p) * fc_bin[p].select(1, c)).sum().item<float>();
      CHECK(out[0][c * 16 + p].item<float>() == Approx(expected).margin(1e-5));
    }
  }
}

TEST_CASE("clip models take whole clips in their own layout", "[backbone]") {
  qme::test::TempDir dir;
  for (const std::string model : {"cal-mevid", "agrl"}) {
    INFO(model);
    auto backbone = tiny(dir, model);
    const auto frames = random_frames(8 + 8 + 3, model);
    const auto out = backbone.clips(frames, {8, 8, 3}, true);
    REQUIRE(out.features.size(0) == 3);
    const auto& spec = backbone.spec();
    const auto clip = frames.narrow(0, 16, 3).unsqueeze(0);  // (1, T, 3, H, W)
    const auto direct = backbone
                            .forward(spec.layout == qme::backbone::InputLayout::kClipCTHW
                                         ? clip.permute({0, 2, 1, 3, 4}).contiguous()
                                         : clip)
                            .at("embedding");
    CHECK(torch::allclose(out.features[2], direct[0]));
    if (model == "cal-mevid") CHECK(out.qe_stats.sizes() == torch::IntArrayRef({19, 3072}));
    if (model == "agrl") CHECK_FALSE(out.qe_stats.defined());
    // A lone frame is a clip of frame_clip_length copies.
    const auto lone = backbone.frames(frames.narrow(0, 0, 2), false).features;
    const auto copies = backbone
                            .clips(frames.narrow(0, 0, 1)
                                       .expand({spec.frame_clip_length, 3, spec.height, spec.width})
                                       .contiguous(),
                                   {spec.frame_clip_length}, false)
                            .features;
    CHECK(torch::allclose(lone[0], copies[0]));
  }
}

TEST_CASE("a video's feature is the mean of its clips with a feature", "[backbone]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const auto clips = torch::tensor({1.f, 2.f, nan, nan, 3.f, 6.f, nan, nan}).reshape({4, 2});
  const auto videos = qme::backbone::video_means(clips, {{{0, 3}}, {{3, 4}}});
  CHECK(videos[0][0].item<float>() == 2.f);
  CHECK(videos[0][1].item<float>() == 4.f);
  CHECK(torch::isnan(videos[1]).all().item<bool>());
}

TEST_CASE("optimize_for_inference changes outputs by round-off only", "[backbone]") {
  qme::test::TempDir dir;
  const auto path = qme::test::save_tiny_backbone(dir.path("cal.pt"), "cal-ccvid");
  auto plain = Backbone::load(path, "cal-ccvid");
  qme::backbone::BackboneOptions options;
  options.optimize = true;
  auto fast = Backbone::load(path, "cal-ccvid", options);
  const auto frames = random_frames(2, "cal-ccvid");
  const auto a = plain.clips(frames, {2}, true);
  const auto b = fast.clips(frames, {2}, true);
  CHECK(torch::allclose(a.features, b.features, 1e-4, 1e-5));
  CHECK(torch::allclose(a.qe_stats, b.qe_stats, 1e-4, 1e-5));
}

TEST_CASE("CUDA is refused clearly when LibTorch has none", "[backbone]") {
  if (torch::cuda::is_available()) return;
  qme::test::TempDir dir;
  const auto path = qme::test::save_tiny_backbone(dir.path("a.pt"), "aim");
  qme::backbone::BackboneOptions options;
  options.device = "cuda";
  CHECK_THAT(qme::test::message_of<qme::UsageError>([&] { Backbone::load(path, "aim", options); }),
             Contains("no CUDA device"));
}
