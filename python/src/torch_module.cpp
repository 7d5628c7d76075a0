// qme._torch: the parts of the Python package that need qme_torch (LibTorch): QME inference
// from a checkpoint (read by the restricted unpickler: loading never runs code), score matrices
// from features, and the tables job with the QME column. The headers used here are torch-free
// (pimpl), so this file does not compile LibTorch's headers; imported by qme on first use.
#include <pybind11/stl.h>

#include <filesystem>
#include <optional>

#include "binding.hpp"
#include "qme/core/error.hpp"
#include "qme/fusion/qme_inference.hpp"
#include "qme/scores/device_scores.hpp"
#include "qme/scores/score_matrices.hpp"
#include "qme/scores/similarity.hpp"

namespace qme::python {

namespace {

/// A loaded QME head and the options it was loaded with.
struct QmeModel {
  fusion::QmeInference inference;
  bool use_qe = true;
};

QmeModel load(const std::string& checkpoint, bool use_qe, long long block_rows) {
  if (block_rows < 0) raise_input_error("block_rows must be >= 0 (0: as large as fits in 1 GiB)");
  return guarded(Blame::kReadFile, checkpoint, [&] {
    fusion::QmeInferenceOptions options;
    options.use_qe = use_qe;
    options.block_rows = block_rows;
    py::gil_scoped_release release;
    return QmeModel{fusion::QmeInference(checkpoint, options), use_qe};
  });
}

py::array_t<float> fuse(const QmeModel& model, py::handle score_mats, py::handle face_weights) {
  std::vector<std::string> names;
  py::object items = py::reinterpret_borrow<py::object>(score_mats);
  if (py::isinstance<py::dict>(score_mats)) {
    for (auto key : py::reinterpret_borrow<py::dict>(score_mats))
      names.push_back(py::str(key.first).cast<std::string>());
    items = items.attr("values")();
  } else if (!py::isinstance<py::iterable>(score_mats) || py::isinstance<py::str>(score_mats)) {
    raise_input_error(
        "score_mats must be a dict model -> (Q, N) matrix (or a list), in the training model order");
  }
  std::vector<ScoreMatrix> matrices;
  for (auto item : items) {
    const auto label = names.empty() ? "score_mats[" + std::to_string(matrices.size()) + "]"
                                     : "score_mats['" + names[matrices.size()] + "']";
    matrices.push_back(to_score_matrix(item, label));
  }
  if (names.empty()) {
    for (size_t k = 0; k < matrices.size(); ++k) names.push_back("score_mats[" + std::to_string(k) + "]");
  }
  guarded(Blame::kArguments, "", [&] { model.inference.check_models(names); });
  for (size_t k = 1; k < matrices.size(); ++k) {
    if (matrices[k].rows != matrices[0].rows || matrices[k].cols != matrices[0].cols) {
      raise_input_error(names[k] + " is " + std::to_string(matrices[k].rows) + "x" +
                        std::to_string(matrices[k].cols) + " but " + names[0] + " is " +
                        std::to_string(matrices[0].rows) + "x" + std::to_string(matrices[0].cols));
    }
  }
  std::vector<float> weights;
  if (model.use_qe) {
    if (face_weights.is_none()) {
      raise_input_error(
          "face_weights is None: this model mixes its experts by one quality weight per probe "
          "(load it with use_qe=False for a fixed 0.5)");
    }
    weights = to_weights(face_weights, "face_weights");
    if (static_cast<int64_t>(weights.size()) != matrices[0].rows) {
      raise_input_error("face_weights has " + std::to_string(weights.size()) +
                        " rows but the score matrices have " + std::to_string(matrices[0].rows) + " probes");
    }
  }
  std::vector<const ScoreMatrix*> inputs;
  for (const auto& m : matrices) inputs.push_back(&m);
  return guarded(Blame::kArguments, "", [&] {
    ScoreMatrix fused;
    {
      py::gil_scoped_release release;
      fused = model.inference.fuse(inputs, weights);
    }
    return to_numpy(std::move(fused));
  });
}

scores::Similarity parse_similarity(const std::optional<std::string>& similarity,
                                    const std::optional<std::string>& model) {
  if (similarity) {
    if (*similarity == "cosine") return scores::Similarity::kCosine;
    if (*similarity == "biggait") return scores::Similarity::kBigGaitParts;
    raise_input_error("unknown similarity '" + *similarity + "' (known: cosine, biggait)");
  }
  if (!model)
    raise_input_error("give the model's name (model='adaface', ...) or similarity='cosine'/'biggait'");
  return guarded(Blame::kArguments, "", [&] { return scores::similarity_for_model(*model); });
}

py::tuple score_matrices(py::handle qf, py::handle gf, py::handle g_pids, std::optional<std::string> model,
                         std::optional<std::string> similarity, const std::string& device, int threads) {
  const auto kind = parse_similarity(similarity, model);
  if (threads < 0) raise_input_error("threads must be >= 0 (0: QME_NUM_THREADS or all cores)");
  const auto query = to_float_rows(qf, "qf");
  const auto gallery = to_float_rows(gf, "gf");
  auto pids = to_ids(g_pids, "g_pids");
  if (query.cols != gallery.cols) {
    raise_input_error("qf has " + std::to_string(query.cols) + " feature columns but gf has " +
                      std::to_string(gallery.cols));
  }
  if (query.rows == 0 || gallery.rows == 0) raise_input_error("qf and gf need at least one row each");
  if (static_cast<int64_t>(pids.size()) != gallery.rows) {
    raise_input_error("g_pids has " + std::to_string(pids.size()) + " entries but gf has " +
                      std::to_string(gallery.rows) + " rows");
  }
  return guarded(Blame::kArguments, "", [&] {
    scores::enable_device_scores();  // devices other than the CPU's kernels
    scores::ScoreOptions options;
    options.device = device;
    options.num_threads = threads;
    scores::check_feature_dim(kind, query.cols, "score_matrices", "qf");
    ModelScores out;
    std::vector<int64_t> subjects;
    {
      // The same steps as scores::build_model_scores, on borrowed rows (no copy of the features).
      py::gil_scoped_release release;
      const scores::FeatureRows probes{query.data, query.rows, query.cols};
      const scores::FeatureRows entries{gallery.data, gallery.rows, gallery.cols};
      subjects = unique_sorted(pids);
      const auto templates = scores::subject_templates(entries, pids, subjects);
      const scores::FeatureRows merged{templates.data(), static_cast<int64_t>(subjects.size()), gallery.cols};
      out.score_mat = scores::similarity_matrix(probes, entries, kind, options);
      out.merge_score_mat = scores::similarity_matrix(probes, merged, kind, options);
    }
    return py::make_tuple(to_numpy(std::move(out.score_mat)), to_numpy(std::move(out.merge_score_mat)),
                          to_numpy(std::move(subjects)));
  });
}

std::string similarity_for_model(const std::string& model) {
  return guarded(Blame::kArguments, "",
                 [&] { return scores::to_string(scores::similarity_for_model(model)); });
}

py::object tables(const std::string& path, std::optional<std::vector<std::string>> models,
                  const std::vector<std::string>& baselines, long long seed, int threads,
                  std::optional<std::string> qme_ckpt, std::optional<std::string> face_weights, bool use_qe,
                  int bootstrap, double ci, long long bootstrap_seed, int quality_bins,
                  std::optional<std::string> rank_lists, int top_k) {
  if (seed < 0 || seed > 0xFFFFFFFFLL) raise_input_error("seed must be between 0 and 2**32 - 1");
  if (threads < 0) raise_input_error("threads must be >= 0 (0: QME_NUM_THREADS or all cores)");
  pipeline::TablesOptions options;
  options.scoremats = path;
  if (models) options.models = *models;
  options.baselines = parse_baselines(baselines);
  options.seed = static_cast<uint32_t>(seed);
  options.num_threads = threads;
  const auto analyses =
      analysis_options(bootstrap, ci, bootstrap_seed, quality_bins, rank_lists, top_k, face_weights);
  // A missing file is named as such, whichever of the three it is.
  std::string blamed = path;
  for (const auto* candidate : {&qme_ckpt, &face_weights}) {
    std::error_code ec;
    if (*candidate && !std::filesystem::exists(**candidate, ec) && std::filesystem::exists(blamed, ec)) {
      blamed = **candidate;
    }
  }
  return guarded(Blame::kReadFile, blamed, [&] {
    if (qme_ckpt) {
      options.learned.push_back(fusion::make_qme_table_fusion(*qme_ckpt, face_weights.value_or(""), use_qe));
    }
    return run_tables_as_dict(options, analyses);
  });
}

}  // namespace

}  // namespace qme::python

PYBIND11_MODULE(_torch, m) {
  using namespace qme::python;
  m.doc() =
      "qme's LibTorch-backed native functions (QME inference, score matrices from features, "
      "tables with QME). Use them through the qme package.";

  py::class_<QmeModel>(m, "QmeModel", "A trained QME fusion head (see qme.QmeModel).")
      .def_static("load", &load, py::arg("checkpoint"), py::arg("use_qe") = true, py::arg("block_rows") = 0,
                  "Reads an upstream (or qme) QME checkpoint with the restricted unpickler.")
      .def_property_readonly("checkpoint_path",
                             [](const QmeModel& model) { return model.inference.checkpoint_path(); })
      .def_property_readonly("num_models", [](const QmeModel& model) { return model.inference.num_models(); })
      .def_property_readonly("use_qe", [](const QmeModel& model) { return model.use_qe; })
      .def("fuse", &fuse, py::arg("score_mats"), py::arg("face_weights") = py::none(),
           "The fused (Q, N) matrix of the models' (Q, N) matrices.");

  m.def("score_matrices", &score_matrices, py::arg("qf"), py::arg("gf"), py::arg("g_pids"),
        py::arg("model") = py::none(), py::arg("similarity") = py::none(), py::arg("device") = "cpu",
        py::arg("threads") = 0,
        "score_mat, merge_score_mat, unique_g_pids from features (see qme.score_matrices).");
  m.def("similarity_for_model", &similarity_for_model, py::arg("model"),
        "'cosine' or 'biggait': how upstream compares a model's features, by its name.");
  m.def("tables", &tables, py::arg("path"), py::arg("models"), py::arg("baselines"), py::arg("seed"),
        py::arg("threads"), py::arg("qme_ckpt"), py::arg("face_weights"), py::arg("use_qe"),
        py::arg("bootstrap") = 0, py::arg("ci") = 95.0, py::arg("bootstrap_seed") = 45,
        py::arg("quality_bins") = 0, py::arg("rank_lists") = py::none(), py::arg("top_k") = 10,
        "qme_tables with the QME column: see qme.tables.");
}
