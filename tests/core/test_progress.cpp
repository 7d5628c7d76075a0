// Progress reporting (qme/core/progress.hpp): the line's format, rate and ETA, and when lines
// are shown.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "qme/core/progress.hpp"

using Catch::Matchers::Contains;

TEST_CASE("durations read as seconds, minutes or hours", "[core]") {
  CHECK(qme::format_duration(0) == "0s");
  CHECK(qme::format_duration(44.6) == "45s");
  CHECK(qme::format_duration(185) == "3m05s");
  CHECK(qme::format_duration(7260) == "2h01m");
  CHECK(qme::format_duration(-3) == "0s");
}

TEST_CASE("a progress line has count, bar, percent, rate and ETA", "[core]") {
  const auto line = qme::format_progress("clips", 25, 100, 10.0, "clip", "loss 0.5");
  CHECK_THAT(line, Contains("clips  25/100 [======>"));
  CHECK_THAT(line, Contains(" 25%"));
  CHECK_THAT(line, Contains("2.5 clip/s"));
  CHECK_THAT(line, Contains("ETA 30s"));
  CHECK_THAT(line, Contains("loss 0.5"));
  const auto done = qme::format_progress("clips", 100, 100, 40.0, "clip");
  CHECK_THAT(done, Contains("100%"));
  CHECK_THAT(done, Contains("in 40s"));
  CHECK_THAT(qme::format_progress("steps", 3, 0, 30.0, "step"), Contains("10.0 s/step"));
  CHECK(qme::format_progress("steps", 3, 0, 30.0, "step").find("ETA") == std::string::npos);
}

TEST_CASE("lines come at most once per interval, and once at the end", "[core]") {
  double now = 0;
  std::vector<std::pair<std::string, bool>> lines;
  qme::ProgressOptions options("frame");
  options.log_interval_s = 10;
  options.sink = [&](const std::string& line, bool final) { lines.emplace_back(line, final); };
  options.clock = [&] { return now; };
  {
    qme::ProgressReporter progress("frames", 10, options);
    now = 4;
    progress.advance(2);
    CHECK(lines.empty());
    now = 11;
    progress.advance(3);
    REQUIRE(lines.size() == 1);
    CHECK_THAT(lines[0].first, Contains("5/10"));
    CHECK_FALSE(lines[0].second);
    progress.set_postfix("loss 1.0");
    now = 20;
    progress.advance(5);
    CHECK(progress.done() == 10);
    progress.finish();
    progress.finish();  // once only
  }                     // the destructor adds nothing after finish()
  REQUIRE(lines.size() == 2);
  CHECK(lines[1].second);
  CHECK_THAT(lines[1].first, Contains("10/10"));
  CHECK_THAT(lines[1].first, Contains("loss 1.0"));
}
