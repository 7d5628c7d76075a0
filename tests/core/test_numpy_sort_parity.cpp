// qme::numpy::argsort against orders numpy 1.24 produced for tied float32
// rows (tests/fixtures/numpy_argsort_cases.json, written by the script next to it).
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "qme/core/numpy_sort.hpp"

namespace {

struct SortCase {
  std::vector<float> values;
  std::vector<int64_t> order;
};

std::vector<SortCase> load_cases() {
  std::ifstream in(std::string(QME_SOURCE_DIR) + "/tests/fixtures/numpy_argsort_cases.json");
  REQUIRE(in.good());
  const auto json = nlohmann::json::parse(in);
  std::vector<SortCase> cases;
  for (const auto& c : json.at("cases")) {
    SortCase sc;
    for (const auto& v : c.at("values")) {
      sc.values.push_back(v.is_null() ? std::numeric_limits<float>::quiet_NaN() : v.get<float>());
    }
    sc.order = c.at("order").get<std::vector<int64_t>>();
    cases.push_back(std::move(sc));
  }
  return cases;
}

bool same_value(float a, float b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

}  // namespace

TEST_CASE("argsort orders tied float32 values exactly as numpy 1.24", "[core]") {
  for (const auto& c : load_cases()) {
    std::vector<int64_t> order;
    qme::numpy::argsort(c.values.data(), static_cast<int64_t>(c.values.size()), order);
    INFO("n = " << c.values.size());
    CHECK(order == c.order);
  }
}

TEST_CASE("focused argsort puts the focus values where numpy puts them", "[core]") {
  for (const auto& c : load_cases()) {
    const auto n = static_cast<int64_t>(c.values.size());
    // focus on one value in the middle of the order and on NaN
    const std::vector<float> focus = {c.values[static_cast<size_t>(c.order[c.order.size() / 2])],
                                      std::numeric_limits<float>::quiet_NaN()};
    std::vector<int64_t> order;
    qme::numpy::argsort_focused(c.values.data(), n, focus, order);
    INFO("n = " << n);
    for (int64_t t = 0; t < n; ++t) {
      const float v = c.values[static_cast<size_t>(c.order[static_cast<size_t>(t)])];
      if (same_value(v, focus[0]) || std::isnan(v))
        CHECK(order[static_cast<size_t>(t)] == c.order[static_cast<size_t>(t)]);
    }
  }
}
