#pragma once
/// NaN, as qme marks a metric that is undefined for its input (README "Metrics").
#include <limits>

namespace qme {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace qme
