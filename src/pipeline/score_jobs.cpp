#include "qme/pipeline/score_jobs.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <set>
#include <utility>

#include "qme/core/error.hpp"
#include "qme/eval/evaluation_report.hpp"
#include "qme/formats/features_file.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/io/output_directory.hpp"
#include "qme/scores/similarity.hpp"

namespace qme::pipeline {

using scores::build_model_scores;
using scores::check_feature_dim;
using scores::Similarity;
using scores::similarity_for_model;
using scores::test_labels;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Reads a model's features and checks that they suit its similarity.
formats::TestFeatures read_model_features(const std::string& path, Similarity similarity) {
  auto features = formats::read_test_features(path);
  check_feature_dim(similarity, features.dim, path, "qf");
  return features;
}

void require_same_ids(const std::vector<int64_t>& ours, const std::vector<int64_t>& reference,
                      const std::string& path, const std::string& reference_path, const std::string& name) {
  if (ours.size() != reference.size()) {
    throw InputError(path, name,
                     "has " + std::to_string(ours.size()) + " entries but " + reference_path + " has " +
                         std::to_string(reference.size()) +
                         ": every model's features must cover the same probes and gallery");
  }
  for (size_t i = 0; i < ours.size(); ++i) {
    if (ours[i] != reference[i]) {
      throw InputError(path, name,
                       "differs from " + reference_path + " at index " + std::to_string(i) + ": " +
                           std::to_string(ours[i]) + " here, " + std::to_string(reference[i]) +
                           " there; every model's features must list the same ids in the same order");
    }
  }
}

void require_same_labels(const IdentityLabels& query, const IdentityLabels& gallery,
                         const TestLabels& reference, const std::string& path,
                         const std::string& reference_path) {
  const auto check = [&](const IdentityLabels& ours, const IdentityLabels& theirs, const std::string& side) {
    require_same_ids(ours.pids, theirs.pids, path, reference_path, side + "_pids");
    require_same_ids(ours.camids, theirs.camids, path, reference_path, side + "_camids");
    require_same_ids(ours.clothes_ids, theirs.clothes_ids, path, reference_path, side + "_clothes_ids");
  };
  check(query, reference.query, "q");
  check(gallery, reference.gallery, "g");
}

}  // namespace

GatherResult run_gather(const GatherOptions& options) {
  const auto start = Clock::now();
  if (options.models.empty()) throw UsageError("gather needs at least one model");
  // Every name is checked before any file is read.
  std::vector<Similarity> similarities;
  std::set<std::string> seen;
  for (const auto& model : options.models) {
    if (!seen.insert(model).second) {
      throw UsageError("model '" + model + "' is listed twice: a score-matrix file holds each model once");
    }
    similarities.push_back(similarity_for_model(model));
  }

  GatherResult result;
  result.path = options.output.empty() ? formats::score_matrix_path(options.feats_dir, options.dataset)
                                       : options.output;
  result.models = options.models;
  io::check_output_file(result.path, /*create_folder=*/true);  // before any work
  std::vector<std::string> paths;
  for (const auto& model : options.models) {
    paths.push_back(formats::test_features_path(options.feats_dir, model, options.dataset));
  }
  // Every file's shapes and ids are checked before any matrix is built.
  for (size_t k = 0; k < paths.size(); ++k) {
    const auto header = formats::read_test_features_header(paths[k]);
    check_feature_dim(similarities[k], header.dim, paths[k], "qf");
    if (k == 0) {
      result.labels.query = header.query_labels;
      result.labels.gallery = header.gallery_labels;
      result.labels.unique_gallery_pids = unique_sorted(header.gallery_labels.pids);
    } else {
      require_same_labels(header.query_labels, header.gallery_labels, result.labels, paths[k], paths[0]);
    }
  }
  std::vector<std::pair<std::string, ModelScores>> scores;
  for (size_t k = 0; k < options.models.size(); ++k) {
    const auto& model = options.models[k];
    const auto model_start = Clock::now();
    const auto features = read_model_features(paths[k], similarities[k]);
    // The file may have changed since its header was read.
    require_same_labels(features.query_labels, features.gallery_labels, result.labels, paths[k], paths[0]);
    spdlog::info("{}: {} probes x {} gallery ({} subjects), {}-d {} features", model, features.num_query(),
                 features.num_gallery(), result.labels.unique_gallery_pids.size(), features.dim,
                 to_string(similarities[k]));
    scores.emplace_back(model, build_model_scores(features, similarities[k], options.scores));
    spdlog::info("{}: score matrices built in {:.0f} ms", model, seconds_since(model_start) * 1e3);
  }
  formats::write_score_matrix_file(result.path, result.labels, scores);
  result.seconds = seconds_since(start);
  spdlog::info("wrote {} ({} models) in {:.2f} s", result.path, scores.size(), result.seconds);
  return result;
}

TablesResult run_score(const ScoreJobOptions& options) {
  const auto similarity = similarity_for_model(options.model);
  const auto path = formats::test_features_path(options.feats_dir, options.model, options.dataset);
  const auto build_start = Clock::now();
  const auto features = read_model_features(path, similarity);
  const auto labels = test_labels(features);
  const auto scores = build_model_scores(features, similarity, options.scores);
  spdlog::info("{}: {} probes x {} gallery ({} subjects), score matrices in {:.0f} ms", options.model,
               features.num_query(), features.num_gallery(), labels.unique_gallery_pids.size(),
               seconds_since(build_start) * 1e3);

  eval::EvalOptions eval_options;
  eval_options.open_set.seed = options.seed;
  eval_options.num_threads = options.num_threads;
  eval_options.context = options.model;
  const auto eval_start = Clock::now();
  eval::NamedReport named;
  named.name = options.model;
  named.report = eval::evaluate(scores.score_mat, scores.merge_score_mat, labels, eval_options);
  named.seconds = seconds_since(eval_start);
  spdlog::info("{}: evaluated in {:.1f} ms", options.model, named.seconds * 1e3);
  TablesResult result;
  result.models = {options.model};
  result.single.push_back(std::move(named));
  return result;
}

}  // namespace qme::pipeline
