#include "qme/plot/analysis_charts.hpp"

#include <plstream.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <sstream>
#include <system_error>
#include <utility>

#include "plplot_figure.hpp"
#include "qme/core/error.hpp"
#include "qme/core/nan.hpp"
#include "qme/core/utf8.hpp"
#include "qme/eval/paper_table.hpp"
#include "qme/io/csv.hpp"
#include "qme/io/text_file.hpp"

namespace qme::plot {

namespace {

using eval::ColumnKind;

constexpr double kPi = 3.14159265358979323846;

// cmap0 indices after the shared ones (plplot_figure.hpp).
constexpr PLINT kFirstColour = 3;  // the marks' colours, then the legend entries'

// ---- what a figure holds ----------------------------------------------------

enum class Marker { kDisc, kSquare, kDiamond };

/// One column on the category axis: markers at (x, y), optionally bars lo..hi, a note above
/// each marker, and a line through the markers.
struct Marks {
  Rgb colour;
  double width = 2.0;
  LineStyle style = LineStyle::kSolid;
  Marker marker = Marker::kDisc;
  std::vector<double> x, y, lo, hi;  // lo, hi empty: no bars
  std::vector<std::string> notes;    // empty: none
  bool line = false;
};

struct LegendEntry {
  std::string text;
  Rgb colour;
  Marker marker = Marker::kDisc;
  double width = 2.0;
  LineStyle style = LineStyle::kSolid;
  bool line = false;
};

/// A chart whose x axis is categories at 1..n, labelled under the axis, optionally with labels
/// on the n + 1 boundaries between them (bin edges) in a row above.
struct CategoryFigure {
  std::string title, x_label, y_label;
  std::vector<std::string> categories;
  std::vector<std::string> boundaries;  // empty, or one per boundary at 0.5, 1.5, ..., n + 0.5
  Axis y;
  std::vector<Marks> marks;
  double marker_size = 0.4;  // radius, in character heights
  std::vector<LegendEntry> legend;
  bool legend_right = false;  // else in one row above the axes
};

// ---- styles -----------------------------------------------------------------

/// Marker of a column kind, the same in both charts.
Marker kind_marker(ColumnKind kind) {
  switch (kind) {
    case ColumnKind::kBaseline:
      return Marker::kSquare;
    case ColumnKind::kLearned:
      return Marker::kDiamond;
    case ColumnKind::kModel:
      break;
  }
  return Marker::kDisc;
}

/// The legend draws markers as glyphs (UTF-8, through cairo's fonts).
const char* marker_glyph(Marker marker) {
  switch (marker) {
    case Marker::kSquare:
      return "\u25A0";
    case Marker::kDiamond:
      return "\u25C6";
    case Marker::kDisc:
      break;
  }
  return "\u25CF";
}

/// qme_tables --plots' column look: models solid, baselines dashed, learned fusions thick black.
Marks column_marks(ColumnKind kind, size_t index) {
  Marks m;
  m.marker = kind_marker(kind);
  m.colour = palette_color(index);
  m.width = 3.0;
  if (kind == ColumnKind::kBaseline) {
    m.width = 2.5;
    m.style = LineStyle::kDashed;
  }
  if (kind == ColumnKind::kLearned) {
    m.width = 4.5;
    m.colour = {0, 0, 0};
  }
  return m;
}

// ---- text -------------------------------------------------------------------

std::string short_number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", v);
  return buffer;
}

using io::csv_field;
using io::csv_number;

// ---- y range ----------------------------------------------------------------

/// A y axis around the finite `values`, padded; `headroom` (a share of the span) above them for
/// notes. Rates (all values in [0, 1]) stay within [0, 1] but for a sliver above 1, so that a
/// marker at 100% is not cut by the frame.
Axis value_axis(const std::string& label, const std::vector<double>& values, double headroom) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (lo > hi) return {label, 0.0, 1.0, false};
  const bool rate = lo >= 0 && hi <= 1;
  const double span = hi > lo ? hi - lo : std::max(std::abs(hi), 1.0) * 0.1;
  double bottom = lo - 0.08 * span, top = hi + (0.08 + headroom) * span;
  if (rate) bottom = std::max(bottom, 0.0);
  if (rate && headroom == 0) top = std::min(top, 1.02);
  return {label, bottom, top, false};
}

// ---- drawing ----------------------------------------------------------------

void set_colours(plstream& pls, const CategoryFigure& figure) {
  const size_t n = figure.marks.size() + figure.legend.size();
  pls.scmap0n(static_cast<PLINT>(kFirstColour + n));
  pls.scol0a(kBackground, 255, 255, 255, 1.0);
  pls.scol0a(kInk, 0, 0, 0, 1.0);
  pls.scol0a(kGrid, 220, 220, 220, 1.0);
  for (size_t k = 0; k < n; ++k) {
    const Rgb c =
        k < figure.marks.size() ? figure.marks[k].colour : figure.legend[k - figure.marks.size()].colour;
    pls.scol0a(static_cast<PLINT>(kFirstColour + k), c.r, c.g, c.b, 1.0);
  }
}

constexpr double kLabelScale = 1.1;  // character scale of tick and category labels (chart.cpp's)
constexpr double kNoteScale = 0.95;
constexpr double kSlant = 35.0 * kPi / 180.0;
constexpr double kGlyphWidth = 0.75;  // a character's width in character heights (DejaVu Sans, measured)

/// Where the axes go on the page and how the labels under them are set. PLplot cannot measure
/// text before drawing it, so widths are estimated from the number of characters.
struct Layout {
  double left = 0.11, right = 0.96, bottom = 0.12, top = 0.90;  // the axes, normalised
  double page_w = 0, page_h = 0;                                // mm
  double char_mm = 0;                                           // character height at kLabelScale
  double slot_mm = 0;                                           // one category's width
  bool slanted = false;
  size_t category_step = 1, boundary_step = 1;  // label every k-th so that labels do not overlap
  bool notes = true;                            // the notes above the markers fit side by side
  double band_mm = 0;                           // under the axes: the labels, then the x-axis title

  double text_mm(size_t glyphs, double scale = kLabelScale) const {
    return static_cast<double>(glyphs) * kGlyphWidth * char_mm * scale / kLabelScale;
  }
  /// 1 when labels of `glyphs` characters fit each `slot_mm` wide, else how many slots one needs.
  size_t step(size_t glyphs, double scale = kLabelScale) const {
    return static_cast<size_t>(std::max(1.0, std::ceil((text_mm(glyphs, scale) + char_mm) / slot_mm)));
  }
};

size_t widest(const std::vector<std::string>& texts) {
  size_t out = 0;
  for (const auto& t : texts) out = std::max(out, utf8_length(t));
  return out;
}

Layout layout(plstream& pls, const CategoryFigure& figure) {
  Layout out;
  if (figure.legend_right) out.right = 0.70;
  if (!figure.legend_right && !figure.legend.empty()) out.top = 0.85;
  PLFLT xmin = 0, xmax = 0, ymin = 0, ymax = 0, def = 0;
  pls.gspa(xmin, xmax, ymin, ymax);
  pls.schr(0, kLabelScale);
  pls.gchr(def, out.char_mm);
  out.page_w = xmax - xmin;
  out.page_h = ymax - ymin;
  out.slot_mm = (out.right - out.left) * out.page_w /
                static_cast<double>(std::max<size_t>(1, figure.categories.size()));
  std::vector<std::string> notes;
  for (const auto& m : figure.marks) notes.insert(notes.end(), m.notes.begin(), m.notes.end());
  out.notes = out.step(widest(notes), kNoteScale) == 1;
  double rows_mm = 0.6 * out.char_mm;
  if (!figure.boundaries.empty()) {
    out.boundary_step = out.step(widest(figure.boundaries));
    rows_mm += 1.6 * out.char_mm;
  }
  // Category labels: side by side if they fit, else slanted, else (under boundary labels) thinned.
  const size_t longest = widest(figure.categories);
  out.slanted = figure.boundaries.empty() && out.step(longest) > 1;
  if (!figure.boundaries.empty()) out.category_step = out.step(longest);
  rows_mm += out.slanted ? std::sin(kSlant) * out.text_mm(longest) + 1.6 * out.char_mm : 1.6 * out.char_mm;
  const double band_mm = rows_mm + (figure.x_label.empty() ? 0.6 : 2.4) * out.char_mm;
  out.bottom = std::max(0.08, band_mm / out.page_h);
  out.band_mm = out.bottom * out.page_h;
  return out;
}

void draw_segment(plstream& pls, double x0, double y0, double x1, double y1) {
  std::array<PLFLT, 2> xs = {x0, x1}, ys = {y0, y1};
  pls.line(2, xs.data(), ys.data());
}

/// mm per world unit along each axis of the current viewport.
struct Scale {
  double x = 1, y = 1;
};

/// A filled marker of radius r_mm centred on (x, y): drawn as a polygon, which unlike a font
/// glyph sits exactly on its point.
void draw_marker(plstream& pls, Marker marker, double x, double y, double r_mm, const Scale& scale) {
  std::vector<PLFLT> xs, ys;
  auto corner = [&](double angle, double r) {
    xs.push_back(x + r * std::cos(angle) / scale.x);
    ys.push_back(y + r * std::sin(angle) / scale.y);
  };
  if (marker == Marker::kDisc) {
    for (int k = 0; k < 32; ++k) corner(2 * kPi * k / 32, r_mm);
  } else {
    const double turn = marker == Marker::kSquare ? kPi / 4 : 0.0;  // the diamond stands on a tip
    const double r = marker == Marker::kSquare ? 1.2 * r_mm : 1.3 * r_mm;
    for (int k = 0; k < 4; ++k) corner(turn + kPi / 2 * k, r);
  }
  pls.fill(static_cast<PLINT>(xs.size()), xs.data(), ys.data());
}

void draw_bars(plstream& pls, const Marks& m, const Scale& scale, double char_mm) {
  const double cap = 0.35 * char_mm / scale.x;  // half the cap's width
  pls.width(2.0);
  pls.lsty(1);
  for (size_t k = 0; k < m.x.size() && k < m.lo.size() && k < m.hi.size(); ++k) {
    if (!std::isfinite(m.lo[k]) || !std::isfinite(m.hi[k])) continue;
    draw_segment(pls, m.x[k], m.lo[k], m.x[k], m.hi[k]);
    draw_segment(pls, m.x[k] - cap, m.lo[k], m.x[k] + cap, m.lo[k]);
    draw_segment(pls, m.x[k] - cap, m.hi[k], m.x[k] + cap, m.hi[k]);
  }
}

/// Each note centred above its bar (or its marker when the bar is undefined).
void draw_notes(plstream& pls, const Marks& m, const Scale& scale, double char_mm) {
  pls.schr(0, kNoteScale);
  for (size_t k = 0; k < m.notes.size() && k < m.x.size(); ++k) {
    const double top = k < m.hi.size() && std::isfinite(m.hi[k]) ? m.hi[k] : m.y[k];
    const double y = std::isfinite(top) ? top + 0.9 * char_mm / scale.y : m.y[k];
    if (std::isfinite(y)) pls.ptex(m.x[k], y, 1.0, 0.0, 0.5, plain_text(m.notes[k]).c_str());
  }
}

void draw_marks(plstream& pls, const CategoryFigure& figure, const Layout& at, const Scale& scale) {
  for (size_t k = 0; k < figure.marks.size(); ++k) {
    const auto& m = figure.marks[k];
    pls.col0(static_cast<PLINT>(kFirstColour + k));
    if (!m.lo.empty()) draw_bars(pls, m, scale, at.char_mm);
    if (m.line) {
      pls.width(m.width);
      pls.lsty(style_index(m.style));
      draw_polyline(pls, m.x, m.y);
      pls.lsty(1);
    }
    for (size_t j = 0; j < m.x.size() && j < m.y.size(); ++j) {
      if (!std::isfinite(m.y[j])) continue;
      draw_marker(pls, m.marker, m.x[j], m.y[j], figure.marker_size * at.char_mm, scale);
    }
    if (at.notes) draw_notes(pls, m, scale, at.char_mm);
  }
}

/// The frame, the y axis with its grid and title, and a tick at each category.
void draw_axes(plstream& pls, const CategoryFigure& figure) {
  pls.col0(kGrid);
  pls.width(1.0);
  pls.box("", 0, 0, "g", figure.y.tick, 0);
  pls.col0(kInk);
  pls.width(1.5);
  pls.schr(0, kLabelScale);
  pls.box("bc", 0, 0, "bcnstv", figure.y.tick, 0);
  const double tick = 0.015 * (figure.y.max - figure.y.min);
  const double first = figure.boundaries.empty() ? 1.0 : 0.5;  // ticks on the labelled positions
  const size_t ticks = figure.categories.size() + (figure.boundaries.empty() ? 0 : 1);
  for (size_t k = 0; k < ticks; ++k) {
    const double x = first + static_cast<double>(k);
    draw_segment(pls, x, figure.y.min, x, figure.y.min + tick);
    draw_segment(pls, x, figure.y.max, x, figure.y.max - tick);
  }
  pls.schr(0, 1.25);
  pls.mtex("l", 3.6, 0.5, 0.5, plain_text(figure.y_label).c_str());
}

/// `text` cut to at most `max` characters, the last of them an ellipsis.
std::string cut_to(const std::string& text, size_t max) {
  if (utf8_length(text) <= max) return text;
  std::string out;
  size_t kept = 0;
  for (char c : text) {
    const bool starts_glyph = utf8_starts_code_point(c);
    if (starts_glyph && ++kept > std::max<size_t>(max, 1) - 1) break;
    out += c;
  }
  return out + "\u2026";
}

/// A slanted label ends at its category and runs down to the left: it keeps the characters that
/// fit between the page's left edge and its category.
std::string slanted_label(const std::string& text, size_t k, const Layout& at) {
  const double room_mm = at.left * at.page_w + (static_cast<double>(k) + 0.5) * at.slot_mm - at.char_mm;
  const double glyph_mm = std::cos(kSlant) * at.text_mm(1);
  return cut_to(text, static_cast<size_t>(std::max(1.0, room_mm / glyph_mm)));
}

void draw_category_row(plstream& pls, const CategoryFigure& figure, const Layout& at, double row) {
  for (size_t k = 0; k < figure.categories.size(); k += at.category_step) {
    const double x = static_cast<double>(k + 1);
    if (at.slanted) {
      const auto text = plain_text(slanted_label(figure.categories[k], k, at));
      pls.ptex(x, row, std::cos(kSlant) / at.slot_mm, std::sin(kSlant), 1.0, text.c_str());
    } else {
      pls.ptex(x, row, 1.0, 0.0, 0.5, plain_text(figure.categories[k]).c_str());
    }
  }
}

/// The labels under the axes, drawn in a page-wide band (so that slanted labels are not
/// clipped at the axes' edge) whose x matches the axes' and whose y is mm above the page bottom.
void draw_labels(plstream& pls, const CategoryFigure& figure, const Layout& at) {
  const double n = static_cast<double>(figure.categories.size());
  const double x0 = 0.5 - at.left * at.page_w / at.slot_mm;  // the page's left edge
  pls.vpor(0.0, 1.0, 0.0, at.bottom);
  pls.wind(x0, x0 + at.page_w / at.slot_mm, 0.0, at.band_mm);
  pls.col0(kInk);
  pls.schr(0, kLabelScale);
  double row = at.band_mm - 1.2 * at.char_mm;
  for (size_t k = 0; k < figure.boundaries.size(); k += at.boundary_step) {
    pls.ptex(0.5 + static_cast<double>(k), row, 1.0, 0.0, 0.5, plain_text(figure.boundaries[k]).c_str());
  }
  if (!figure.boundaries.empty()) row -= 1.6 * at.char_mm;
  draw_category_row(pls, figure, at, row);
  // The x-axis title: centred under the axes, but kept on the page.
  const double half_mm = 0.5 * at.text_mm(utf8_length(figure.x_label), 1.25) + at.char_mm;
  const double centre_mm = (0.5 * (n + 1.0) - x0) * at.slot_mm;
  const double x_mm = std::clamp(centre_mm, half_mm, std::max(half_mm, at.page_w - half_mm));
  pls.schr(0, 1.25);
  pls.ptex(x0 + x_mm / at.slot_mm, 0.9 * at.char_mm, 1.0, 0.0, 0.5, plain_text(figure.x_label).c_str());
}

void draw_legend(plstream& pls, const CategoryFigure& figure) {
  const auto n = static_cast<PLINT>(figure.legend.size());
  if (n == 0) return;
  std::vector<PLINT> opts, text_colours, colours, styles, symbol_numbers,
      unused_ints(figure.legend.size(), 0);
  std::vector<PLFLT> widths, symbol_scales, unused_scales(figure.legend.size(), 1.0);
  std::vector<std::string> texts;
  std::vector<const char*> text_ptrs, symbols;
  for (size_t k = 0; k < figure.legend.size(); ++k) {
    const auto& e = figure.legend[k];
    opts.push_back(PL_LEGEND_SYMBOL | (e.line ? PL_LEGEND_LINE : 0));
    text_colours.push_back(kInk);
    texts.push_back(plain_text(e.text));
    colours.push_back(static_cast<PLINT>(kFirstColour + figure.marks.size() + k));
    styles.push_back(style_index(e.style));
    widths.push_back(e.width);
    symbol_numbers.push_back(1);
    symbol_scales.push_back(e.line ? 1.0 : 1.3);
    symbols.push_back(marker_glyph(e.marker));
  }
  for (const auto& t : texts) text_ptrs.push_back(t.c_str());
  const bool right = figure.legend_right;
  const PLINT position = PL_POSITION_OUTSIDE | (right ? PL_POSITION_RIGHT : PL_POSITION_TOP);
  PLFLT width = 0, height = 0;
  pls.schr(0, kLabelScale);
  pls.legend(&width, &height, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX | PL_LEGEND_ROW_MAJOR, position,
             right ? 0.03 : 0.0, right ? 0.0 : 0.02, right ? 0.07 : 0.025, kBackground, kInk, 1,
             right ? n : 1, right ? 1 : n, n, opts.data(), 1.0, 1.0, 2.0, 0.0, text_colours.data(),
             text_ptrs.data(), unused_ints.data(), unused_ints.data(), unused_scales.data(),
             unused_scales.data(), colours.data(), styles.data(), widths.data(), colours.data(),
             symbol_scales.data(), symbol_numbers.data(), symbols.data());
}

void draw(plstream& pls, const CategoryFigure& figure) {
  pls.adv(0);
  const auto at = layout(pls, figure);
  const double n = static_cast<double>(figure.categories.size());
  pls.vpor(at.left, at.right, at.bottom, at.top);
  pls.wind(0.5, n + 0.5, figure.y.min, figure.y.max);
  const Scale scale{at.slot_mm, (at.top - at.bottom) * at.page_h / (figure.y.max - figure.y.min)};
  draw_axes(pls, figure);
  draw_marks(pls, figure, at, scale);
  draw_legend(pls, figure);
  draw_labels(pls, figure, at);
  draw_page_title(pls, figure.title);
}

/// stem.png, stem.svg and stem.csv, in its folder (created when missing).
std::vector<std::string> save(const CategoryFigure& figure, const std::string& csv, const std::string& stem,
                              const ImageSize& size) {
  const auto folder = std::filesystem::path(stem).parent_path();
  std::error_code error;
  if (!folder.empty()) std::filesystem::create_directories(folder, error);
  save_png_and_svg(
      stem, size, [&](plstream& pls) { set_colours(pls, figure); },
      [&](plstream& pls) { draw(pls, figure); });
  io::write_text_file(stem + ".csv", csv);
  return {stem + ".png", stem + ".svg", stem + ".csv"};
}

// ---- the interval chart -------------------------------------------------------

/// A legend entry for each column kind present: what the marker shapes mean.
std::vector<LegendEntry> kind_legend(const std::vector<ColumnKind>& kinds) {
  const std::array<std::pair<ColumnKind, const char*>, 3> names = {
      {{ColumnKind::kModel, "single model"},
       {ColumnKind::kBaseline, "classic fusion"},
       {ColumnKind::kLearned, "learned fusion"}}};
  std::vector<LegendEntry> out;
  for (const auto& [kind, text] : names) {
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) continue;
    LegendEntry e;
    e.text = text;
    e.colour = {90, 90, 90};
    e.marker = kind_marker(kind);
    out.push_back(e);
  }
  return out;
}

CategoryFigure interval_figure(const std::string& title, const std::string& metric_label,
                               const std::vector<IntervalBar>& bars) {
  CategoryFigure figure;
  figure.title = title;
  figure.y_label = metric_label;
  std::vector<double> values;
  std::vector<ColumnKind> kinds;
  for (size_t k = 0; k < bars.size(); ++k) {
    const auto& b = bars[k];
    auto m = column_marks(b.kind, k);
    m.x = {static_cast<double>(k + 1)};
    m.y = {b.value};
    m.lo = {b.lo};
    m.hi = {b.hi};
    m.notes = {std::isnan(b.value) ? "n/a" : short_number(b.value)};
    figure.marks.push_back(std::move(m));
    figure.categories.push_back(b.label);
    values.insert(values.end(), {b.value, b.lo, b.hi});
    kinds.push_back(b.kind);
  }
  figure.y = value_axis(metric_label, values, 0.12);
  figure.legend = kind_legend(kinds);
  return figure;
}

std::string interval_csv(const std::vector<IntervalBar>& bars) {
  std::ostringstream out;
  out << "label,value,lo,hi\n";
  for (const auto& b : bars) {
    out << csv_field(b.label) << ',' << csv_number(b.value) << ',' << csv_number(b.lo) << ','
        << csv_number(b.hi) << '\n';
  }
  return out.str();
}

// ---- the quality-bin chart ----------------------------------------------------

/// metric_name in each of a column's reports, NaN where absent.
std::vector<double> metric_per_bin(const analysis::QualityBinColumn& column, const std::string& metric_name) {
  std::vector<double> out;
  for (const auto& report : column.reports) out.push_back(report.find(metric_name).value_or(kNaN));
  return out;
}

/// Probes per bin, from the first column's reports (every column has the same bins).
std::vector<double> probes_per_bin(const std::vector<analysis::QualityBinColumn>& columns, size_t bins) {
  if (columns.empty()) return std::vector<double>(bins, kNaN);
  return metric_per_bin(columns.front(), "num_probe_templates");
}

void check_bins(const std::string& stem, const std::string& metric_name, const std::vector<double>& edges,
                const std::vector<analysis::QualityBinColumn>& columns) {
  if (edges.size() < 2) throw Error(stem + ".png: a quality-bin chart needs at least two bin edges");
  bool found = columns.empty();
  for (const auto& c : columns) {
    if (c.reports.size() != edges.size() - 1) {
      throw Error(stem + ".png: column '" + c.label + "' has " + std::to_string(c.reports.size()) +
                  " bin reports but the edges give " + std::to_string(edges.size() - 1) + " quality bins");
    }
    for (const auto& r : c.reports) found = found || r.find(metric_name).has_value();
  }
  if (!found) throw Error(stem + ".png: no report has the metric '" + metric_name + "'");
}

CategoryFigure quality_figure(const std::string& title, const std::string& metric_name,
                              const std::vector<double>& edges,
                              const std::vector<analysis::QualityBinColumn>& columns) {
  CategoryFigure figure;
  figure.title = title;
  figure.y_label = metric_name;
  figure.x_label = "Face quality weight (bins of equal probe count)";
  figure.legend_right = true;
  figure.marker_size = 0.28;
  const size_t bins = edges.size() - 1;
  const auto probes = probes_per_bin(columns, bins);
  for (double e : edges) figure.boundaries.push_back(short_number(e));
  for (double n : probes) {
    figure.categories.push_back(std::isnan(n) ? "" : "n = " + std::to_string(std::llround(n)));
  }
  std::vector<double> values;
  for (size_t k = 0; k < columns.size(); ++k) {
    auto m = column_marks(columns[k].kind, k);
    for (size_t b = 0; b < bins; ++b) m.x.push_back(static_cast<double>(b + 1));
    m.y = metric_per_bin(columns[k], metric_name);
    m.line = true;
    values.insert(values.end(), m.y.begin(), m.y.end());
    figure.legend.push_back({columns[k].label, m.colour, m.marker, m.width, m.style, true});
    figure.marks.push_back(std::move(m));
  }
  figure.y = value_axis(metric_name, values, 0.0);
  return figure;
}

std::string quality_bin_csv(const std::string& metric_name, const std::vector<double>& edges,
                            const std::vector<analysis::QualityBinColumn>& columns) {
  std::ostringstream out;
  out << "bin,lo,hi,probes";
  for (const auto& c : columns) out << ',' << csv_field(c.label);
  out << '\n';
  const auto probes = probes_per_bin(columns, edges.size() - 1);
  std::vector<std::vector<double>> values;
  for (const auto& c : columns) values.push_back(metric_per_bin(c, metric_name));
  for (size_t b = 0; b + 1 < edges.size(); ++b) {
    out << b + 1 << ',' << csv_number(edges[b]) << ',' << csv_number(edges[b + 1]) << ','
        << csv_number(probes[b]);
    for (const auto& v : values) out << ',' << csv_number(v[b]);
    out << '\n';
  }
  return out.str();
}

}  // namespace

std::vector<std::string> write_interval_chart(const std::string& stem, const std::string& title,
                                              const std::string& metric_label,
                                              const std::vector<IntervalBar>& bars, const ImageSize& size) {
  if (bars.empty()) throw Error(stem + ".png: an interval chart needs at least one column");
  return save(interval_figure(title, metric_label, bars), interval_csv(bars), stem, size);
}

std::vector<std::string> write_quality_bin_chart(const std::string& stem, const std::string& title,
                                                 const std::string& metric_name,
                                                 const std::vector<double>& edges,
                                                 const std::vector<analysis::QualityBinColumn>& columns,
                                                 const ImageSize& size) {
  check_bins(stem, metric_name, edges, columns);
  return save(quality_figure(title, metric_name, edges, columns),
              quality_bin_csv(metric_name, edges, columns), stem, size);
}

namespace {

std::string file_stem(const std::string& dir, const std::string& prefix, const std::string& metric) {
  std::string name = prefix;
  for (char c : metric) name += std::isalnum(static_cast<unsigned char>(c)) || c == '.' ? c : '_';
  return (std::filesystem::path(dir) / name).string();
}

/// The paper table's metrics worth a chart: its standard deviations are not.
std::vector<std::string> charted_metrics() {
  std::vector<std::string> out;
  for (const auto& metric : eval::paper_table_rows()) {
    if (metric.size() < 4 || metric.compare(metric.size() - 4, 4, "_std") != 0) out.push_back(metric);
  }
  return out;
}

std::vector<std::string> write_bootstrap_charts(const std::string& dir,
                                                const analysis::TablesBootstrap& bootstrap,
                                                const pipeline::TablesResult& result) {
  const auto columns = pipeline::table_columns(result);
  std::vector<std::string> written;
  for (const auto& metric : charted_metrics()) {
    std::vector<IntervalBar> bars;
    for (size_t i = 0; i < columns.size() && i < bootstrap.columns().size(); ++i) {
      const auto& column = bootstrap.columns()[i];
      const auto interval = bootstrap.interval(column, metric);
      bars.push_back({column.id.label, column.id.kind, columns[i].report->find(metric).value_or(NAN) * 100.0,
                      interval.lo * 100.0, interval.hi * 100.0});
    }
    char title[200];
    std::snprintf(title, sizeof title, "%s: %g%% bootstrap intervals, N = %d", metric.c_str(),
                  bootstrap.options().ci_level, bootstrap.options().resamples);
    const auto files =
        write_interval_chart(file_stem(dir, "bootstrap_", metric), title, metric + " (%)", bars);
    written.insert(written.end(), files.begin(), files.end());
  }
  return written;
}

std::vector<std::string> write_quality_bin_charts(const std::string& dir, const analysis::QualityBins& bins) {
  std::vector<std::string> written;
  for (const auto& metric : charted_metrics()) {
    const auto files =
        write_quality_bin_chart(file_stem(dir, "quality_bins_", metric), metric + " per face-quality bin",
                                metric, bins.edges(), bins.columns());
    written.insert(written.end(), files.begin(), files.end());
  }
  return written;
}

}  // namespace

std::vector<std::string> write_tables_analysis_charts(const std::string& dir,
                                                      const pipeline::TablesAnalysis& analysis,
                                                      const pipeline::TablesResult& result) {
  std::vector<std::string> written;
  if (analysis.bootstrap()) written = write_bootstrap_charts(dir, *analysis.bootstrap(), result);
  if (analysis.quality_bins()) {
    const auto files = write_quality_bin_charts(dir, *analysis.quality_bins());
    written.insert(written.end(), files.begin(), files.end());
  }
  return written;
}

}  // namespace qme::plot
