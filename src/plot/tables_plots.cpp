#include "qme/plot/tables_plots.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <set>
#include <system_error>
#include <utility>

#include "qme/core/error.hpp"
#include "qme/core/nan.hpp"
#include "qme/formats/face_weights.hpp"
#include "qme/io/text_file.hpp"

namespace qme::plot {

namespace {

using eval::ColumnKind;
using eval::MatrixCurves;

constexpr double kMinFar = 1e-4;
constexpr double kInf = std::numeric_limits<double>::infinity();
const std::vector<double> kReportFars = eval::RocOptions{}.keep_fars;  // the report's FARs
const Rgb kGenuine{44, 160, 44};
const Rgb kImpostor{214, 39, 40};
constexpr double kHeadroom = 1.3;  // density axes reach this far above the highest bar: room for the legend

std::string percent(double rate) {
  if (std::isnan(rate)) return "n/a";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f%%", 100.0 * rate);
  return buffer;
}

std::string with_thousands(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t k = 0; k < digits.size(); ++k) {
    if (k > 0 && (digits.size() - k) % 3 == 0) out += ',';
    out += digits[k];
  }
  return out;
}

/// Colour and line of a column: models solid, baselines dashed, learned fusions (QME) thick black.
Series column_series(const MatrixCurves& c, size_t index) {
  Series s;
  s.label = c.name;
  s.color = palette_color(index);
  if (c.kind == ColumnKind::kModel) s.width = 3.0;
  if (c.kind == ColumnKind::kBaseline) {
    s.width = 2.5;
    s.style = LineStyle::kDashed;
  }
  if (c.kind == ColumnKind::kLearned) {
    s.width = 4.5;
    s.color = {0, 0, 0};
  }
  return s;
}

/// The report's TAR@FAR on the curve: the first point with FAR >= far.
double tar_at(const eval::RocPoints& roc, double far) {
  for (size_t k = 0; k < roc.far.size(); ++k) {
    if (roc.far[k] >= far) return roc.tar[k];
  }
  return kNaN;
}

Chart roc_chart(const std::vector<MatrixCurves>& columns) {
  Chart chart;
  chart.title = "ROC: verification over all probe x gallery pairs";
  chart.x = {"False accept rate (FAR)", kMinFar, 1.0, true};
  chart.y = {"True accept rate (TAR)", 0.0, 1.0, false};
  chart.x_marks = kReportFars;
  chart.legend_outside = true;
  chart.legend_title = "TAR at 1% FAR";
  for (size_t k = 0; k < columns.size(); ++k) {
    auto s = column_series(columns[k], k);
    s.label += "  " + percent(tar_at(columns[k].roc, 1e-2));
    s.x = columns[k].roc.far;
    s.y = columns[k].roc.tar;
    chart.series.push_back(std::move(s));
  }
  return chart;
}

/// The DET's lowest FNMR decade: low enough for every curve up to FAR 0.5 (beyond, FNMR
/// drops to 0 and leaves through the bottom, as DET curves do).
double det_floor(const std::vector<MatrixCurves>& columns) {
  double lowest = 1.0;
  for (const auto& c : columns) {
    for (size_t k = 0; k < c.roc.far.size(); ++k) {
      const double fnmr = 1.0 - c.roc.tar[k];
      if (c.roc.far[k] <= 0.5 && fnmr > 0) lowest = std::min(lowest, fnmr);
    }
  }
  return std::clamp(std::pow(10.0, std::floor(std::log10(lowest))), 1e-4, 1e-1);
}

Chart det_chart(const std::vector<MatrixCurves>& columns) {
  Chart chart;
  chart.title = "DET: false non-match vs false accept rate (log-log)";
  chart.x = {"False accept rate (FAR)", kMinFar, 1.0, true};
  chart.y = {"False non-match rate (FNMR = 1 - TAR)", det_floor(columns), 1.0, true};
  chart.x_marks = kReportFars;
  chart.legend_outside = true;
  chart.legend_title = "FNMR at 1% FAR";
  for (size_t k = 0; k < columns.size(); ++k) {
    auto s = column_series(columns[k], k);
    s.label += "  " + percent(1.0 - tar_at(columns[k].roc, 1e-2));
    s.x = columns[k].roc.far;
    for (double tar : columns[k].roc.tar) s.y.push_back(1.0 - tar);
    chart.series.push_back(std::move(s));
  }
  return chart;
}

Chart cmc_chart(const std::vector<MatrixCurves>& columns) {
  Chart chart;
  chart.title = "CMC: general re-identification protocol";
  chart.legend_outside = true;
  chart.legend_title = "rank-1 rate";
  double lowest = 1.0;
  size_t ranks = 1;
  for (size_t k = 0; k < columns.size(); ++k) {
    const auto& cmc = columns[k].cmc;
    auto s = column_series(columns[k], k);
    s.label += "  " + percent(cmc.empty() ? kNaN : cmc.front());
    for (size_t r = 0; r < cmc.size(); ++r) {
      s.x.push_back(static_cast<double>(r + 1));
      s.y.push_back(cmc[r]);
      if (!std::isnan(cmc[r])) lowest = std::min(lowest, cmc[r]);
    }
    ranks = std::max(ranks, cmc.size());
    chart.series.push_back(std::move(s));
  }
  chart.x = {"Rank", 1.0, static_cast<double>(std::max<size_t>(ranks, 2)), false};
  // A little above 1, so that curves reaching 100% stay visible above the frame.
  chart.y = {"Identification rate", std::max(0.0, std::floor(lowest * 10.0 - 0.5) / 10.0), 1.01, false};
  return chart;
}

/// Bin edges lo, lo + w, ..., hi of a density.
std::vector<double> edges(double lo, double width, size_t bins) {
  std::vector<double> out;
  for (size_t k = 0; k <= bins; ++k) out.push_back(lo + width * static_cast<double>(k));
  return out;
}

Series density_series(const std::string& label, const std::vector<double>& bin_edges,
                      const eval::Density& density, Rgb colour) {
  Series s;
  s.label = label;
  s.x = bin_edges;
  s.y = density.density;
  s.color = colour;
  s.width = 2.5;
  s.steps = true;
  s.fill_alpha = 0.3;
  return s;
}

double highest(const std::vector<Series>& series) {
  double top = 0;
  for (const auto& s : series) {
    for (double v : s.y) top = std::max(top, v);
  }
  return top > 0 ? top : 1.0;
}

/// Puts the legend in the top corner whose third of the x range has the lower bars.
LegendCorner emptier_top_corner(const Chart& chart) {
  double left = 0, right = 0;
  const double span = chart.x.max - chart.x.min;
  for (const auto& s : chart.series) {
    for (size_t k = 0; k < s.y.size() && k < s.x.size(); ++k) {
      if (s.x[k] < chart.x.min + span / 2.5) left = std::max(left, s.y[k]);
      if (s.x[k] > chart.x.max - span / 2.5) right = std::max(right, s.y[k]);
    }
  }
  return left < right ? LegendCorner::kTopLeft : LegendCorner::kTopRight;
}

std::string d_prime_text(double d) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "d' = %.2f", d);
  return std::isnan(d) ? "d' n/a" : buffer;
}

Chart score_chart(const MatrixCurves& c) {
  const auto& d = c.densities;
  const auto bin_edges = edges(d.lo, d.bin_width(), d.genuine.density.size());
  Chart chart;
  chart.title = c.name + ": genuine vs impostor score densities (" + d_prime_text(d.d_prime()) + ")";
  chart.series.push_back(density_series("genuine (same subject), n = " + with_thousands(d.genuine.count),
                                        bin_edges, d.genuine, kGenuine));
  chart.series.push_back(
      density_series("impostor, n = " + with_thousands(d.impostor.count), bin_edges, d.impostor, kImpostor));
  chart.x = {"Score", d.lo, d.hi, false};
  chart.y = {"Density", 0.0, kHeadroom * highest(chart.series), false};
  chart.legend = emptier_top_corner(chart);
  return chart;
}

/// Every single model's two densities on one score axis: how far apart their ranges lie.
Chart models_score_chart(const std::vector<const MatrixCurves*>& models) {
  Chart chart;
  chart.title = "Score ranges of the single models";
  double lo = kInf, hi = -kInf;
  for (size_t k = 0; k < models.size(); ++k) {
    const auto& d = models[k]->densities;
    const auto bin_edges = edges(d.lo, d.bin_width(), d.genuine.density.size());
    auto genuine = density_series(models[k]->name + " genuine", bin_edges, d.genuine, palette_color(k));
    auto impostor = density_series(models[k]->name + " impostor", bin_edges, d.impostor, palette_color(k));
    genuine.fill_alpha = impostor.fill_alpha = 0.0;
    impostor.style = LineStyle::kDashed;
    chart.series.push_back(std::move(genuine));
    chart.series.push_back(std::move(impostor));
    lo = std::min(lo, d.lo);
    hi = std::max(hi, d.hi);
  }
  chart.x = {"Score", lo, hi, false};
  chart.y = {"Density", 0.0, 1.15 * kHeadroom * highest(chart.series), false};  // a taller legend
  chart.legend = emptier_top_corner(chart);
  chart.legend_columns = 2;  // one row per model: genuine | impostor
  return chart;
}

Chart quality_chart(const eval::QualitySplit& split, const std::string& face_model) {
  const auto bin_edges = edges(split.lo, split.bin_width(), split.rank1_correct.density.size());
  Chart chart;
  chart.title = "Quality weights by " + face_model + "'s rank-1 outcome";
  char mean[64];
  std::snprintf(mean, sizeof mean, ", mean %.3f", split.rank1_correct.mean);
  chart.series.push_back(density_series("rank-1 correct, n = " + with_thousands(split.rank1_correct.count) +
                                            (split.rank1_correct.count ? mean : ""),
                                        bin_edges, split.rank1_correct, kGenuine));
  std::snprintf(mean, sizeof mean, ", mean %.3f", split.rank1_wrong.mean);
  chart.series.push_back(density_series(
      "rank-1 wrong, n = " + with_thousands(split.rank1_wrong.count) + (split.rank1_wrong.count ? mean : ""),
      bin_edges, split.rank1_wrong, kImpostor));
  chart.x = {"Face quality weight (" + face_model + ")", split.lo, split.hi, false};
  chart.y = {"Density", 0.0, kHeadroom * highest(chart.series), false};
  chart.legend = emptier_top_corner(chart);
  return chart;
}

/// A file-name-safe version of a column name.
std::string file_stem(const std::string& name) {
  std::string out;
  for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
  return out.empty() ? "column" : out;
}

class PlotWriter {
 public:
  explicit PlotWriter(const TablesPlotsOptions& options) : options_(options) {
    std::error_code error;
    std::filesystem::create_directories(options.dir, error);
    if (error || !std::filesystem::is_directory(options.dir)) {
      throw Error(options.dir + ": cannot create the plots folder (" + error.message() + ")");
    }
  }
  /// `stem`.png, .svg and .csv in the folder.
  void write(const std::string& stem, const Chart& chart, const std::string& csv) {
    const auto path = (std::filesystem::path(options_.dir) / stem).string();
    save_chart(chart, path, options_.size);
    io::write_text_file(path + ".csv", csv);
    for (const char* ext : {".png", ".svg", ".csv"}) written_.push_back(path + ext);
  }
  /// A stem not used yet in this run (a model and a baseline could share a name).
  std::string unique_stem(const std::string& base) {
    std::string stem = base;
    for (int k = 2; !stems_.insert(stem).second; ++k) stem = base + "_" + std::to_string(k);
    return stem;
  }
  std::vector<std::string> written() const { return written_; }

 private:
  const TablesPlotsOptions& options_;
  std::set<std::string> stems_;
  std::vector<std::string> written_;
};

void write_quality_plot(PlotWriter& writer, const eval::TablesCurves& curves,
                        const std::vector<float>& weights) {
  const auto* face = eval::face_model_curves(curves.columns());
  if (!face) {
    spdlog::warn("--plots: no single model to split the quality weights by; no quality plot");
    return;
  }
  const auto split = eval::quality_split(weights, face->first_good_positions);
  writer.write(writer.unique_stem("quality"), quality_chart(split, face->name), eval::quality_csv(split));
}

/// The same message as formats::read_face_weights gives for a file of the wrong length.
void check_weight_count(const TablesPlotsOptions& options, size_t weights, int64_t probes) {
  if (static_cast<int64_t>(weights) == probes) return;
  throw InputError(options.face_weights, "face_weights",
                   "has " + std::to_string(weights) + " rows but the score matrices have " +
                       std::to_string(probes) + " probes");
}

/// `weights`: the quality weights (one per probe), or nullptr for no quality plot.
std::vector<std::string> write_plots(const eval::TablesCurves& curves, const TablesPlotsOptions& options,
                                     const std::vector<float>* weights) {
  if (weights) check_weight_count(options, weights->size(), curves.num_probes());
  const auto start = std::chrono::steady_clock::now();
  PlotWriter writer(options);
  const auto& columns = curves.columns();
  for (const auto& c : columns) {
    if (c.roc.far.empty())
      spdlog::warn("--plots: {} has no genuine or no impostor pair; no ROC/DET curve", c.name);
  }
  writer.write(writer.unique_stem("roc"), roc_chart(columns), eval::roc_csv(columns));
  writer.write(writer.unique_stem("det"), det_chart(columns), eval::det_csv(columns));
  writer.write(writer.unique_stem("cmc"), cmc_chart(columns), eval::cmc_csv(columns));
  std::vector<const MatrixCurves*> models;
  for (const auto& c : columns) {
    if (c.kind == ColumnKind::kModel) models.push_back(&c);
  }
  if (!models.empty()) {
    writer.write(writer.unique_stem("scores_models"), models_score_chart(models),
                 eval::score_densities_csv(models));
  }
  for (const auto& c : columns) {
    writer.write(writer.unique_stem("scores_" + file_stem(c.name)), score_chart(c),
                 eval::score_density_csv(c.densities));
  }
  if (weights) write_quality_plot(writer, curves, *weights);
  const auto files = writer.written();
  spdlog::info("--plots: {} files in {} ({:.0f} ms drawing, {:.0f} ms computing the curves)", files.size(),
               options.dir,
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count(),
               curves.seconds() * 1e3);
  return files;
}

}  // namespace

std::vector<std::string> write_tables_plots(const eval::TablesCurves& curves,
                                            const TablesPlotsOptions& options) {
  if (options.face_weights.empty()) return write_plots(curves, options, nullptr);
  const auto weights = formats::read_face_weights(options.face_weights);
  return write_plots(curves, options, &weights);
}

TablesPlotter::TablesPlotter(TablesPlotsOptions options) : options_(std::move(options)) {
  if (!options_.face_weights.empty()) weights_ = formats::read_face_weights(options_.face_weights);
}

eval::ScoresObserver TablesPlotter::observer() {
  return [this](const eval::TableColumnId& column, const ModelScores& scores, const TestLabels& labels) {
    if (!options_.face_weights.empty())
      check_weight_count(options_, weights_.size(), static_cast<int64_t>(labels.query.size()));
    curves_.add(column.label, column.kind, scores, labels);
  };
}

std::vector<std::string> TablesPlotter::write() const {
  return write_plots(curves_, options_, options_.face_weights.empty() ? nullptr : &weights_);
}

}  // namespace qme::plot
