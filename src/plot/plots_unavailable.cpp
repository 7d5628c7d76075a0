// qme_plot when qme is configured without PLplot (QME_WITH_PLOTS=OFF): the same entry points,
// each refusing with one clear error, so that qme_tables is the same program in both builds and
// --plots says why it cannot draw.
#include "qme/core/error.hpp"
#include "qme/plot/analysis_charts.hpp"
#include "qme/plot/chart.hpp"
#include "qme/plot/tables_plots.hpp"

namespace qme::plot {

namespace {

[[noreturn]] void unavailable() {
  throw UsageError(
      "--plots: this build has no plotting (configured with QME_WITH_PLOTS=OFF; PLplot is needed)");
}

}  // namespace

bool cairo_devices_available() {
  return false;
}

void save_chart(const Chart&, const std::string&, const ImageSize&) {
  unavailable();
}

std::vector<std::string> write_tables_plots(const eval::TablesCurves&, const TablesPlotsOptions&) {
  unavailable();
}

TablesPlotter::TablesPlotter(TablesPlotsOptions options) : options_(std::move(options)) {
  unavailable();
}

eval::ScoresObserver TablesPlotter::observer() {
  unavailable();
}

std::vector<std::string> TablesPlotter::write() const {
  unavailable();
}

std::vector<std::string> write_interval_chart(const std::string&, const std::string&, const std::string&,
                                              const std::vector<IntervalBar>&, const ImageSize&) {
  unavailable();
}

std::vector<std::string> write_quality_bin_chart(const std::string&, const std::string&, const std::string&,
                                                 const std::vector<double>&,
                                                 const std::vector<analysis::QualityBinColumn>&,
                                                 const ImageSize&) {
  unavailable();
}

std::vector<std::string> write_tables_analysis_charts(const std::string&, const pipeline::TablesAnalysis&,
                                                      const pipeline::TablesResult&) {
  unavailable();
}

}  // namespace qme::plot
