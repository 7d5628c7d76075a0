#include "qme/plot/chart.hpp"

#include "plplot_figure.hpp"

#include <plstream.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <system_error>

#include "qme/core/error.hpp"

namespace qme::plot {

namespace {

// cmap0 indices after the shared ones (plplot_figure.hpp).
constexpr PLINT kMark = 3;
constexpr PLINT kFirstSeries = 4;  // each series: its line colour, then its fill colour

/// A data value in window coordinates: log10 on a log axis; values <= 0 go far below it.
double to_window(double v, const Axis& axis) {
  if (!axis.log) return v;
  return v > 0 ? std::log10(v) : std::log10(axis.min) - 10.0;
}

void set_style(plstream& pls, LineStyle style) {
  pls.lsty(style_index(style));
}

/// A step series as its outline (window coordinates), starting and ending on the baseline.
void step_outline(const Series& s, const Chart& chart, std::vector<double>& x, std::vector<double>& y) {
  const double base = to_window(chart.y.log ? chart.y.min : 0.0, chart.y);
  x.clear();
  y.clear();
  if (s.x.size() != s.y.size() + 1 || s.y.empty()) return;
  x.push_back(to_window(s.x.front(), chart.x));
  y.push_back(base);
  for (size_t k = 0; k < s.y.size(); ++k) {
    const double v = to_window(s.y[k], chart.y);
    x.push_back(to_window(s.x[k], chart.x));
    y.push_back(v);
    x.push_back(to_window(s.x[k + 1], chart.x));
    y.push_back(v);
  }
  x.push_back(to_window(s.x.back(), chart.x));
  y.push_back(base);
}

void draw_series(plstream& pls, const Chart& chart, const Series& s, PLINT line_colour, PLINT fill_colour) {
  std::vector<double> x, y;
  if (s.steps) {
    step_outline(s, chart, x, y);
    if (s.fill_alpha > 0 && x.size() >= 3) {
      pls.col0(fill_colour);
      pls.fill(static_cast<PLINT>(x.size()), x.data(), y.data());
    }
  } else {
    for (size_t k = 0; k < s.x.size() && k < s.y.size(); ++k) {
      x.push_back(to_window(s.x[k], chart.x));
      y.push_back(to_window(s.y[k], chart.y));
    }
  }
  pls.col0(line_colour);
  pls.width(s.width);
  set_style(pls, s.style);
  draw_polyline(pls, x, y);
  set_style(pls, LineStyle::kSolid);
}

void draw_marks(plstream& pls, const Chart& chart) {
  pls.col0(kMark);
  pls.width(1.5);
  set_style(pls, LineStyle::kDotted);
  for (double m : chart.x_marks) {
    const double x = to_window(m, chart.x);
    std::array<PLFLT, 2> xs = {x, x};
    std::array<PLFLT, 2> ys = {to_window(chart.y.min, chart.y), to_window(chart.y.max, chart.y)};
    pls.line(2, xs.data(), ys.data());
  }
  set_style(pls, LineStyle::kSolid);
}

PLINT legend_position(LegendCorner corner) {
  switch (corner) {
    case LegendCorner::kTopLeft:
      return PL_POSITION_INSIDE | PL_POSITION_TOP | PL_POSITION_LEFT;
    case LegendCorner::kTopRight:
      return PL_POSITION_INSIDE | PL_POSITION_TOP | PL_POSITION_RIGHT;
    case LegendCorner::kBottomLeft:
      return PL_POSITION_INSIDE | PL_POSITION_BOTTOM | PL_POSITION_LEFT;
    case LegendCorner::kBottomRight:
      break;
  }
  return PL_POSITION_INSIDE | PL_POSITION_BOTTOM | PL_POSITION_RIGHT;
}

void draw_legend(plstream& pls, const Chart& chart) {
  std::vector<PLINT> opts, text_colours, line_colours, line_styles, box_colours, box_patterns;
  std::vector<PLFLT> line_widths, box_scales, box_widths;
  std::vector<std::string> texts;
  if (!chart.legend_title.empty()) {
    opts.push_back(PL_LEGEND_NONE);
    text_colours.push_back(kInk);
    texts.push_back(plain_text(chart.legend_title));
    line_colours.push_back(kInk);
    line_styles.push_back(1);
    line_widths.push_back(1.0);
    box_colours.push_back(kInk);
    box_patterns.push_back(0);
    box_scales.push_back(0.8);
    box_widths.push_back(1.0);
  }
  for (size_t k = 0; k < chart.series.size(); ++k) {
    const auto& s = chart.series[k];
    if (s.label.empty()) continue;
    const bool box = s.steps && s.fill_alpha > 0;
    opts.push_back(box ? PL_LEGEND_COLOR_BOX : PL_LEGEND_LINE);
    text_colours.push_back(kInk);
    texts.push_back(plain_text(s.label));
    const auto colour = static_cast<PLINT>(kFirstSeries + 2 * k);
    line_colours.push_back(colour);
    line_styles.push_back(style_index(s.style));
    line_widths.push_back(s.width);
    box_colours.push_back(colour + 1);
    box_patterns.push_back(0);
    box_scales.push_back(0.8);
    box_widths.push_back(1.0);
  }
  if (texts.empty()) return;
  std::vector<const char*> text_ptrs;
  for (const auto& t : texts) text_ptrs.push_back(t.c_str());
  PLFLT width = 0, height = 0;
  const auto n = static_cast<PLINT>(texts.size());
  const PLINT position =
      chart.legend_outside ? PL_POSITION_OUTSIDE | PL_POSITION_RIGHT : legend_position(chart.legend);
  const PLFLT dx = chart.legend_outside ? 0.03 : 0.02;
  const PLFLT dy = chart.legend_outside ? 0.0 : 0.03;
  const PLINT columns = std::max(1, chart.legend_columns);
  const PLINT rows = (n + columns - 1) / columns;
  pls.legend(&width, &height,
             PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX | (columns > 1 ? PL_LEGEND_ROW_MAJOR : 0),
             position, dx, dy, 0.07, kBackground, kInk, 1, rows, columns, n, opts.data(), 1.0, 1.0, 2.0, 0.0,
             text_colours.data(), text_ptrs.data(), box_colours.data(), box_patterns.data(),
             box_scales.data(), box_widths.data(), line_colours.data(), line_styles.data(),
             line_widths.data(), nullptr, nullptr, nullptr, nullptr);
}

void set_colours(plstream& pls, const Chart& chart) {
  pls.scmap0n(static_cast<PLINT>(kFirstSeries + 2 * chart.series.size()));
  pls.scol0a(kBackground, 255, 255, 255, 1.0);
  pls.scol0a(kInk, 0, 0, 0, 1.0);
  pls.scol0a(kGrid, 220, 220, 220, 1.0);
  pls.scol0a(kMark, 120, 120, 120, 1.0);
  for (size_t k = 0; k < chart.series.size(); ++k) {
    const auto& c = chart.series[k].color;
    const auto index = static_cast<PLINT>(kFirstSeries + 2 * k);
    pls.scol0a(index, c.r, c.g, c.b, 1.0);
    pls.scol0a(index + 1, c.r, c.g, c.b, std::max(0.0, chart.series[k].fill_alpha));
  }
}

void draw_axes(plstream& pls, const Chart& chart) {
  const std::string xlog = chart.x.log ? "l" : "";
  const std::string ylog = chart.y.log ? "l" : "";
  pls.col0(kInk);
  pls.width(1.5);
  pls.box(("bcnst" + xlog).c_str(), chart.x.log ? 0 : chart.x.tick, 0, ("bcnstv" + ylog).c_str(),
          chart.y.log ? 0 : chart.y.tick, 0);
  pls.schr(0, 1.25);
  pls.mtex("b", 2.6, 0.5, 0.5, plain_text(chart.x.label).c_str());
  pls.mtex("l", 3.6, 0.5, 0.5, plain_text(chart.y.label).c_str());
}

void draw(plstream& pls, const Chart& chart) {
  pls.adv(0);
  pls.schr(0, 1.1);
  pls.vpor(0.11, chart.legend_outside ? 0.66 : 0.96, 0.12, 0.90);
  pls.wind(to_window(chart.x.min, chart.x), to_window(chart.x.max, chart.x), to_window(chart.y.min, chart.y),
           to_window(chart.y.max, chart.y));
  pls.col0(kGrid);
  pls.width(1.0);
  pls.box(chart.x.log ? "gl" : "g", chart.x.log ? 0 : chart.x.tick, 0, chart.y.log ? "gl" : "g",
          chart.y.log ? 0 : chart.y.tick, 0);
  draw_marks(pls, chart);
  for (size_t k = 0; k < chart.series.size(); ++k) {
    const auto colour = static_cast<PLINT>(kFirstSeries + 2 * k);
    draw_series(pls, chart, chart.series[k], colour, colour + 1);
  }
  draw_axes(pls, chart);
  draw_legend(pls, chart);
  draw_page_title(pls, chart.title);
  pls.schr(0, 1.1);
}

}  // namespace

Rgb palette_color(size_t index) {
  static const std::array<Rgb, 10> kTab10 = {{{31, 119, 180},
                                              {255, 127, 14},
                                              {44, 160, 44},
                                              {214, 39, 40},
                                              {148, 103, 189},
                                              {140, 86, 75},
                                              {227, 119, 194},
                                              {127, 127, 127},
                                              {188, 189, 34},
                                              {23, 190, 207}}};
  return kTab10[index % kTab10.size()];
}

bool cairo_devices_available() {
  constexpr int kMaxDevices = 128;
  std::array<const char*, kMaxDevices> menus{}, names{};
  const char** menu_ptr = menus.data();
  const char** name_ptr = names.data();
  int count = kMaxDevices;
  plgDevs(&menu_ptr, &name_ptr, &count);
  bool png = false, svg = false;
  for (int k = 0; k < count; ++k) {
    const std::string name = name_ptr[k] ? name_ptr[k] : "";
    png = png || name == "pngcairo";
    svg = svg || name == "svgcairo";
  }
  return png && svg;
}

namespace {

int on_plplot_exit(const char* message) {
  spdlog::error("PLplot: {}", message ? message : "fatal error");
  return 1;
}

/// Draws into `path` with one PLplot device, via a temporary file renamed into place.
void render(const std::string& device, const std::string& path, const ImageSize& size,
            const std::function<void(plstream&)>& setup, const std::function<void(plstream&)>& draw) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    plstream pls;  // one stream per figure; its destructor ends the page and closes the file
    pls.sdev(device.c_str());
    pls.sfnam(tmp.c_str());
    pls.spage(0, 0, size.width, size.height, 0, 0);
    setup(pls);
    pls.init();
    draw(pls);
  }
  std::error_code error;
  std::filesystem::rename(tmp, path, error);
  if (error) {
    std::filesystem::remove(tmp, error);
    throw Error(path + ": cannot move the drawn figure into place");
  }
}

}  // namespace

/// PLplot treats '#' as the start of an escape sequence in text.
void draw_page_title(plstream& pls, const std::string& title) {
  pls.vpor(0.0, 1.0, 0.0, 1.0);
  pls.wind(0.0, 1.0, 0.0, 1.0);
  pls.col0(kInk);
  pls.schr(0, 1.45);
  pls.mtex("t", -1.3, 0.5, 0.5, plain_text(title).c_str());
}

std::string plain_text(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '#' ? std::string("##") : std::string(1, c);
  return out;
}

/// PLplot's predefined line styles (pllsty): 1 continuous, 2 short dashes, 3 long dashes.
PLINT style_index(LineStyle style) {
  switch (style) {
    case LineStyle::kDashed:
      return 3;
    case LineStyle::kDotted:
      return 2;
    case LineStyle::kSolid:
      break;
  }
  return 1;
}

/// Draws the finite stretches of a polyline (a NaN breaks the line).
void draw_polyline(plstream& pls, const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<PLFLT> xs, ys;
  auto flush = [&] {
    if (xs.size() >= 2) pls.line(static_cast<PLINT>(xs.size()), xs.data(), ys.data());
    xs.clear();
    ys.clear();
  };
  for (size_t k = 0; k < x.size() && k < y.size(); ++k) {
    if (std::isfinite(x[k]) && std::isfinite(y[k])) {
      xs.push_back(x[k]);
      ys.push_back(y[k]);
    } else {
      flush();
    }
  }
  flush();
}

void save_png_and_svg(const std::string& stem, const ImageSize& size,
                      const std::function<void(plstream&)>& setup,
                      const std::function<void(plstream&)>& draw) {
  if (!cairo_devices_available()) {
    throw Error(stem +
                ".png: PLplot's cairo devices (pngcairo, svgcairo) are missing; install "
                "plplot-driver-cairo");
  }
  plsexit(on_plplot_exit);
  render("pngcairo", stem + ".png", size, setup, draw);
  render("svgcairo", stem + ".svg", size, setup, draw);
}

void save_chart(const Chart& chart, const std::string& stem, const ImageSize& size) {
  save_png_and_svg(
      stem, size, [&](plstream& pls) { set_colours(pls, chart); }, [&](plstream& pls) { draw(pls, chart); });
}

}  // namespace qme::plot
