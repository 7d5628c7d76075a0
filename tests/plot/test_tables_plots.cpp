// qme_tables --plots: every figure is a PNG of the requested pixel size (read from its IHDR
// chunk), an SVG and a CSV; a bad quality-weights file is one clear error naming it.
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/eval/curves.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/io/hdf5_file.hpp"
#include "qme/pipeline/tables_job.hpp"
#include "qme/plot/chart.hpp"
#include "qme/plot/tables_plots.hpp"
#include "qme/synthetic/synthetic_scores.hpp"
#include "support/tables_support.hpp"
#include "support/test_support.hpp"

using qme::test::TempDir;

namespace {

struct PngSize {
  uint32_t width = 0, height = 0;
};

using qme::test::big_endian;

/// Width and height from the IHDR chunk, which the PNG signature must be followed by.
PngSize png_size(const std::string& path) {
  const auto bytes = qme::test::file_bytes(path);
  REQUIRE(bytes.size() > 33);
  REQUIRE(bytes.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) == 0);
  REQUIRE(bytes.compare(12, 4, "IHDR") == 0);
  return {big_endian(bytes, 16), big_endian(bytes, 20)};
}

/// A table run of two models, a baseline and a pretend learned fusion, with its curves.
struct Run {
  TempDir dir;
  qme::eval::TablesCurves curves;
  int64_t probes = 0;

  Run() {
    qme::synthetic::SyntheticScoreSpec spec;
    spec.num_subjects = 15;
    spec.probes_per_subject = 3;
    spec.gallery_per_subject = 6;
    spec.models = {"adaface", "cal-ccvid"};
    const auto synthetic = qme::synthetic::make_synthetic_scores(spec);
    auto options = qme::test::tables_on_file(dir, synthetic);
    options.baselines = {qme::eval::FusionMethod::kMinMax};
    options.learned.push_back(qme::test::stand_in_learned_fusion(qme::eval::FusionMethod::kRhe));
    options.observers.push_back(curves.observer());
    qme::pipeline::run_tables(options);
    probes = static_cast<int64_t>(synthetic.labels.query.size());
  }
};

void write_weights(const std::string& path, int64_t rows) {
  std::vector<float> w;
  for (int64_t i = 0; i < rows; ++i) w.push_back(static_cast<float>(i % 10) / 10.0f);
  qme::io::AtomicH5Writer out(path);
  out.write_float32("face_weights", w.data(), {static_cast<uint64_t>(rows), 1});
  out.commit();
}

}  // namespace

TEST_CASE("--plots writes a PNG, an SVG and a CSV per figure, at the requested size", "[plot]") {
  Run run;
  REQUIRE(run.curves.columns().size() == 4);
  CHECK(run.curves.columns()[3].kind == qme::eval::ColumnKind::kLearned);
  const auto weights = run.dir.path("weights.h5");
  write_weights(weights, run.probes);
  qme::plot::TablesPlotsOptions options;
  options.dir = run.dir.path("plots/sub");  // created with its parent
  options.face_weights = weights;
  options.size = {640, 480};
  const auto files = qme::plot::write_tables_plots(run.curves, options);
  const std::vector<std::string> stems = {
      "roc",           "det",        "cmc",    "scores_models", "scores_adaface", "scores_cal-ccvid",
      "scores_minmax", "scores_QME", "quality"};
  REQUIRE(files.size() == 3 * stems.size());
  for (const auto& stem : stems) {
    INFO(stem);
    const auto base = options.dir + "/" + stem;
    const auto size = png_size(base + ".png");
    CHECK(size.width == 640);
    CHECK(size.height == 480);
    CHECK(std::filesystem::file_size(base + ".png") > 5000);  // more than a blank page
    CHECK(qme::test::file_bytes(base + ".svg").find("<svg") != std::string::npos);
    const auto csv = qme::test::file_bytes(base + ".csv");
    CHECK(csv.find('\n') != std::string::npos);
    CHECK(csv.find('\n') + 1 < csv.size());  // a header and data rows
  }
  CHECK(qme::test::file_bytes(options.dir + "/cmc.csv").rfind("rank,adaface,cal-ccvid,minmax,QME\n", 0) == 0);
  CHECK(qme::test::file_bytes(options.dir + "/quality.csv").rfind("bin_lo,bin_hi,rank1_correct_density", 0) ==
        0);
  // nothing but the figures: no temporary files left behind
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(options.dir)) ++entries;
  CHECK(entries == files.size());
}

TEST_CASE("plots default to 1200 x 900 pixels and leave out the quality plot without weights", "[plot]") {
  Run run;
  qme::plot::TablesPlotsOptions options;
  options.dir = run.dir.path("plots");
  const auto files = qme::plot::write_tables_plots(run.curves, options);
  const auto size = png_size(options.dir + "/roc.png");
  CHECK(size.width == 1200);
  CHECK(size.height == 900);
  CHECK_FALSE(std::filesystem::exists(options.dir + "/quality.png"));
  CHECK(files.size() == 3 * 8);
}

TEST_CASE("a quality-weights file of the wrong length is an error naming it", "[plot]") {
  Run run;
  const auto weights = run.dir.path("short.h5");
  write_weights(weights, run.probes - 1);
  qme::plot::TablesPlotsOptions options;
  options.dir = run.dir.path("plots");
  options.face_weights = weights;
  const auto message =
      qme::test::message_of<qme::InputError>([&] { qme::plot::write_tables_plots(run.curves, options); });
  CHECK(message.find("short.h5") != std::string::npos);
  CHECK(message.find("face_weights") != std::string::npos);
  CHECK(message.find("but the score matrices have " + std::to_string(run.probes) + " probes") !=
        std::string::npos);
}

TEST_CASE("save_chart draws a chart with NaN gaps and log axes into PNG and SVG", "[plot]") {
  TempDir dir;
  qme::plot::Chart chart;
  chart.title = "a # in the title";
  chart.x = {"x", 1e-3, 1.0, true};
  chart.y = {"y", 0.0, 1.0, false};
  qme::plot::Series s;
  s.label = "line";
  s.x = {0.0, 1e-3, 1e-2, 0.1, 1.0};  // 0 lies below the log axis: clipped, not a crash
  s.y = {0.0, 0.2, std::nan(""), 0.6, 1.0};
  chart.series.push_back(s);
  qme::plot::save_chart(chart, dir.path("chart"), {300, 200});
  const auto size = png_size(dir.path("chart.png"));
  CHECK(size.width == 300);
  CHECK(size.height == 200);
  CHECK(std::filesystem::exists(dir.path("chart.svg")));
  CHECK(dir.entries() == 2);
}

TEST_CASE("TablesPlotter refuses a weights file of the wrong length before any curve is computed", "[plot]") {
  TempDir dir;
  qme::synthetic::SyntheticScoreSpec spec;
  spec.num_subjects = 5;
  spec.probes_per_subject = 2;
  spec.gallery_per_subject = 4;
  spec.models = {"adaface"};
  const auto synthetic = qme::synthetic::make_synthetic_scores(spec);
  auto options = qme::test::tables_on_file(dir, synthetic);
  write_weights(dir.path("w.h5"), 3);
  qme::plot::TablesPlotter plotter({dir.path("plots"), dir.path("w.h5"), {}});
  options.observers.push_back(plotter.observer());
  const auto message = qme::test::message_of<qme::InputError>([&] { qme::pipeline::run_tables(options); });
  CHECK(message.find("w.h5") != std::string::npos);
  CHECK(message.find("has 3 rows but the score matrices have 10 probes") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.path("plots")));
  // A missing file fails when the plotter is made.
  CHECK(qme::test::message_of<qme::InputError>([&] {
          qme::plot::TablesPlotter({dir.path("plots"), dir.path("none.h5"), {}});
        }).find("none.h5") != std::string::npos);
}
