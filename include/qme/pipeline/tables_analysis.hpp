#pragma once
/// The analyses qme_tables runs next to the paper table, as one library piece: rank lists,
/// the paired subject bootstrap and the quality-bin breakdown. Each is optional; the ones asked
/// for watch every column of run_tables through its observers, add their part to the JSON and
/// the printed tables, and write their files.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "qme/analysis/bootstrap.hpp"
#include "qme/analysis/quality_bins.hpp"
#include "qme/analysis/rank_lists.hpp"
#include "qme/pipeline/tables_job.hpp"

namespace qme::pipeline {

struct TablesAnalysisOptions {
  std::string rank_lists;        ///< --rank_lists DIR ("": none)
  int top_k = 10;                ///< --top_k
  int bootstrap = 0;             ///< --bootstrap N (0: none)
  double ci_level = 95;          ///< --ci
  uint32_t bootstrap_seed = 45;  ///< --bootstrap_seed
  int quality_bins = 0;          ///< --quality_bins B (0: none; needs face_weights)
  std::string face_weights;      ///< --face_weights (one quality weight per probe)
};

class TablesAnalysis {
 public:
  /// Checks the options (UsageError naming the flag) and reads the face weights when quality bins
  /// are asked for (InputError naming the file); nothing is written yet.
  TablesAnalysis(TablesAnalysisOptions options, const TablesOptions& tables);
  TablesAnalysis(const TablesAnalysis&) = delete;  // the observers hold `this`
  TablesAnalysis& operator=(const TablesAnalysis&) = delete;
  ~TablesAnalysis();

  /// Adds the analyses' observers to `tables` (this object must outlive the run).
  void attach(TablesOptions& tables);

  /// The paper table, with "±" half-intervals when bootstrapped, then the comparison table, then
  /// GR_top1 and FNIR@1%FPIR per quality bin when binned.
  std::string format_tables(const TablesResult& result, bool markdown) const;
  /// Adds "bootstrap" and "quality_bins" to qme_tables' JSON.
  void add_to_json(nlohmann::json& json) const;

  const analysis::TablesBootstrap* bootstrap() const { return bootstrap_.get(); }
  const analysis::QualityBins* quality_bins() const { return quality_bins_.get(); }
  const analysis::RankListWriter* rank_lists() const { return rank_lists_.get(); }

 private:
  std::string bootstrap_tables(bool markdown) const;

  TablesAnalysisOptions options_;
  std::unique_ptr<analysis::RankListWriter> rank_lists_;
  std::unique_ptr<analysis::TablesBootstrap> bootstrap_;
  std::unique_ptr<analysis::QualityBins> quality_bins_;
};

}  // namespace qme::pipeline
