#pragma once
/// A line chart as plain data (axes, series, legend), drawn with PLplot's cairo drivers into a
/// PNG and an SVG. Nothing of PLplot shows here: callers describe, chart.cpp draws.
#include <cstdint>
#include <string>
#include <vector>

namespace qme::plot {

struct Rgb {
  int r = 0, g = 0, b = 0;
};

/// The categorical palette of the plots (matplotlib's tab10), by index (wraps around).
Rgb palette_color(size_t index);

enum class LineStyle { kSolid, kDashed, kDotted };

struct Series {
  std::string label;         // legend text; empty: not in the legend
  std::vector<double> x, y;  // data coordinates; with steps, x holds y.size() + 1 bin edges
  Rgb color;
  double width = 2.0;  // line width (PLplot units, ~pixels at the default size)
  LineStyle style = LineStyle::kSolid;
  bool steps = false;       // draw as a histogram outline over the bins
  double fill_alpha = 0.0;  // > 0: fill the area under a step series with this opacity
};

struct Axis {
  std::string label;
  double min = 0, max = 1;
  bool log = false;  // base-10 axis; values <= 0 lie below it and are clipped
  double tick = 0;   // major tick interval on a linear axis; 0: PLplot picks one
};

enum class LegendCorner { kTopLeft, kTopRight, kBottomLeft, kBottomRight };

struct Chart {
  std::string title;
  Axis x, y;
  std::vector<Series> series;
  std::vector<double> x_marks;  // dotted vertical reference lines (e.g. the report's FARs)
  LegendCorner legend = LegendCorner::kBottomRight;
  bool legend_outside = false;  // true: to the right of the axes (many series), `legend` ignored
  std::string legend_title;     // optional first legend line
  int legend_columns = 1;       // entries fill the columns row by row
};

struct ImageSize {
  int width = 1200, height = 900;
};

/// Writes `stem`.png and `stem`.svg (each to a temporary file renamed into place). Throws
/// Error naming the file when PLplot's cairo driver is missing or the file cannot be moved
/// into place. Not thread-safe (PLplot keeps global state): draw one chart at a time.
void save_chart(const Chart& chart, const std::string& stem, const ImageSize& size = {});

/// True when PLplot's pngcairo and svgcairo devices are available at run time.
bool cairo_devices_available();

}  // namespace qme::plot
