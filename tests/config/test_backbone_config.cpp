
#include <catch2/catch.hpp>
#include <sstream>
#include <string>

#include "qme/config/backbone_config.hpp"
#include "qme/config/yaml_node.hpp"
#include "qme/core/error.hpp"
#include "qme/models/model_spec.hpp"
#include "support/log_capture.hpp"
#include "support/test_support.hpp"

#ifndef QME_SOURCE_DIR
#error "QME_SOURCE_DIR must name the repository root"
#endif

using Catch::Matchers::Contains;
using qme::config::BackboneConfig;
using qme::config::load_backbone_config;

namespace {

std::string shipped(const std::string& dataset) {
  return std::string(QME_SOURCE_DIR) + "/configs/backbone_cfg-" + dataset + ".yaml";
}

// Routes spdlog's default logger into a string for the lifetime of the object.
const char* const kValid =
    "model_list:\n"
    "  - adaface\n"
    "  - cal-ltcc\n"
    "  - aim\n"
    "HF_TOKEN: 'token'\n"
    "adaface_cache_path: /ckpt/adaface\n"
    "qe_ckpt_path: qe.pth\n";

// Loads `text` from a temp file and returns the InputError message (fails if none is thrown).
std::string load_error(const std::string& text, std::string* file = nullptr) {
  qme::test::TempDir dir;
  const std::string path = dir.write("bad_backbone.yaml", text);
  if (file != nullptr) *file = path;
  const std::string message = qme::test::message_of<qme::InputError>([&] { load_backbone_config(path); });
  if (message.empty()) FAIL("no InputError for:\n" << text);
  return message;
}

}  // namespace

TEST_CASE("shipped backbone configs load with upstream's model lists", "[config]") {
  qme::test::LogCapture log;
  const auto ccvid = load_backbone_config(shipped("ccvid"));
  const auto ltcc = load_backbone_config(shipped("ltcc"));
  const auto mevid = load_backbone_config(shipped("mevid"));
  CHECK(ccvid.model_list == std::vector<std::string>{"adaface", "biggait", "cal-ccvid"});
  CHECK(ltcc.model_list == std::vector<std::string>{"adaface", "cal-ltcc", "aim"});
  CHECK(mevid.model_list == std::vector<std::string>{"adaface", "cal-mevid", "agrl"});
  CHECK(log.text().empty());  // no unknown keys in what we ship
  CHECK(ccvid.source == shipped("ccvid"));
}

TEST_CASE("shipped backbone configs keep upstream's paths", "[config]") {
  const auto ccvid = load_backbone_config(shipped("ccvid"));
  CHECK(ccvid.hf_token == "YOUR_HF_TOKEN");
  CHECK(ccvid.model_paths.at("adaface").cache_path == "/YOUR_PATH/checkpoints/adaface");
  CHECK(ccvid.model_paths.at("kprpe").cache_path == "/YOUR_PATH/checkpoints/kprpe");
  CHECK(ccvid.model_paths.at("biggait").backbone_path ==
        "./checkpoints/BigGait/BigGait__Dinov2_Gaitbase_Frame30-40000.pt");
  CHECK(ccvid.model_paths.at("biggait").config_path == "./WBModules/BigGait/configs/BigGait.yaml");
  CHECK(ccvid.model_paths.at("cal-ccvid").backbone_path == "./checkpoints/CAL/ltcc-checkpoint.pth.tar");
  CHECK(ccvid.model_paths.at("cal-mevid").config_path == "./WBModules/CAL/configs/c2dres50_ce_cal.yaml");
  CHECK(ccvid.model_paths.at("aim").config_path == "./WBModules/AIM_CCReID/configs/res50_cels_cal.yaml");
  CHECK(ccvid.model_paths.at("agrl").backbone_path == "./checkpoints/AGRL/AGRL_best_model.pth.tar");
  CHECK(ccvid.model_paths.at("agrl").config_path.empty());
  CHECK(ccvid.qe_ckpt_path == "checkpoints/QME/fgb_mod_qe-adaface-t1r3-0.00-3.pth");
  CHECK(ccvid.face_weights == std::string("./test_feats/mod_qe_adaface-t1r3_ccvid_3.h5"));

  const auto ltcc = load_backbone_config(shipped("ltcc"));
  CHECK(ltcc.qe_ckpt_path == "checkpoints/QME/fgb_mod_qe-adaface_t1r3-ltcc-6000.pth");
  const auto mevid = load_backbone_config(shipped("mevid"));
  CHECK(mevid.qe_ckpt_path == "checkpoints/QME/fgb_mod_qe-adaface_t1r20-mevid-6000.pth");
}

TEST_CASE("default backbone config path follows the dataset", "[config]") {
  CHECK(qme::config::default_backbone_config_path("ltcc") == "configs/backbone_cfg-ltcc.yaml");
  CHECK(qme::config::known_datasets() == std::vector<std::string>{"ccvid", "ltcc", "mevid"});
}

TEST_CASE("a missing model_list names the file and the key", "[config]") {
  std::string file;
  const std::string message = load_error("HF_TOKEN: x\n", &file);
  CHECK_THAT(message, Contains(file));
  CHECK_THAT(message, Contains("'model_list' is required"));
}

TEST_CASE("a model_list that is not a list names the file, the key and the value", "[config]") {
  std::string file;
  const std::string message = load_error("model_list: adaface\n", &file);
  CHECK_THAT(message, Contains(file + ":1"));
  CHECK_THAT(message, Contains("'model_list' must be a list of strings, got 'adaface'"));
}

TEST_CASE("an unknown model name is refused with the known names", "[config]") {
  std::string file;
  const std::string message = load_error("model_list: [adaface, cal]\n", &file);
  CHECK_THAT(message, Contains(file));
  CHECK_THAT(message, Contains("'model_list'"));
  CHECK_THAT(message, Contains("unknown model 'cal'"));
  CHECK_THAT(message, Contains("adaface, arcface, kprpe, biggait, cal-ccvid, cal-ltcc, "
                               "cal-mevid, aim, agrl"));
}

TEST_CASE("an empty or repetitive model_list is refused", "[config]") {
  CHECK_THAT(load_error("model_list: []\n"), Contains("'model_list' must name at least one"));
  CHECK_THAT(load_error("model_list: [aim, adaface, aim]\n"), Contains("'model_list' names 'aim' twice"));
}

TEST_CASE("a path key of the wrong type names the key and its line", "[config]") {
  std::string file;
  const std::string message = load_error("model_list: [aim]\naim_backbone_path:\n  - a\n  - b\n", &file);
  CHECK_THAT(message, Contains(file + ":3"));
  CHECK_THAT(message, Contains("'aim_backbone_path' must be a string, got '[a, b]'"));
}

TEST_CASE("an unknown backbone key only warns", "[config]") {
  qme::test::TempDir dir;
  const std::string path = dir.write("typo.yaml", std::string(kValid) + "qe_ckpt_pth: x\n");
  qme::test::LogCapture log;
  const BackboneConfig config = load_backbone_config(path);
  CHECK(config.model_list.size() == 3);
  CHECK_THAT(log.text(), Contains(path));
  CHECK_THAT(log.text(), Contains("unknown key 'qe_ckpt_pth'"));
  CHECK_THAT(log.text(), Contains("did you mean 'qe_ckpt_path'"));
}

TEST_CASE("a YAML syntax error names the file and the line", "[config]") {
  std::string file;
  const std::string message = load_error("model_list: [adaface\nqe_ckpt_path: x\n", &file);
  CHECK_THAT(message, Contains(file));
  CHECK_THAT(message, Contains("invalid YAML at line 2"));
}

TEST_CASE("a missing backbone config file is named", "[config]") {
  qme::test::TempDir dir;
  const std::string path = dir.path("nowhere.yaml");
  try {
    load_backbone_config(path);
    FAIL("no error for a missing file");
  } catch (const qme::InputError& e) {
    CHECK_THAT(e.what(), Contains(path));
    CHECK_THAT(e.what(), Contains("does not exist"));
  }
}

TEST_CASE("empty, non-mapping and duplicate-key files are refused", "[config]") {
  CHECK_THAT(load_error(""), Contains("is empty"));
  CHECK_THAT(load_error("- adaface\n"), Contains("'key: value' lines"));
  CHECK_THAT(load_error("model_list: [aim]\nqe_ckpt_path: a\nqe_ckpt_path: b\n"),
             Contains("'qe_ckpt_path' appears more than once"));
}

TEST_CASE("optional backbone keys default to empty", "[config]") {
  const auto config = qme::config::parse_backbone_config("model_list: [aim]\n", "inline");
  CHECK(config.source == "inline");
  CHECK(config.hf_token.empty());
  CHECK(config.model_paths.empty());
  CHECK(config.qe_ckpt_path.empty());
  CHECK_FALSE(config.face_weights.has_value());
}

TEST_CASE("the face model for the quality estimator is adaface or kprpe", "[config]") {
  using qme::config::parse_backbone_config;
  using qme::config::quality_face_model;
  CHECK(quality_face_model(parse_backbone_config("model_list: [aim, kprpe]", "a")) == "kprpe");
  CHECK_FALSE(quality_face_model(parse_backbone_config("model_list: [arcface, aim]", "b")));
  CHECK(qme::models::is_face_model("arcface"));
  CHECK_FALSE(qme::models::is_face_model("biggait"));
}

TEST_CASE("a backbone config survives to_yaml, less its token", "[config]") {
  const auto original = load_backbone_config(shipped("ccvid"));
  const auto copy = qme::config::parse_backbone_config(to_yaml(original), "copy");
  CHECK(copy.model_list == original.model_list);
  CHECK(copy.qe_ckpt_path == original.qe_ckpt_path);
  CHECK(copy.face_weights == original.face_weights);
  REQUIRE(copy.model_paths.size() == original.model_paths.size());
  for (const auto& [model, paths] : original.model_paths) {
    CHECK(copy.model_paths.at(model).cache_path == paths.cache_path);
    CHECK(copy.model_paths.at(model).backbone_path == paths.backbone_path);
    CHECK(copy.model_paths.at(model).config_path == paths.config_path);
  }
  CHECK(copy.hf_token.empty());
  CHECK_THAT(to_yaml(original), !Contains("YOUR_HF_TOKEN"));
}

TEST_CASE("the torchscript path key is read and written back", "[config]") {
  const auto config = qme::config::parse_backbone_config(
      "model_list: [adaface, biggait]\nadaface_torchscript_path: ts/adaface.pt\n"
      "biggait_backbone_path: b.pt\nbiggait_torchscript_path: 'ts/big gait.pt'\n",
      "ts.yaml");
  CHECK(config.model_paths.at("adaface").torchscript_path == "ts/adaface.pt");
  CHECK(config.model_paths.at("biggait").torchscript_path == "ts/big gait.pt");
  CHECK(config.model_paths.at("biggait").backbone_path == "b.pt");
  const auto copy = qme::config::parse_backbone_config(to_yaml(config), "copy");
  CHECK(copy.model_paths.at("adaface").torchscript_path == "ts/adaface.pt");
  CHECK(copy.model_paths.at("biggait").torchscript_path == "ts/big gait.pt");
}

// Found by the config fuzzer: a line break in a single-quoted scalar reads back as a space.
TEST_CASE("paths with quotes, line breaks and control characters survive to_yaml", "[config]") {
  const std::string odd = "dir\nwith 'quotes' \"and\" \\ tab\t bell\x07 and # : marks.pt";
  auto config = qme::config::parse_backbone_config("model_list: [adaface]\n", "odd.yaml");
  config.model_paths["adaface"].torchscript_path = odd;
  config.qe_ckpt_path = "plain/path:with#marks.pth";
  const std::string yaml = to_yaml(config);
  const auto copy = qme::config::parse_backbone_config(yaml, "copy");
  CHECK(copy.model_paths.at("adaface").torchscript_path == odd);
  CHECK(copy.qe_ckpt_path == "plain/path:with#marks.pth");
  CHECK(to_yaml(copy) == yaml);
  CHECK(qme::config::yaml_quoted("it's") == "'it''s'");
  CHECK(qme::config::yaml_quoted("a\nb") == "\"a\\x0ab\"");
}
