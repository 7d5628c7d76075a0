// qme._core: the torch-free part of the Python package (qme_base): the evaluation report,
// the classic fusion baselines, score-matrix / test-feature / face-weight files and the
// paper tables. The public names are re-exported, with the pure-Python helpers, by qme/__init__.py.
#include <pybind11/stl.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <optional>

#include "binding.hpp"
#include "qme/core/error.hpp"
#include "qme/eval/classic_fusion.hpp"
#include "qme/eval/evaluation_report.hpp"
#include "qme/eval/paper_table.hpp"
#include "qme/formats/face_weights.hpp"
#include "qme/formats/features_file.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/models/model_spec.hpp"
#include "qme/pipeline/tables_job.hpp"

namespace qme::python {

namespace {

// ---------------------------------------------------------------------------------------------
// The library logs with spdlog, from whichever thread computes (the GIL released). This sink
// only queues the messages; _flush_log hands them to Python once the call is back on the GIL.

class QueueSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::pair<spdlog::level::level_enum, std::string>> take() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::exchange(pending_, {});
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    if (pending_.size() < kMaxPending) {
      pending_.emplace_back(message.level, std::string(message.payload.data(), message.payload.size()));
    }
  }
  void flush_() override {}

 private:
  static constexpr size_t kMaxPending = 10000;
  std::vector<std::pair<spdlog::level::level_enum, std::string>> pending_;
};

std::shared_ptr<QueueSink>& queue_sink() {
  static auto sink = std::make_shared<QueueSink>();
  return sink;
}

void install_log_bridge() {
  auto logger = std::make_shared<spdlog::logger>("qme.python", queue_sink());
  logger->set_level(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

void flush_log() {
  const auto messages = queue_sink()->take();
  if (messages.empty()) return;
  auto warning = py::module_::import("qme._errors").attr("QmeWarning");
  auto logger = py::module_::import("logging").attr("getLogger")("qme");
  for (const auto& [level, text] : messages) {
    if (level >= spdlog::level::warn) {
      if (PyErr_WarnEx(warning.ptr(), text.c_str(), 1) < 0) throw py::error_already_set();
    } else {
      const int python_level = level == spdlog::level::info ? 20 : 10;  // logging.INFO / DEBUG
      logger.attr("log")(python_level, text);
    }
  }
}

void set_log_level(const std::string& level) {
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    raise_input_error("unknown log level '" + level + "' (use trace, debug, info, warn, error, off)");
  }
  spdlog::default_logger()->set_level(parsed);
}

// ---------------------------------------------------------------------------------------------

uint32_t to_seed(long long seed) {
  if (seed < 0 || seed > 0xFFFFFFFFLL) {
    raise_input_error("seed must be between 0 and 2**32 - 1 (numpy's legacy generator), got " +
                      std::to_string(seed));
  }
  return static_cast<uint32_t>(seed);
}

int to_threads(int threads) {
  if (threads < 0) raise_input_error("threads must be >= 0 (0: QME_NUM_THREADS or all cores)");
  return threads;
}

void check_has_scores(const ScoreMatrix& m, const std::string& name) {
  if (std::all_of(m.values.begin(), m.values.end(), [](float v) { return std::isnan(v); })) {
    raise_input_error(name +
                      " holds only NaN: no pair has a score (upstream's score matrices hold 0 "
                      "where a model has no score)");
  }
}

std::string shape_text(const ScoreMatrix& m) {
  return std::to_string(m.rows) + "x" + std::to_string(m.cols);
}

py::dict evaluate(py::handle score_mat, py::handle merge_score_mat, py::handle q_pids, py::handle q_camids,
                  py::handle q_clothes_ids, py::handle g_pids, py::handle g_camids, py::handle g_clothes_ids,
                  py::handle unique_g_pids, long long seed, int threads, const std::string& name) {
  return guarded(Blame::kArguments, "", [&] {
    eval::EvalOptions options;
    options.open_set.seed = to_seed(seed);
    options.num_threads = to_threads(threads);
    options.context = name;
    const auto scores = to_score_matrix(score_mat, "score_mat");
    const auto merged = to_score_matrix(merge_score_mat, "merge_score_mat");
    const auto labels =
        to_labels(q_pids, q_camids, q_clothes_ids, g_pids, g_camids, g_clothes_ids, unique_g_pids, name);
    check_has_scores(scores, "score_mat");
    check_has_scores(merged, "merge_score_mat");
    eval::EvaluationReport report;
    {
      py::gil_scoped_release release;
      report = eval::evaluate(scores, merged, labels, options);
    }
    return report_dict(report);
  });
}

/// A list of matrices from a sequence or from a mapping's values (in its order).
std::vector<ScoreMatrix> to_score_matrices(py::handle object, const std::string& name) {
  py::object items = py::reinterpret_borrow<py::object>(object);
  if (py::isinstance<py::dict>(object)) items = items.attr("values")();
  if (!py::isinstance<py::iterable>(object) || py::isinstance<py::str>(object)) {
    raise_input_error(name + " must be a list (or dict, or 3-D array) of 2-D score matrices, one per model");
  }
  std::vector<ScoreMatrix> out;
  for (auto item : items) {
    out.push_back(to_score_matrix(item, name + "[" + std::to_string(out.size()) + "]"));
  }
  if (out.empty()) raise_input_error(name + " is empty: score fusion needs at least one model");
  return out;
}

py::tuple fuse(const std::string& method_name, py::handle score_mats, py::handle merge_score_mats,
               py::handle q_pids, py::handle g_pids) {
  return guarded(Blame::kArguments, "", [&] {
    const auto method = parse_baselines({method_name}).front();
    auto entries = to_score_matrices(score_mats, "score_mats");
    auto subjects = to_score_matrices(merge_score_mats, "merge_score_mats");
    if (entries.size() != subjects.size()) {
      raise_input_error("score_mats has " + std::to_string(entries.size()) +
                        " matrices but merge_score_mats has " + std::to_string(subjects.size()));
    }
    for (size_t k = 0; k < entries.size(); ++k) {
      const auto& s = entries[k];
      const auto& m = subjects[k];
      if (s.rows != entries[0].rows || s.cols != entries[0].cols) {
        raise_input_error("score_mats[" + std::to_string(k) + "] is " + shape_text(s) +
                          " but score_mats[0] is " + shape_text(entries[0]));
      }
      if (m.rows != s.rows || m.cols != subjects[0].cols) {
        raise_input_error("merge_score_mats[" + std::to_string(k) + "] is " + shape_text(m) +
                          " but score_mats[" + std::to_string(k) + "] has " + std::to_string(s.rows) +
                          " probes and merge_score_mats[0] " + std::to_string(subjects[0].cols) +
                          " subjects");
      }
    }
    TestLabels labels;  // only RHE reads them: which pairs are matches
    if (!q_pids.is_none()) labels.query.pids = to_ids(q_pids, "q_pids");
    if (!g_pids.is_none()) labels.gallery.pids = to_ids(g_pids, "g_pids");
    if (method == eval::FusionMethod::kRhe && (q_pids.is_none() || g_pids.is_none())) {
      raise_input_error("rhe normalises by the match scores: pass q_pids and g_pids");
    }
    const auto q = static_cast<size_t>(entries[0].rows);
    const auto g = static_cast<size_t>(entries[0].cols);
    if (!q_pids.is_none() && labels.query.pids.size() != q) {
      raise_input_error("q_pids has " + std::to_string(labels.query.pids.size()) +
                        " entries but the score matrices have " + std::to_string(q) + " probes");
    }
    if (!g_pids.is_none() && labels.gallery.pids.size() != g) {
      raise_input_error("g_pids has " + std::to_string(labels.gallery.pids.size()) +
                        " entries but the score matrices have " + std::to_string(g) + " gallery entries");
    }
    std::vector<ModelScores> models(entries.size());
    std::vector<const ModelScores*> inputs;
    for (size_t k = 0; k < entries.size(); ++k) {
      models[k].score_mat = std::move(entries[k]);
      models[k].merge_score_mat = std::move(subjects[k]);
      inputs.push_back(&models[k]);
    }
    ModelScores fused;
    {
      py::gil_scoped_release release;
      fused = eval::fuse_scores(method, inputs, labels);
    }
    return py::make_tuple(to_numpy(std::move(fused.score_mat)), to_numpy(std::move(fused.merge_score_mat)));
  });
}

/// The six id arrays of a probe and a gallery side, under upstream's names.
void put_ids(py::dict& out, const IdentityLabels& query, const IdentityLabels& gallery) {
  out["q_pids"] = to_numpy(query.pids);
  out["q_camids"] = to_numpy(query.camids);
  out["q_clothes_ids"] = to_numpy(query.clothes_ids);
  out["g_pids"] = to_numpy(gallery.pids);
  out["g_camids"] = to_numpy(gallery.camids);
  out["g_clothes_ids"] = to_numpy(gallery.clothes_ids);
}

py::dict labels_dict(const TestLabels& labels) {
  py::dict out;
  put_ids(out, labels.query, labels.gallery);
  return out;
}

std::vector<std::string> list_models(const std::string& path) {
  return guarded(Blame::kReadFile, path, [&] { return formats::ScoreMatrixFile(path).models(); });
}

py::dict read_score_matrices(const std::string& path, std::optional<std::vector<std::string>> models) {
  return guarded(Blame::kReadFile, path, [&] {
    const formats::ScoreMatrixFile file(path);
    const auto available = file.models();
    const auto names = models ? *models : available;
    for (const auto& name : names) {
      if (std::find(available.begin(), available.end(), name) == available.end()) {
        std::string held;
        for (const auto& a : available) held += (held.empty() ? "" : ", ") + a;
        raise_input_error(path + ": no model '" + name + "' (the file holds: " + held + ")");
      }
    }
    py::dict out = labels_dict(file.labels());
    out["unique_g_pids"] = to_numpy(file.labels().unique_gallery_pids);
    py::dict score_mats, merge_score_mats;
    for (const auto& name : names) {
      auto scores = file.read_model(name);
      score_mats[py::str(name)] = to_numpy(std::move(scores.score_mat));
      merge_score_mats[py::str(name)] = to_numpy(std::move(scores.merge_score_mat));
    }
    out["models"] = py::cast(names);
    out["score_mats"] = score_mats;
    out["merge_score_mats"] = merge_score_mats;
    return out;
  });
}

void write_score_matrices(const std::string& path, py::handle q_pids, py::handle q_camids,
                          py::handle q_clothes_ids, py::handle g_pids, py::handle g_camids,
                          py::handle g_clothes_ids, py::handle unique_g_pids, py::handle score_mats,
                          py::handle merge_score_mats) {
  const auto labels =
      to_labels(q_pids, q_camids, q_clothes_ids, g_pids, g_camids, g_clothes_ids, unique_g_pids, path);
  if (!py::isinstance<py::dict>(score_mats) || !py::isinstance<py::dict>(merge_score_mats)) {
    raise_input_error("score_mats and merge_score_mats must be dicts: model name -> matrix");
  }
  const auto entries = py::reinterpret_borrow<py::dict>(score_mats);
  const auto subjects = py::reinterpret_borrow<py::dict>(merge_score_mats);
  if (entries.size() == 0)
    raise_input_error("score_mats is empty: a score-matrix file holds at least one model");
  const auto q = static_cast<int64_t>(labels.query.size());
  const auto g = static_cast<int64_t>(labels.gallery.size());
  const auto u = static_cast<int64_t>(labels.unique_gallery_pids.size());
  std::vector<std::pair<std::string, ModelScores>> models;
  for (auto item : entries) {
    const auto name = py::str(item.first).cast<std::string>();
    if (!subjects.contains(item.first))
      raise_input_error("merge_score_mats has no entry for model '" + name + "'");
    ModelScores scores;
    scores.score_mat = to_score_matrix(item.second, "score_mats['" + name + "']");
    scores.merge_score_mat = to_score_matrix(subjects[item.first], "merge_score_mats['" + name + "']");
    if (scores.score_mat.rows != q || scores.score_mat.cols != g) {
      raise_input_error("score_mats['" + name + "'] is " + shape_text(scores.score_mat) + " but q_pids has " +
                        std::to_string(q) + " entries and g_pids " + std::to_string(g));
    }
    if (scores.merge_score_mat.rows != q || scores.merge_score_mat.cols != u) {
      raise_input_error("merge_score_mats['" + name + "'] is " + shape_text(scores.merge_score_mat) +
                        " but q_pids has " + std::to_string(q) + " entries and unique_g_pids " +
                        std::to_string(u));
    }
    models.emplace_back(name, std::move(scores));
  }
  if (subjects.size() != entries.size()) {
    raise_input_error("merge_score_mats has models that score_mats lacks");
  }
  guarded(Blame::kWriteFile, path, [&] { formats::write_score_matrix_file(path, labels, models); });
}

py::dict read_test_features(const std::string& path) {
  return guarded(Blame::kReadFile, path, [&] {
    auto features = formats::read_test_features(path);
    py::dict out;
    const auto d = static_cast<py::ssize_t>(features.dim);
    const auto q = static_cast<py::ssize_t>(features.num_query());
    const auto g = static_cast<py::ssize_t>(features.num_gallery());
    out["qf"] = to_numpy(std::move(features.query), {q, d});
    out["gf"] = to_numpy(std::move(features.gallery), {g, d});
    put_ids(out, features.query_labels, features.gallery_labels);
    return out;
  });
}

void write_test_features(const std::string& path, py::handle qf, py::handle gf, py::handle q_pids,
                         py::handle q_camids, py::handle q_clothes_ids, py::handle g_pids,
                         py::handle g_camids, py::handle g_clothes_ids) {
  formats::TestFeatures features;
  auto query = to_float_rows(qf, "qf");
  auto gallery = to_float_rows(gf, "gf");
  if (query.cols != gallery.cols) {
    raise_input_error("qf has " + std::to_string(query.cols) + " feature columns but gf has " +
                      std::to_string(gallery.cols));
  }
  features.dim = query.cols;
  features.query.assign(query.data, query.data + query.rows * query.cols);
  features.gallery.assign(gallery.data, gallery.data + gallery.rows * gallery.cols);
  features.query_labels = {to_ids(q_pids, "q_pids"), to_ids(q_camids, "q_camids"),
                           to_ids(q_clothes_ids, "q_clothes_ids")};
  features.gallery_labels = {to_ids(g_pids, "g_pids"), to_ids(g_camids, "g_camids"),
                             to_ids(g_clothes_ids, "g_clothes_ids")};
  guarded(Blame::kArguments, "", [&] { formats::validate_test_features(features, path); });
  guarded(Blame::kWriteFile, path, [&] { formats::write_test_features(path, features); });
}

py::array_t<float> read_face_weights(const std::string& path, long long num_queries) {
  return guarded(Blame::kReadFile, path, [&] {
    auto weights = formats::read_face_weights(path, num_queries);
    const auto q = static_cast<py::ssize_t>(weights.size());
    return to_numpy(std::move(weights), {q, 1});
  });
}

py::object tables(const std::string& path, std::optional<std::vector<std::string>> models,
                  const std::vector<std::string>& baselines, long long seed, int threads, int bootstrap,
                  double ci, long long bootstrap_seed, int quality_bins,
                  std::optional<std::string> face_weights, std::optional<std::string> rank_lists, int top_k) {
  pipeline::TablesOptions options;
  options.scoremats = path;
  if (models) options.models = *models;
  options.baselines = parse_baselines(baselines);
  options.seed = to_seed(seed);
  options.num_threads = to_threads(threads);
  const auto analyses =
      analysis_options(bootstrap, ci, bootstrap_seed, quality_bins, rank_lists, top_k, face_weights);
  return guarded(Blame::kReadFile, path, [&] { return run_tables_as_dict(options, analyses); });
}

std::string format_table(py::handle columns, bool markdown) {
  py::object items = py::reinterpret_borrow<py::object>(columns);
  if (py::isinstance<py::dict>(columns)) items = items.attr("items")();
  std::vector<std::string> names;
  std::vector<eval::EvaluationReport> reports;
  for (auto item : items) {
    const auto pair = item.cast<py::tuple>();
    if (pair.size() != 2) raise_input_error("columns must be (name, report) pairs or a dict name -> report");
    names.push_back(py::str(pair[0]).cast<std::string>());
    reports.push_back(report_from_dict(pair[1], names.back()));
  }
  std::vector<eval::TableColumn> table;
  for (size_t k = 0; k < names.size(); ++k) table.push_back({names[k], &reports[k]});
  return guarded(Blame::kArguments, "", [&] { return eval::format_paper_table(table, markdown); });
}

/// The registry's rows, as dicts (what a notebook or an export script needs to know).
py::list model_specs() {
  py::list rows;
  for (const auto& name : models::model_names()) {
    const auto& spec = models::model_spec(name);
    py::dict row;
    row["name"] = spec.name;
    row["family"] = spec.family;
    row["modality"] = models::to_string(spec.modality);
    row["similarity"] = models::to_string(spec.similarity);
    row["input"] = spec.input_attribute();
    row["height"] = spec.height;
    row["width"] = spec.width;
    row["qe_width"] = spec.qe_width();
    row["feeds_face_quality"] = spec.feeds_face_quality;
    rows.append(row);
  }
  return rows;
}

std::vector<std::string> fusion_methods() {
  std::vector<std::string> names;
  for (auto m : eval::all_fusion_methods()) names.push_back(eval::to_string(m));
  return names;
}

}  // namespace

}  // namespace qme::python

PYBIND11_MODULE(_core, m) {
  using namespace qme::python;
  namespace eval = qme::eval;
  m.doc() =
      "qme's torch-free native functions (evaluation, classic fusion, files, tables). "
      "Use them through the qme package.";
  install_log_bridge();

  m.def("evaluate", &evaluate, py::arg("score_mat"), py::arg("merge_score_mat"), py::arg("q_pids"),
        py::arg("q_camids"), py::arg("q_clothes_ids"), py::arg("g_pids"), py::arg("g_camids"),
        py::arg("g_clothes_ids"), py::arg("unique_g_pids"), py::kw_only(), py::arg("seed") = 45,
        py::arg("threads") = 0, py::arg("name") = "qme.evaluate",
        R"doc(The full evaluation report of upstream's test_score, computed by qme's C++ engine.

Args:
    score_mat: (Q, G) probe x gallery scores, higher = more similar.
    merge_score_mat: (Q, U) probe x gallery-subject scores, columns ordered like unique_g_pids.
    q_pids, q_camids, q_clothes_ids: (Q,) ids of the probes.
    g_pids, g_camids, g_clothes_ids: (G,) ids of the gallery entries.
    unique_g_pids: (U,) the gallery's subjects, strictly ascending (np.unique(g_pids)).
    seed: seeds numpy's legacy generator for the 10 open-set enrolment draws (upstream's
        demo uses 45), exactly as np.random.seed(seed) would.
    threads: worker threads (0: QME_NUM_THREADS or all cores).
    name: names the matrix in warnings and error messages.

Arrays may have any real dtype and any strides. Scores are evaluated as float32 (float32
C-contiguous input is copied once, in C++); ids may be any integer dtype or floats holding
whole numbers (upstream stores them as float32). The GIL is released while computing.

Returns:
    dict metric name -> float, in upstream's order and spelling (GR_top1 ... GR_mAP, SC_*,
    CC_*, TAR@{0.01,0.10,1.00}%FAR, Threshold@..., TPIR/FNIR@...FPIR, their thresholds, the
    counts, and the ..._std of the 10 draws). NaN marks a value upstream cannot define (a
    qme.QmeWarning says which and why).

Raises:
    qme.InputError (a ValueError): a non-numeric dtype, a wrong number of dimensions, ids whose
    lengths disagree with the matrices, unique_g_pids not ascending, a matrix of only NaN.)doc");

  m.def("fuse", &fuse, py::arg("method"), py::arg("score_mats"), py::arg("merge_score_mats"),
        py::arg("q_pids") = py::none(), py::arg("g_pids") = py::none(),
        R"doc(One of the paper's classic score-fusion baselines (upstream's demo.ipynb), in C++.

Args:
    method: 'zscore', 'minmax' or 'rhe' (normalise each model's matrices, then average), or
        'min', 'mean', 'max' (element-wise over the raw matrices). See qme.FUSION_METHODS.
    score_mats: the models' (Q, G) matrices: a list, or a dict whose values are taken in order.
    merge_score_mats: the models' (Q, U) matrices, in the same order.
    q_pids, g_pids: needed by 'rhe' (it normalises by each model's match scores, match = same pid).

Float32 arithmetic follows numpy step by step, so the result is bit for bit what the demo
computes (and what qme_tables evaluates): z-score and min-max use each matrix's own
statistics, RHE takes min, match mean and match std from each model's score_mat; NaN -> 0
before normalising; min/max propagate NaN. The GIL is released while computing.

Returns:
    (fused score_mat, fused merge_score_mat), float32.)doc");

  m.def("model_specs", &model_specs,
        "The model registry (qme/models/model_spec.hpp), one dict per model: name, family, "
        "modality ('face', 'body' or 'gait'), similarity ('cosine' or 'biggait'), input (the "
        "TorchScript export's qme_input, e.g. 'N,3,384,192'), height, width, qe_width, "
        "feeds_face_quality.");
  m.def("list_models", &list_models, py::arg("path"),
        "The models of a score-matrix file (root groups holding a score_mat), in file order.");
  m.def("read_score_matrices", &read_score_matrices, py::arg("path"), py::arg("models") = py::none(),
        "Reads a score-matrix file: a dict of the id arrays (int64), 'models', and 'score_mats' / "
        "'merge_score_mats' (dicts model -> float32 matrix). Used by qme.ScoreMatrices.read.");
  m.def("write_score_matrices", &write_score_matrices, py::arg("path"), py::arg("q_pids"),
        py::arg("q_camids"), py::arg("q_clothes_ids"), py::arg("g_pids"), py::arg("g_camids"),
        py::arg("g_clothes_ids"), py::arg("unique_g_pids"), py::arg("score_mats"),
        py::arg("merge_score_mats"),
        "Writes a score-matrix file in upstream's layout (ids as float32), atomically. Used by "
        "qme.ScoreMatrices.write.");
  m.def("read_test_features", &read_test_features, py::arg("path"),
        "Reads a test-features file: a dict with qf, gf (float32) and the six id arrays (int64). "
        "Used by qme.TestFeatures.read.");
  m.def("write_test_features", &write_test_features, py::arg("path"), py::arg("qf"), py::arg("gf"),
        py::arg("q_pids"), py::arg("q_camids"), py::arg("q_clothes_ids"), py::arg("g_pids"),
        py::arg("g_camids"), py::arg("g_clothes_ids"),
        "Writes a test-features file in upstream's layout (ids as float32), atomically. Used by "
        "qme.TestFeatures.write.");
  m.def("read_face_weights", &read_face_weights, py::arg("path"), py::arg("num_queries") = -1,
        R"doc(The quality weights a QE evaluation wrote (dataset 'face_weights'), as (Q, 1) float32.

num_queries >= 0 checks the number of rows. Raises qme.FileError when the file or dataset is
missing, mis-shaped, or holds a non-finite weight.)doc");
  m.def("tables", &tables, py::arg("path"), py::arg("models") = py::none(),
        py::arg("baselines") = fusion_methods(), py::arg("seed") = 45, py::arg("threads") = 0,
        py::arg("bootstrap") = 0, py::arg("ci") = 95.0, py::arg("bootstrap_seed") = 45,
        py::arg("quality_bins") = 0, py::arg("face_weights") = py::none(), py::arg("rank_lists") = py::none(),
        py::arg("top_k") = 10, "qme_tables without QME: see qme.tables.");
  m.def("format_table", &format_table, py::arg("columns"), py::arg("markdown") = false,
        R"doc(The paper table as text, exactly as qme_tables prints it.

Args:
    columns: dict column name -> report (as qme.evaluate returns, or a pandas Series), or a
        list of (name, report) pairs, in column order.
    markdown: a GitHub Markdown table instead of fixed-width text.

Rows: qme.PAPER_TABLE_ROWS, in percent with one decimal (upstream: round(3) * 100).)doc");
  m.attr("PAPER_TABLE_ROWS") = py::cast(eval::paper_table_rows());
  m.attr("FUSION_METHODS") = py::cast(fusion_methods());
  m.def("table_percent", &eval::table_percent, py::arg("value"),
        "numpy's round(value, 3) * 100, as the demo notebook prints a metric; NaN stays NaN.");
  m.def("_flush_log", &flush_log, "Hands the library's queued log messages to Python (internal).");
  m.def("set_log_level", &set_log_level, py::arg("level"),
        "The library's log level: 'debug', 'info' (default), 'warn', 'error' or 'off'. Warnings "
        "arrive as qme.QmeWarning, the rest through logging.getLogger('qme').");
#ifdef QME_VERSION
  m.attr("__version__") = QME_VERSION;
#endif
}
