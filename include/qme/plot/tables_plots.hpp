#pragma once
/// qme_tables --plots: the figures of a table run (ROC, DET, CMC, genuine vs impostor score
/// densities per column and for the single models together, quality weights by the face
/// model's rank-1 outcome), each as PNG + SVG drawn with PLplot, and as CSV.
#include <string>
#include <vector>

#include "qme/eval/curves.hpp"
#include "qme/plot/chart.hpp"

namespace qme::plot {

struct TablesPlotsOptions {
  std::string dir;           // created when missing
  std::string face_weights;  // optional quality-weights file: adds the quality plot
  ImageSize size;
};

/// Writes every plot of `curves` into options.dir and returns the files written, in order.
/// Throws InputError for a bad weights file (naming it), Error when a file cannot be written.
std::vector<std::string> write_tables_plots(const eval::TablesCurves& curves,
                                            const TablesPlotsOptions& options);

/// The plots of one qme_tables run: reads the weights file when constructed and checks its
/// length against the first evaluated column, so that a bad file fails before the evaluation.
class TablesPlotter {
 public:
  explicit TablesPlotter(TablesPlotsOptions options);
  TablesPlotter(const TablesPlotter&) = delete;  // observer() holds `this`
  TablesPlotter& operator=(const TablesPlotter&) = delete;
  /// For TablesOptions::observers: computes each column's curves (the plotter must outlive the run).
  eval::ScoresObserver observer();
  std::vector<std::string> write() const;

 private:
  TablesPlotsOptions options_;
  std::vector<float> weights_;
  eval::TablesCurves curves_;
};

}  // namespace qme::plot
