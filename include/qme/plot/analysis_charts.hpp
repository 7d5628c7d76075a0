#pragma once
/// Figures of qme_tables' analyses, each as stem.png and stem.svg (PLplot's cairo drivers, like
/// chart.hpp) and stem.csv: a metric per column with its interval (e.g. a bootstrap's), and a
/// metric per face-quality bin with one line per column. Their x axes are categories (column
/// names, bin ranges), which chart.hpp's numeric axes cannot show, so they are drawn here.
#include <string>
#include <vector>

#include "qme/analysis/quality_bins.hpp"
#include "qme/pipeline/tables_analysis.hpp"
#include "qme/pipeline/tables_job.hpp"
#include "qme/plot/chart.hpp"

namespace qme::plot {

/// One column's metric and its interval [lo, hi]. NaN leaves out the point (value) or the bar.
struct IntervalBar {
  std::string label;  // the column as in the table ("QME")
  eval::ColumnKind kind = eval::ColumnKind::kModel;
  double value = 0, lo = 0, hi = 0;
};

/// The metric of each column in the order given, at x = 1, 2, ..., as a marker with a vertical
/// bar from lo to hi and its value above; the column labels along the x axis (slanted when they
/// do not fit side by side). CSV: "label,value,lo,hi", NaN empty. Returns the three files
/// written (png, svg, csv). Throws Error naming the file when one cannot be written.
std::vector<std::string> write_interval_chart(const std::string& stem, const std::string& title,
                                              const std::string& metric_label,
                                              const std::vector<IntervalBar>& bars,
                                              const ImageSize& size = {});

/// `metric_name` (an EvaluationReport name such as "GR_top1") per quality bin, lowest quality
/// first, one line per column (styled by kind as in the qme_tables --plots figures; a NaN bin
/// breaks the line), the bins labelled with their weight ranges and probe counts. `edges`: the
/// B + 1 bin edges; every column holds B reports. CSV: "bin,lo,hi,probes,<label>,...", the probes
/// from the reports' num_probe_templates. Returns the three files written.
std::vector<std::string> write_quality_bin_chart(const std::string& stem, const std::string& title,
                                                 const std::string& metric_name,
                                                 const std::vector<double>& edges,
                                                 const std::vector<analysis::QualityBinColumn>& columns,
                                                 const ImageSize& size = {});

/// qme_tables --plots with its analyses: for each headline metric of the paper table (its
/// standard deviation rows aside), `bootstrap_<metric>` (every column's value and bootstrap
/// interval, in percent) when the table was bootstrapped and `quality_bins_<metric>` when it was
/// split by quality, into `dir` (metric names with every character other than a letter, digit
/// or '.' replaced by '_'). Returns the files written.
std::vector<std::string> write_tables_analysis_charts(const std::string& dir,
                                                      const pipeline::TablesAnalysis& analysis,
                                                      const pipeline::TablesResult& result);

}  // namespace qme::plot
