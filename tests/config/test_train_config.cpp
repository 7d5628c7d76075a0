
#include <catch2/catch.hpp>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>

#include "qme/config/train_config.hpp"
#include "qme/core/error.hpp"
#include "support/log_capture.hpp"
#include "support/test_support.hpp"

#ifndef QME_SOURCE_DIR
#error "QME_SOURCE_DIR must name the repository root"
#endif

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using qme::config::load_train_config;
using qme::config::TrainConfig;

namespace {

std::string shipped_train_config(const std::string& dataset) {
  return std::string(QME_SOURCE_DIR) + "/configs/train_cfg-" + dataset + ".yaml";
}

// Routes spdlog's default logger into a string for the lifetime of the object.
// Upstream's train_cfg-mevid.yaml values, one key per line.
const char* const kValidTrainConfig =
    "seed: 42\n"
    "lr_rate: 0.0001\n"
    "weight_decay: 0.01\n"
    "train_batch: 8\n"
    "num_sample: 1\n"
    "triplet_margin: 1\n"
    "num_experts: 2\n"
    "mlp_ratio: 3\n"
    "out_dim: 1\n"
    "dropout_rate: 0.1\n";

// kValidTrainConfig with `key`'s line replaced by `line` (or dropped when `line` is empty).
std::string with_line(const std::string& key, const std::string& line) {
  return std::regex_replace(kValidTrainConfig, std::regex("(^|\n)" + key + ": [^\n]*\n"),
                            line.empty() ? "$1" : "$1" + line + "\n");
}

// Loads `text` from a temp file and returns the InputError message (fails if none is thrown).
std::string train_config_error(const std::string& text, std::string* file = nullptr) {
  qme::test::TempDir dir;
  const std::string path = dir.write("bad_train.yaml", text);
  if (file != nullptr) *file = path;
  const std::string message = qme::test::message_of<qme::InputError>([&] { load_train_config(path); });
  if (message.empty()) FAIL("no InputError for:\n" << text);
  return message;
}

}  // namespace

TEST_CASE("shipped training configs hold upstream's values", "[config]") {
  for (const std::string dataset : {"ccvid", "ltcc", "mevid"}) {
    INFO(dataset);
    qme::test::LogCapture log;
    const TrainConfig config = load_train_config(shipped_train_config(dataset));
    CHECK(config.source == shipped_train_config(dataset));
    CHECK(config.seed == 42);
    CHECK(config.lr_rate == 1e-4);
    CHECK(config.weight_decay == 0.01);
    CHECK(config.train_batch == 8);
    CHECK(config.num_sample == 1);
    CHECK(config.triplet_margin == 1.0);
    CHECK(config.num_experts == 2);
    CHECK(config.mlp_ratio == 3);
    CHECK(config.out_dim == 1);
    CHECK(config.dropout_rate == 0.1);
    CHECK(config.modality_dropout == 0.5398);
    CHECK(config.norm_method == "none");
    CHECK(config.proj_dim == 512);
    CHECK(config.head_dim == 1536);
    CHECK(config.drop_path == 0.0);
    CHECK(config.tmax == 10);
    CHECK(log.text().empty());  // no unknown keys in what we ship
  }
}

TEST_CASE("the default training config path follows the dataset", "[config]") {
  CHECK(qme::config::default_train_config_path("mevid") == "configs/train_cfg-mevid.yaml");
}

TEST_CASE("every required training key is reported by name when missing", "[config]") {
  for (const std::string key : {"seed", "lr_rate", "weight_decay", "train_batch", "num_sample",
                                "triplet_margin", "num_experts", "mlp_ratio", "out_dim", "dropout_rate"}) {
    INFO(key);
    std::string file;
    const std::string message = train_config_error(with_line(key, ""), &file);
    CHECK_THAT(message, Contains(file));
    CHECK_THAT(message, Contains("'" + key + "' is required"));
  }
}

TEST_CASE("a training value of the wrong type names the file, line, key and value", "[config]") {
  std::string file;
  std::string message = train_config_error(with_line("lr_rate", "lr_rate: fast"), &file);
  CHECK_THAT(message, Contains(file + ":2"));
  CHECK_THAT(message, Contains("'lr_rate' must be a number, got 'fast'"));

  message = train_config_error(with_line("train_batch", "train_batch: 1.5"), &file);
  CHECK_THAT(message, Contains(file + ":4"));
  CHECK_THAT(message, Contains("'train_batch' must be an integer, got '1.5'"));

  // PyYAML reads a quoted number as a string, so qme does not convert it either.
  message = train_config_error(with_line("seed", "seed: '42'"));
  CHECK_THAT(message, Contains("'seed' must be an integer, got '42'"));

  message = train_config_error(with_line("seed", "seed:"));
  CHECK_THAT(message, Contains("'seed' is required"));
}

TEST_CASE("training values out of range are refused with the rule", "[config]") {
  CHECK_THAT(train_config_error(with_line("lr_rate", "lr_rate: 0")), Contains("'lr_rate' must be > 0"));
  CHECK_THAT(train_config_error(with_line("lr_rate", "lr_rate: .nan")), Contains("'lr_rate' must be > 0"));
  CHECK_THAT(train_config_error(with_line("weight_decay", "weight_decay: -0.1")),
             Contains("'weight_decay' must be >= 0, got -0.1"));
  CHECK_THAT(train_config_error(with_line("train_batch", "train_batch: 0")),
             Contains("'train_batch' must be >= 1, got 0"));
  CHECK_THAT(train_config_error(with_line("num_sample", "num_sample: -2")),
             Contains("'num_sample' must be >= 1"));
  CHECK_THAT(train_config_error(with_line("seed", "seed: -1")),
             Contains("'seed' must be between 0 and 4294967295"));
  CHECK_THAT(train_config_error(with_line("num_experts", "num_experts: 3")),
             Contains("'num_experts' must be 2"));
  CHECK_THAT(train_config_error(with_line("dropout_rate", "dropout_rate: 1.5")),
             Contains("'dropout_rate' must be a probability in [0, 1], got 1.5"));
  CHECK_THAT(train_config_error(std::string(kValidTrainConfig) + "modality_dropout: -0.1\n"),
             Contains("'modality_dropout' must be a probability in [0, 1]"));
  CHECK_THAT(train_config_error(std::string(kValidTrainConfig) + "norm_method: bn\n"),
             Contains("'norm_method' must be 'none'"));
}

TEST_CASE("without modality_dropout qme uses upstream's Phi(dropout_rate)", "[config]") {
  using qme::config::parse_train_config;
  CHECK(parse_train_config(kValidTrainConfig, "a").modality_dropout == Approx(0.539827837277029));
  CHECK(parse_train_config(with_line("dropout_rate", "dropout_rate: 0"), "b").modality_dropout == 0.5);
  CHECK(qme::config::standard_normal_cdf(0.0) == 0.5);
  CHECK(qme::config::standard_normal_cdf(-1.0) == Approx(0.158655253931457));
}

TEST_CASE("an unknown training key only warns, with a suggestion", "[config]") {
  qme::test::TempDir dir;
  const std::string path = dir.write("typo.yaml", std::string(kValidTrainConfig) + "modality_dropuot: 0\n");
  qme::test::LogCapture log;
  const TrainConfig config = load_train_config(path);
  CHECK(config.modality_dropout == Approx(0.539827837277029));  // the typo took no effect
  CHECK_THAT(log.text(), Contains(path + ":11"));
  CHECK_THAT(log.text(), Contains("unknown key 'modality_dropuot'"));
  CHECK_THAT(log.text(), Contains("did you mean 'modality_dropout'"));
}

TEST_CASE("a training config with a YAML syntax error names the file and the line", "[config]") {
  std::string file;
  const std::string message = train_config_error("seed: 42\nlr_rate: [0.1\n", &file);
  CHECK_THAT(message, Contains(file));
  CHECK_THAT(message, Contains("invalid YAML at line"));
}

TEST_CASE("a config nested beyond yaml-cpp's depth limit says so, not 'bad file'", "[config]") {
  std::string file;
  const std::string message = train_config_error(
      "seed: 42\nlr_rate: " + std::string(100000, '[') + std::string(100000, ']') + "\n", &file);
  CHECK_THAT(message, Contains(file));
  CHECK_THAT(message, Contains("levels deep at line 2") && Contains("a qme config is a flat list"));
  CHECK_THAT(message, !Contains("bad file"));
}

TEST_CASE("a missing training config file is named", "[config]") {
  qme::test::TempDir dir;
  const std::string path = dir.path("train_cfg-nowhere.yaml");
  try {
    load_train_config(path);
    FAIL("no error for a missing file");
  } catch (const qme::InputError& e) {
    CHECK_THAT(e.what(), Contains(path));
    CHECK_THAT(e.what(), Contains("does not exist"));
  }
  CHECK_THROWS_AS(load_train_config(fs::temp_directory_path().string()), qme::InputError);
}

TEST_CASE("a training config survives to_yaml with PyYAML-readable floats", "[config]") {
  TrainConfig config = qme::config::parse_train_config(kValidTrainConfig, "a");
  config.lr_rate = 1e-5;
  config.triplet_margin = 2.0;
  config.modality_dropout = 0.1 + 0.2;  // needs 17 digits to round-trip
  const std::string text = to_yaml(config);
  CHECK_THAT(text, Contains("lr_rate: 1.0e-05\n"));
  CHECK_THAT(text, Contains("triplet_margin: 2.0\n"));
  const TrainConfig copy = qme::config::parse_train_config(text, "copy");
  CHECK(copy.seed == config.seed);
  CHECK(copy.lr_rate == config.lr_rate);
  CHECK(copy.weight_decay == config.weight_decay);
  CHECK(copy.train_batch == config.train_batch);
  CHECK(copy.num_sample == config.num_sample);
  CHECK(copy.triplet_margin == config.triplet_margin);
  CHECK(copy.num_experts == config.num_experts);
  CHECK(copy.mlp_ratio == config.mlp_ratio);
  CHECK(copy.out_dim == config.out_dim);
  CHECK(copy.dropout_rate == config.dropout_rate);
  CHECK(copy.modality_dropout == config.modality_dropout);
  CHECK(copy.norm_method == config.norm_method);
  CHECK(copy.proj_dim == config.proj_dim);
  CHECK(copy.head_dim == config.head_dim);
  CHECK(copy.drop_path == config.drop_path);
  CHECK(copy.tmax == config.tmax);
}
