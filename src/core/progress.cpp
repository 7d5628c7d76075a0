#include "qme/core/progress.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

namespace qme {

namespace {

constexpr int kBarWidth = 24;

double steady_seconds() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

std::string bar(int64_t done, int64_t total) {
  const double share = std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0);
  const int filled = static_cast<int>(share * kBarWidth);
  std::string text = "[";
  for (int i = 0; i < kBarWidth; ++i) text += i < filled ? '=' : (i == filled ? '>' : ' ');
  return text + "]";
}

std::string rate_text(int64_t done, double elapsed_s, const std::string& unit) {
  if (elapsed_s <= 0 || done <= 0) return "";
  const double rate = static_cast<double>(done) / elapsed_s;
  char text[64];
  if (rate >= 1) {
    std::snprintf(text, sizeof text, "%.*f %s/s", rate >= 100 ? 0 : 1, rate, unit.c_str());
  } else {
    std::snprintf(text, sizeof text, "%.1f s/%s", 1 / rate, unit.c_str());
  }
  return text;
}

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const auto total = static_cast<int64_t>(std::llround(seconds));
  char text[48];
  if (total < 60) {
    std::snprintf(text, sizeof text, "%llds", static_cast<long long>(total));
  } else if (total < 3600) {
    std::snprintf(text, sizeof text, "%lldm%02llds", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  } else {
    std::snprintf(text, sizeof text, "%lldh%02lldm", static_cast<long long>(total / 3600),
                  static_cast<long long>((total % 3600) / 60));
  }
  return text;
}

std::string format_progress(const std::string& label, int64_t done, int64_t total, double elapsed_s,
                            const std::string& unit, const std::string& postfix) {
  std::string line = label + "  " + std::to_string(done);
  if (total > 0) {
    char percent[16];
    std::snprintf(percent, sizeof percent, "%3d%%",
                  static_cast<int>(std::min<int64_t>(100, done * 100 / total)));
    line += "/" + std::to_string(total) + " " + bar(done, total) + " " + percent;
  }
  const std::string rate = rate_text(done, elapsed_s, unit);
  if (!rate.empty()) line += "  " + rate;
  if (total > 0 && done >= total) {
    line += "  in " + format_duration(elapsed_s);
  } else if (total > 0 && done > 0) {
    const double eta = elapsed_s / static_cast<double>(done) * static_cast<double>(total - done);
    line += "  ETA " + format_duration(eta);
  }
  if (!postfix.empty()) line += "  " + postfix;
  return line;
}

ProgressReporter::ProgressReporter(std::string label, int64_t total, ProgressOptions options)
    : label_(std::move(label)), total_(total), options_(std::move(options)) {
  if (!options_.clock) options_.clock = steady_seconds;
  terminal_ = !options_.sink && isatty(STDERR_FILENO) != 0;
  start_ = options_.clock();
  last_emit_ = start_;
}

ProgressReporter::~ProgressReporter() {
  try {
    finish();
  } catch (...) {  // a destructor must not throw; the line is only informational
  }
}

void ProgressReporter::advance(int64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  done_ += n;
  const double now = options_.clock();
  const double interval = terminal_ ? options_.redraw_interval_s : options_.log_interval_s;
  if (now - last_emit_ >= interval) {
    last_emit_ = now;
    emit(false);
  }
}

void ProgressReporter::set_postfix(std::string postfix) {
  std::lock_guard<std::mutex> lock(mutex_);
  postfix_ = std::move(postfix);
}

void ProgressReporter::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  emit(true);
}

int64_t ProgressReporter::done() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return done_;
}

double ProgressReporter::elapsed_s() const {
  return options_.clock() - start_;
}

void ProgressReporter::emit(bool final) {
  const std::string line =
      format_progress(label_, done_, total_, options_.clock() - start_, options_.unit, postfix_);
  if (options_.sink) {
    options_.sink(line, final);
    return;
  }
  if (!spdlog::should_log(spdlog::level::info)) return;
  if (terminal_) {
    // Redraw in place; the final line ends it so that later logs start on a new line.
    std::fprintf(stderr, "\r%s\033[K%s", line.c_str(), final ? "\n" : "");
    std::fflush(stderr);
  } else {
    spdlog::info("{}", line);
  }
}

}  // namespace qme
