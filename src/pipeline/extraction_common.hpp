#pragma once
/// Internal to the backbone area: what the test and center extractions share.
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "qme/backbone/backbone.hpp"
#include "qme/formats/feature_matrix.hpp"
#include "qme/pipeline/extraction.hpp"

namespace qme::io {
class H5Reader;
class AtomicH5Writer;
}  // namespace qme::io

namespace qme::pipeline::detail {

/// A float32 (rows, cols) tensor copied into a FeatureMatrix (an undefined tensor: 0 x cols).
formats::FeatureMatrix to_matrix(const torch::Tensor& rows, int64_t cols = 0);

/// Loads the configured TorchScript backbone for `options.model`, logging where it came from.
backbone::Backbone load_backbone(const ExtractionOptions& options);

/// "{stem}.shard{i}of{N}.h5" for a file "{stem}.h5".
std::string shard_file(const std::string& path, const ShardSpec& shard);

/// Writes "{stem}.run.yaml" next to an output "{stem}.h5": the tool's settings and the resolved
/// backbone config (docs/architecture.md §9).
void write_run_config(const std::string& output, const std::string& tool, const ExtractionOptions& options,
                      const std::map<std::string, std::string>& extra);

/// Root integer attributes of a shard part; missing ones are an InputError naming the file.
int64_t required_attribute(const io::H5Reader& reader, const std::string& name);

/// Checks that part `index` of `num_shards` says so, naming the file otherwise.
void check_shard_identity(const io::H5Reader& reader, int64_t index, int64_t num_shards);

/// Writes a (rows, cols) float32 matrix, or nothing when it has no rows (HDF5 parts skip empty
/// datasets; the reader takes a missing one as empty).
void write_rows(io::AtomicH5Writer& writer, const std::string& name, const formats::FeatureMatrix& rows);
formats::FeatureMatrix read_rows(const io::H5Reader& reader, const std::string& name, int64_t cols);
void write_ids(io::AtomicH5Writer& writer, const std::string& name, const std::vector<int64_t>& ids);
std::vector<int64_t> read_ids(const io::H5Reader& reader, const std::string& name);
/// Id array `name` with one entry per row of the `rows_name` matrix (`rows` rows), checked from its
/// shape before it is read: "'pids' has 5 entries but feats has 6 rows". Absent: no rows.
std::vector<int64_t> read_row_ids(const io::H5Reader& reader, const std::string& name, int64_t rows,
                                  const std::string& rows_name);

/// Appends `more` below `rows` (equal widths; an empty side takes the other's width).
void append_rows(formats::FeatureMatrix& rows, const formats::FeatureMatrix& more);

}  // namespace qme::pipeline::detail
