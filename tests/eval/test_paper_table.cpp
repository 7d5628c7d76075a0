#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "qme/eval/evaluation_report.hpp"
#include "qme/eval/paper_table.hpp"

using qme::eval::EvaluationReport;
using qme::eval::format_paper_table;
using qme::eval::table_percent;
using qme::eval::TableColumn;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

EvaluationReport report_with(double base) {
  EvaluationReport r;
  for (const auto& name : qme::eval::paper_table_rows()) r.set(name, base);
  return r;
}

}  // namespace

TEST_CASE("table_percent rounds like numpy's round(3) * 100", "[eval]") {
  // np.round(x, 3) = rint(x * 1000) / 1000, rint rounding half to even.
  // 0.9395 * 1000 == 939.5 exactly in double -> 940 -> 94.0
  CHECK(table_percent(0.9395) == Approx(94.0).epsilon(1e-12));
  // 123.45 -> 123 -> 12.3
  CHECK(table_percent(0.12345) == Approx(12.3).epsilon(1e-12));
  // 0.0005 * 1000 == 0.5 -> 0 (half to even); 0.0015 * 1000 == 1.5 -> 2
  CHECK(table_percent(0.0005) == 0.0);
  CHECK(table_percent(0.0015) == Approx(0.2).epsilon(1e-12));
  CHECK(table_percent(1.0) == 100.0);
  CHECK(table_percent(0.0) == 0.0);
  CHECK(std::isnan(table_percent(std::numeric_limits<double>::quiet_NaN())));
}

TEST_CASE("paper table rows are the headline metrics", "[eval]") {
  CHECK(qme::eval::paper_table_rows() ==
        std::vector<std::string>{"GR_top1", "GR_mAP", "TAR@1.00%FAR", "FNIR@1.00%FPIR", "FNIR@1.00%FPIR_std",
                                 "CC_top1", "CC_mAP"});
}

TEST_CASE("markdown table has a header row and one row per metric", "[eval]") {
  auto a = report_with(0.9395);
  a.set("CC_mAP", std::numeric_limits<double>::quiet_NaN());
  const auto b = report_with(0.12345);
  const auto text = format_paper_table({{"adaface", &a}, {"zscore", &b}}, true);
  const auto lines = lines_of(text);
  const auto& rows = qme::eval::paper_table_rows();
  REQUIRE(lines.size() == 2 + rows.size());
  CHECK(lines[0] == "| metric | adaface | zscore |");
  CHECK(lines[1].rfind("|---", 0) == 0);
  for (size_t r = 0; r < rows.size(); ++r) {
    INFO(rows[r]);
    const std::string expected_a = rows[r] == "CC_mAP" ? "n/a" : "94.0";
    CHECK(lines[2 + r] == "| " + rows[r] + " | " + expected_a + " | 12.3 |");
  }
}

TEST_CASE("a metric missing from a report prints n/a", "[eval]") {
  EvaluationReport empty;
  const auto lines = lines_of(format_paper_table({{"x", &empty}}, true));
  REQUIRE(lines.size() == 2 + qme::eval::paper_table_rows().size());
  CHECK(lines[2] == "| GR_top1 | n/a |");
}

TEST_CASE("text table has a header and one aligned row per metric", "[eval]") {
  auto a = report_with(0.5);
  a.set("GR_top1", std::numeric_limits<double>::quiet_NaN());
  const auto lines = lines_of(format_paper_table({{"adaface", &a}}, false));
  const auto& rows = qme::eval::paper_table_rows();
  REQUIRE(lines.size() == 1 + rows.size());
  CHECK(lines[0].find("adaface") != std::string::npos);
  for (size_t r = 0; r < rows.size(); ++r) {
    INFO(rows[r]);
    CHECK(lines[1 + r].rfind(rows[r], 0) == 0);
    CHECK(lines[1 + r].size() == lines[0].size());  // right-aligned columns
    const std::string cell = rows[r] == "GR_top1" ? "n/a" : "50.0";
    CHECK(lines[1 + r].substr(lines[1 + r].size() - cell.size()) == cell);
  }
}
