#include "qme/pipeline/tables_analysis.hpp"

#include <nlohmann/json.hpp>

#include "qme/core/error.hpp"
#include "qme/eval/paper_table.hpp"
#include "qme/formats/face_weights.hpp"

namespace qme::pipeline {

using analysis::BootstrapOptions;
using analysis::QualityBins;
using analysis::QualityBinsOptions;
using analysis::RankListOptions;
using analysis::RankListWriter;
using analysis::TablesBootstrap;

namespace {

eval::EvalOptions report_options(const TablesOptions& tables) {
  eval::EvalOptions options;
  options.open_set.seed = tables.seed;
  options.num_threads = tables.num_threads;
  return options;
}

std::unique_ptr<TablesBootstrap> make_bootstrap(const TablesAnalysisOptions& options,
                                                const TablesOptions& tables) {
  if (options.bootstrap == 0) return nullptr;
  BootstrapOptions bootstrap;
  bootstrap.resamples = options.bootstrap;
  bootstrap.ci_level = options.ci_level;
  bootstrap.seed = options.bootstrap_seed;
  bootstrap.eval = report_options(tables);
  return std::make_unique<TablesBootstrap>(bootstrap);
}

std::unique_ptr<QualityBins> make_quality_bins(const TablesAnalysisOptions& options,
                                               const TablesOptions& tables) {
  if (options.quality_bins == 0) return nullptr;
  if (options.quality_bins < 0)
    throw UsageError("--quality_bins: the number of bins must be at least 1, not " +
                     std::to_string(options.quality_bins));
  if (options.face_weights.empty()) throw UsageError("--quality_bins needs --face_weights");
  QualityBinsOptions bins;
  bins.weights = formats::read_face_weights(options.face_weights);
  bins.weights_file = options.face_weights;
  bins.bins = options.quality_bins;
  bins.eval = report_options(tables);
  return std::make_unique<QualityBins>(std::move(bins));
}

}  // namespace

TablesAnalysis::TablesAnalysis(TablesAnalysisOptions options, const TablesOptions& tables)
    : options_(std::move(options)) {
  if (options_.bootstrap < 0)
    throw UsageError("--bootstrap: the number of resamples must be at least 1, not " +
                     std::to_string(options_.bootstrap));
  if (!options_.rank_lists.empty()) {
    RankListOptions lists;
    lists.dir = options_.rank_lists;
    lists.top_k = options_.top_k;
    lists.num_threads = tables.num_threads;
    rank_lists_ = std::make_unique<RankListWriter>(lists);
  }
  bootstrap_ = make_bootstrap(options_, tables);
  quality_bins_ = make_quality_bins(options_, tables);
}

TablesAnalysis::~TablesAnalysis() = default;

void TablesAnalysis::attach(TablesOptions& tables) {
  if (rank_lists_) tables.observers.push_back(rank_lists_->observer());
  if (bootstrap_) tables.observers.push_back(bootstrap_->observer());
  if (quality_bins_) tables.observers.push_back(quality_bins_->observer());
}

std::string TablesAnalysis::format_tables(const TablesResult& result, bool markdown) const {
  auto columns = table_columns(result);
  std::vector<eval::EvaluationReport> spreads;
  if (bootstrap_ && bootstrap_->columns().size() == columns.size()) {
    for (const auto& c : bootstrap_->columns()) spreads.push_back(bootstrap_->half_widths(c));
    for (size_t i = 0; i < columns.size(); ++i) columns[i].spread = &spreads[i];
  }
  std::string text = eval::format_paper_table(columns, markdown);
  if (!spreads.empty()) text += bootstrap_tables(markdown);
  if (quality_bins_) {
    for (const char* metric : {"GR_top1", "FNIR@1.00%FPIR"})
      text += "\n" + analysis::format_quality_bins_table(*quality_bins_, metric, markdown);
  }
  return text;
}

std::string TablesAnalysis::bootstrap_tables(bool markdown) const {
  const auto& options = bootstrap_->options();
  char caption[320];
  std::snprintf(caption, sizeof caption,
                "\n%s minus each column: the %g%% bootstrap interval of the difference in points (%d "
                "resamples of the %lld probe subjects) and the share of resamples in which %s is better\n",
                bootstrap_->reference().id.label.c_str(), options.ci_level, options.resamples,
                static_cast<long long>(bootstrap_->num_subjects()), bootstrap_->reference().id.label.c_str());
  return caption + analysis::format_bootstrap_table(*bootstrap_, markdown);
}

void TablesAnalysis::add_to_json(nlohmann::json& json) const {
  if (bootstrap_) json["bootstrap"] = bootstrap_->json();
  if (quality_bins_) json["quality_bins"] = analysis::quality_bins_json(*quality_bins_);
}

}  // namespace qme::pipeline
