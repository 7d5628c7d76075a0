// The analysis charts: each is a PNG of the requested size, an SVG and a CSV holding exactly the
// numbers drawn; bad input is one clear error.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/plot/analysis_charts.hpp"
#include "support/test_support.hpp"

using qme::eval::ColumnKind;
using qme::test::TempDir;

namespace {

using qme::test::big_endian;

/// A PNG (signature, IHDR) of width x height pixels with more than a blank page in it, and an SVG.
void check_images(const std::string& stem, uint32_t width, uint32_t height) {
  INFO(stem);
  const auto png = qme::test::file_bytes(stem + ".png");
  REQUIRE(png.size() > 33);
  REQUIRE(png.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) == 0);
  REQUIRE(png.compare(12, 4, "IHDR") == 0);
  CHECK(big_endian(png, 16) == width);
  CHECK(big_endian(png, 20) == height);
  CHECK(png.size() > 5000);
  const auto svg = qme::test::file_bytes(stem + ".svg");
  CHECK(svg.find("<svg") != std::string::npos);
  CHECK(svg.size() > 2000);
}

/// A report holding `metric` and the bin's probe count.
qme::eval::EvaluationReport bin_report(double value, int64_t probes) {
  qme::eval::EvaluationReport r;
  r.set("GR_top1", value);
  r.set("num_probe_templates", static_cast<double>(probes));
  return r;
}

qme::analysis::QualityBinColumn binned(const std::string& label, ColumnKind kind,
                                       std::vector<double> values) {
  qme::analysis::QualityBinColumn c{label, label, kind, {}};
  const std::vector<int64_t> probes = {40, 41, 0, 40};
  for (size_t b = 0; b < values.size(); ++b) c.reports.push_back(bin_report(values[b], probes[b]));
  return c;
}

}  // namespace

TEST_CASE("the interval chart writes PNG, SVG and a CSV of label,value,lo,hi", "[plot]") {
  TempDir dir;
  const std::vector<qme::plot::IntervalBar> bars = {
      {"adaface", ColumnKind::kModel, 0.5, 0.25, 0.75},
      {"cal-ccvid", ColumnKind::kModel, 0.625, 0.5, 0.6875},
      {"z, score", ColumnKind::kBaseline, 0.8, std::nan(""), std::nan("")},  // no interval: no bar
      {"QME", ColumnKind::kLearned, 0.9, 0.875, 0.9375}};
  const auto stem = dir.path("charts/interval");  // the folder is created
  const auto files =
      qme::plot::write_interval_chart(stem, "GR top-1 with 95% intervals", "GR top-1", bars, {640, 480});
  CHECK(files == std::vector<std::string>{stem + ".png", stem + ".svg", stem + ".csv"});
  check_images(stem, 640, 480);
  CHECK(qme::test::file_bytes(stem + ".csv") ==
        "label,value,lo,hi\n"
        "adaface,0.5,0.25,0.75\n"
        "cal-ccvid,0.625,0.5,0.6875\n"
        "\"z, score\",0.8,,\n"
        "QME,0.9,0.875,0.9375\n");
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path("charts")),
                      std::filesystem::directory_iterator()) == 3);  // no temporaries
}

TEST_CASE("the interval chart draws many long labels and NaN values at the default size", "[plot]") {
  TempDir dir;
  std::vector<qme::plot::IntervalBar> bars;
  for (int k = 0; k < 12; ++k) {
    bars.push_back({"a rather long column name " + std::to_string(k),
                    k < 4 ? ColumnKind::kModel : ColumnKind::kBaseline, k == 5 ? std::nan("") : 0.1 * k - 0.3,
                    -0.5, 1.0});
  }
  qme::plot::write_interval_chart(dir.path("long"), "many columns # slanted labels", "threshold", bars);
  check_images(dir.path("long"), 1200, 900);
  CHECK(qme::test::file_bytes(dir.path("long.csv")).find("\na rather long column name 5,,-0.5,1\n") !=
        std::string::npos);
}

TEST_CASE("the interval chart refuses an empty list of columns", "[plot]") {
  TempDir dir;
  CHECK(qme::test::message_of<qme::Error>([&] {
          qme::plot::write_interval_chart(dir.path("none"), "t", "m", {});
        }) == dir.path("none") + ".png: an interval chart needs at least one column");
  CHECK(dir.entries() == 0);
}

TEST_CASE("the quality-bin chart writes a line per column and a CSV per bin", "[plot]") {
  TempDir dir;
  const std::vector<double> edges = {0.0, 0.25, 0.5, 0.5, 1.0};
  const std::vector<qme::analysis::QualityBinColumn> columns = {
      binned("adaface", ColumnKind::kModel, {0.25, 0.5, std::nan(""), 0.875}),
      binned("zscore", ColumnKind::kBaseline, {0.375, 0.5, std::nan(""), 0.75}),
      binned("QME", ColumnKind::kLearned, {0.5, 0.625, std::nan(""), 1.0})};
  const auto stem = dir.path("quality_bins_GR_top1");
  const auto files = qme::plot::write_quality_bin_chart(stem, "GR top-1 by face quality", "GR_top1", edges,
                                                        columns, {800, 600});
  CHECK(files.size() == 3);
  check_images(stem, 800, 600);
  CHECK(qme::test::file_bytes(stem + ".csv") ==
        "bin,lo,hi,probes,adaface,zscore,QME\n"
        "1,0,0.25,40,0.25,0.375,0.5\n"
        "2,0.25,0.5,41,0.5,0.5,0.625\n"
        "3,0.5,0.5,0,,,\n"
        "4,0.5,1,40,0.875,0.75,1\n");
}

TEST_CASE("the quality-bin chart refuses reports that do not fit its bins or lack the metric", "[plot]") {
  TempDir dir;
  const std::vector<double> edges = {0.0, 0.5, 1.0};
  const auto stem = dir.path("q");
  const auto short_column = binned("adaface", ColumnKind::kModel, {0.5});
  CHECK(qme::test::message_of<qme::Error>([&] {
          qme::plot::write_quality_bin_chart(stem, "t", "GR_top1", edges, {short_column});
        }) == stem + ".png: column 'adaface' has 1 bin reports but the edges give 2 quality bins");
  const auto column = binned("adaface", ColumnKind::kModel, {0.5, 0.75});
  CHECK(qme::test::message_of<qme::Error>([&] {
          qme::plot::write_quality_bin_chart(stem, "t", "GR_top2", edges, {column});
        }) == stem + ".png: no report has the metric 'GR_top2'");
  CHECK(dir.entries() == 0);
}
