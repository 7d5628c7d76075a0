#pragma once
/// The quality-weights file that mod_qe evaluation writes and QME inference
/// reads (io::read_face_weights, include/qme/io/face_weights.hpp): dataset `face_weights` (Q, 1) float32,
/// one weight per probe in score-matrix order. Upstream layout, no qme_format.
#include <cstdint>
#include <string>
#include <vector>

namespace qme::cache {

/// "{dir}/mod_qe_{run_name}_{dataset}_{step}.h5": where upstream's main.py
/// writes a QE evaluation's weights (dir: ./test_feats).
std::string face_weights_path(const std::string& dir, const std::string& run_name, const std::string& dataset,
                              int64_t step);

/// Writes `weights` as (Q, 1) float32 atomically. Throws InputError naming
/// `path` when it is empty or holds a non-finite weight (which the reader
/// would refuse).
void write_face_weights(const std::string& path, const std::vector<float>& weights);

}  // namespace qme::cache
