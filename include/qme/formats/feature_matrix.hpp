#pragma once
/// Cached features, one vector per row: the value type of qme's caches (centers, training
/// frames, QE statistics). The same matrix type as a score matrix (core/float_matrix.hpp).
#include "qme/core/float_matrix.hpp"

namespace qme::formats {

using FeatureMatrix = FloatMatrix;

}  // namespace qme::formats
