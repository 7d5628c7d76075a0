#pragma once
/// The quality-weights file that QE evaluation writes (`mod_qe_{run}_{ds}_{step}.h5`): dataset
/// `face_weights` (Q, 1) float32, one weight per probe in score-matrix order; upstream layout, no
/// qme_format. QME inference mixes its experts by it; qme_tables' quality plot splits it by the
/// face model's rank-1 outcome. Its path rule, reader and writer live here.
#include <cstdint>
#include <string>
#include <vector>

namespace qme::formats {

/// Reads dataset "face_weights" ((Q, 1) or (Q,), any float type) of an HDF5 file. Throws
/// InputError naming the file and dataset when it is missing, mis-shaped, holds a value outside
/// [0, 1] (NaN included), or (with num_queries >= 0) has a different number of rows -- the shape
/// is checked before the weights are read.
std::vector<float> read_face_weights(const std::string& path, int64_t num_queries = -1);

/// "{dir}/mod_qe_{run_name}_{dataset}_{step}.h5": where upstream's main.py writes a QE
/// evaluation's weights (dir: ./test_feats).
std::string face_weights_path(const std::string& dir, const std::string& run_name, const std::string& dataset,
                              int64_t step);

/// Writes `weights` as (Q, 1) float32 atomically. Throws InputError naming `path` when it is
/// empty or holds a non-finite weight (which the reader would refuse).
void write_face_weights(const std::string& path, const std::vector<float>& weights);

}  // namespace qme::formats
