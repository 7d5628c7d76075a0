#pragma once
// Private to qme_plot: how every figure reaches its files.
#include <plstream.h>

#include <functional>
#include <string>
#include <vector>

#include "qme/plot/chart.hpp"

namespace qme::plot {

// cmap0 indices every figure shares: PLplot draws the page background in colour 0.
constexpr PLINT kBackground = 0;
constexpr PLINT kInk = 1;  // axes, labels, legend frame
constexpr PLINT kGrid = 2;

/// `text` with PLplot's escape character '#' doubled.
std::string plain_text(const std::string& text);

/// The title, centred on the page (the axes may leave room for an outside legend).
void draw_page_title(plstream& pls, const std::string& title);

/// PLplot's predefined line style (pllsty) of a LineStyle.
PLINT style_index(LineStyle style);

/// Draws the finite stretches of a polyline (a NaN breaks the line).
void draw_polyline(plstream& pls, const std::vector<double>& x, const std::vector<double>& y);

/// Writes stem.png and stem.svg with PLplot's cairo devices: for each, a fresh stream on which
/// `setup` runs before init (colour maps) and `draw` after, into a temporary file renamed into
/// place. Throws Error naming stem.png when the cairo devices are missing, or a file when it
/// cannot be moved into place.
void save_png_and_svg(const std::string& stem, const ImageSize& size,
                      const std::function<void(plstream&)>& setup,
                      const std::function<void(plstream&)>& draw);

}  // namespace qme::plot
