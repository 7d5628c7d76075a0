#include "qme/demo/demo_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "qme/backbone/backbone.hpp"
#include "qme/config/backbone_config.hpp"
#include "qme/config/train_config.hpp"
#include "qme/core/error.hpp"
#include "qme/data/datasets.hpp"
#include "qme/formats/face_weights.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/io/checkpoint.hpp"
#include "qme/io/hdf5_file.hpp"

namespace qme::demo {

namespace {

namespace fs = std::filesystem;

class Checker {
 public:
  /// `path` must exist and be a non-empty file.
  std::string file(const std::string& path) {
    if (!fs::is_regular_file(path)) throw InputError(path + " does not exist (written by the demo)");
    if (fs::file_size(path) == 0) throw InputError(path + " is empty");
    checked.push_back(path);
    return path;
  }

  /// Files in `dir` named `prefix*suffix`, sorted; InputError when there is none.
  std::vector<std::string> files_in(const std::string& dir, const std::string& prefix,
                                    const std::string& suffix, const std::string& what) {
    std::vector<std::string> found;
    if (fs::is_directory(dir)) {
      for (const auto& e : fs::directory_iterator(dir)) {
        const auto name = e.path().filename().string();
        if (name.size() >= prefix.size() + suffix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
          found.push_back(e.path().string());
        }
      }
    }
    if (found.empty()) throw InputError(dir + ": no " + prefix + "*" + suffix + " file (" + what + ")");
    std::sort(found.begin(), found.end());
    for (const auto& f : found) file(f);
    return found;
  }

  void h5(const std::string& path, const std::string& dataset = "") {
    const io::H5Reader reader(file(path));
    if (reader.list_group("/").empty()) throw InputError(path + ": the file is empty");
    if (!dataset.empty() && !reader.has_dataset(dataset)) throw InputError(path, dataset, "is missing");
  }

  nlohmann::json json(const std::string& path) {
    std::ifstream in(file(path));
    try {
      return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw InputError(path + ": not valid JSON (" + e.what() + ")");
    }
  }

  std::vector<std::string> checked;
};

const std::vector<std::string>& demo_models() {
  static const std::vector<std::string> models = {"adaface", "biggait", "cal-ccvid"};
  return models;
}

void check_inputs(Checker& c, const std::string& out, const std::string& ds) {
  const std::string data = out + "/data";
  c.h5(data + "/CCVID/ccvid.h5");
  c.h5(data + "/CCVID/ccvid_face.h5");
  for (const char* split : {"train", "query", "gallery"}) c.file(data + "/CCVID/" + split + ".txt");
  const auto splits = data::read_dataset(ds, data);
  if (splits.train.empty() || splits.query.empty() || splits.gallery.empty()) {
    throw InputError(data + "/CCVID: a split is empty");
  }
  const auto backbone = config::load_backbone_config(c.file(data + "/backbone_cfg-" + ds + ".yaml"));
  config::load_train_config(c.file(data + "/train_cfg-" + ds + ".yaml"));
  for (const auto& model : backbone.model_list) {
    const auto& paths = backbone.model_paths.at(model);
    backbone::Backbone::load(c.file(paths.torchscript_path), model);
  }
}

void check_features(Checker& c, const std::string& out, const std::string& ds) {
  for (const auto& m : demo_models()) {
    const std::string centers = out + "/mod_center_feat/" + m;
    c.h5(centers + "_center_n1_" + ds + "_CC.h5");
    c.h5(centers + "_center_" + ds + "_CC.h5");
    c.h5(centers + "_train_" + ds + ".h5", "feats");
    c.h5(out + "/test_feats/" + m + "_" + ds + "_test.h5", "qf");
    if (backbone::backbone_spec(m).qe != backbone::QeStatistics::kNone) {
      c.h5(out + "/test_feats/" + m + "_" + ds + "_test_qe.h5", "qe_stats");
    }
    c.json(out + "/reports/" + m + ".json");
  }
  const formats::ScoreMatrixFile scores(c.file(out + "/test_feats/scoremats_" + ds + ".h5"));
  for (const auto& m : demo_models()) scores.read_model(m);
  const auto queries = static_cast<int64_t>(scores.labels().query.size());
  for (const auto& w : c.files_in(out + "/test_feats", "mod_qe_", ".h5", "mod_qe's probe weights")) {
    formats::read_face_weights(w, queries);
  }
  formats::read_face_weights(c.file(out + "/runs/score_loss/face_weights_test.h5"), queries);
}

void check_training(Checker& c, const std::string& out) {
  for (const auto& p : c.files_in(out + "/checkpoints/MEME", "", ".pth", "the quality estimator"))
    io::read_checkpoint(p);
  for (const auto& p : c.files_in(out + "/checkpoints/QME", "", ".pth", "the QME fusion head"))
    io::read_checkpoint(p);
  for (const char* run : {"mod_qe", "score_loss"}) {
    const std::string dir = out + "/runs/" + run;
    c.file(dir + "/log.jsonl");
    c.json(dir + "/run.json");
    config::load_backbone_config(c.file(dir + "/backbone_cfg.yaml"));
    config::load_train_config(c.file(dir + "/train_cfg.yaml"));
  }
}

void check_tables(Checker& c, const std::string& out) {
  c.file(out + "/tables.txt");
  c.file(out + "/tables.md");
  c.file(out + "/tables.csv");
  if (fs::is_directory(out + "/plots")) {
    for (const char* name : {"roc", "det", "cmc", "scores_models", "quality"}) {
      for (const char* ext : {".png", ".svg", ".csv"}) c.file(out + "/plots/" + name + ext);
    }
  }
}

/// The table's column keys, as the analyses name their files: models, baselines, "qme".
std::vector<std::string> column_keys(const nlohmann::json& tables) {
  std::vector<std::string> keys;
  for (const auto& m : tables.at("models")) keys.push_back(m.get<std::string>());
  for (const auto& [name, report] : tables.at("fusion").items()) keys.push_back(name);
  if (tables.contains("qme")) keys.push_back("qme");
  return keys;
}

/// A column's first-match file must give its report's GR_top1: the rank lists rank as the
/// metrics do.
void check_first_matches(Checker& c, const std::string& path, double gr_top1) {
  std::ifstream in(c.file(path));
  std::string line;
  std::getline(in, line);
  int64_t valid = 0, first = 0;
  while (std::getline(in, line)) {
    const auto a = line.find(','), b = line.find(',', a + 1);
    const auto rank = line.substr(a + 1, b - a - 1);
    if (rank.empty()) continue;
    ++valid;
    first += rank == "1";
  }
  if (valid == 0 || static_cast<double>(first) / static_cast<double>(valid) != gr_top1)
    throw InputError(path, "first_match_rank_general", "does not give the report's GR_top1");
}

void check_analyses(Checker& c, const std::string& out, const nlohmann::json& tables,
                    const std::string& path) {
  if (fs::is_directory(out + "/rank_lists")) {
    c.h5(out + "/rank_lists/rank_lists.h5");
    for (const auto& key : column_keys(tables)) {
      c.file(out + "/rank_lists/" + key + ".csv");
      const auto& report = tables.at("single").contains(key)   ? tables["single"][key]
                           : tables.at("fusion").contains(key) ? tables["fusion"][key]
                                                               : tables.at("qme");
      check_first_matches(c, out + "/rank_lists/" + key + "_first_match.csv",
                          report.at("GR_top1").get<double>());
    }
  }
  if (tables.contains("bootstrap")) {
    for (const auto& key : column_keys(tables)) {
      if (!tables["bootstrap"].at("ci").contains(key))
        throw InputError(path, "bootstrap/ci/" + key, "is missing");
    }
  }
  if (fs::is_directory(out + "/rank_pictures")) {
    for (const auto& e : fs::directory_iterator(out + "/rank_pictures"))
      c.file((e.path() / "index.html").string());
  }
}

double selection_metric(const nlohmann::json& report, const std::string& column, const std::string& path) {
  double sum = 0;
  for (const char* name : {"GR_top1", "GR_mAP", "TAR@1.00%FAR", "FNIR@1.00%FPIR"}) {
    if (!report.contains(name) || !report[name].is_number()) {
      throw InputError(path, column + "/" + name, "is missing or undefined");
    }
    const double v = report[name].get<double>();
    sum += std::string(name) == "FNIR@1.00%FPIR" ? -v : v;
  }
  return 100.0 * sum;
}

}  // namespace

DemoCheckResult check_demo_output(const DemoCheckOptions& o) {
  Checker c;
  check_inputs(c, o.out, o.dataset);
  check_features(c, o.out, o.dataset);
  check_training(c, o.out);
  check_tables(c, o.out);
  const std::string path = o.out + "/tables.json";
  const auto tables = c.json(path);
  check_analyses(c, o.out, tables, path);
  DemoCheckResult r;
  for (const auto& model : tables.at("models")) {
    const auto name = model.get<std::string>();
    r.overall.emplace_back(name, selection_metric(tables.at("single").at(name), name, path));
  }
  double best = -INFINITY;
  for (const char* name : {"zscore", "minmax", "rhe", "min", "mean", "max"}) {
    if (!tables.at("fusion").contains(name)) continue;
    const double v = selection_metric(tables["fusion"][name], name, path);
    r.overall.emplace_back(name, v);
    if ((o.beat == "best" && v > best) || o.beat == name) best = v, r.target = name;
  }
  if (r.target.empty()) throw InputError(path, "fusion/" + o.beat, "is not in the table");
  if (!tables.contains("qme"))
    throw InputError(path, "qme", "is missing (qme_tables ran without --qme_ckpt)");
  r.qme_overall = selection_metric(tables["qme"], "qme", path);
  r.overall.emplace_back("QME", r.qme_overall);
  r.target_overall = best;
  r.qme_wins = r.qme_overall > best;
  r.files_checked = c.checked;
  return r;
}

std::string format_demo_check(const DemoCheckResult& r) {
  std::string text = "selection metric (GR_top1 + GR_mAP + TAR@1%FAR - FNIR@1%FPIR, x100):\n";
  char line[160];
  for (const auto& [name, value] : r.overall) {
    std::snprintf(line, sizeof line, "  %-12s %8.2f\n", name.c_str(), value);
    text += line;
  }
  std::snprintf(line, sizeof line, "%s: QME %.2f vs %s %.2f (%+.2f); %zu files checked\n",
                r.qme_wins ? "QME wins" : "QME does NOT beat the baseline", r.qme_overall, r.target.c_str(),
                r.target_overall, r.qme_overall - r.target_overall, r.files_checked.size());
  return text + line;
}

}  // namespace qme::demo
