#pragma once
/// Comparing qme's reports with the JSON figures upstream's Python produced
/// (../shared/fixtures): one reader and one metric-by-metric check.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "qme/eval/evaluation_report.hpp"

namespace qme::test {

/// A fixture JSON file; fails the test, naming the file, when it is missing.
inline nlohmann::json load_json(const std::string& path) {
  std::ifstream in(path);
  INFO("fixture " << path);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

/// Every metric of `expected` is in `ours` and within `tolerance` (null means
/// NaN), and `ours` has no other metric. Returns the largest difference.
inline double check_report_matches(const qme::eval::EvaluationReport& ours, const nlohmann::json& expected,
                                   const std::string& what, double tolerance) {
  REQUIRE(ours.size() == expected.size());
  double worst = 0;
  for (const auto& [name, value] : expected.items()) {
    INFO(what << ": " << name);
    const auto mine = ours.find(name);
    REQUIRE(mine.has_value());
    if (value.is_null()) {
      CHECK(std::isnan(*mine));
    } else {
      const double d = std::abs(*mine - value.get<double>());
      worst = std::max(worst, d);
      CHECK(d <= tolerance);
    }
  }
  return worst;
}

}  // namespace qme::test
