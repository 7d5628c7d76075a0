#include "extraction_common.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <filesystem>
#include <sstream>

#include "qme/config/yaml_node.hpp"
#include "qme/core/error.hpp"
#include "qme/io/hdf5_file.hpp"
#include "qme/io/text_file.hpp"

namespace qme::pipeline {

using backbone::Backbone;
using backbone::BackboneOptions;

std::string torchscript_path(const config::BackboneConfig& config, const std::string& model) {
  const auto found = config.model_paths.find(model);
  if (found == config.model_paths.end() || found->second.torchscript_path.empty()) {
    throw InputError(
        config.source, model + "_torchscript_path",
        "is not set: export the model to TorchScript with tools/export/ and give the file's path");
  }
  return found->second.torchscript_path;
}

namespace detail {

formats::FeatureMatrix to_matrix(const torch::Tensor& rows, int64_t cols) {
  if (!rows.defined()) return formats::FeatureMatrix(0, cols);
  const auto values = rows.to(torch::kCPU, torch::kFloat32).contiguous();
  formats::FeatureMatrix out(values.size(0), values.dim() > 1 ? values.size(1) : 1);
  std::copy_n(values.data_ptr<float>(), out.values.size(), out.values.begin());
  return out;
}

Backbone load_backbone(const ExtractionOptions& options) {
  const std::string path = torchscript_path(options.backbone, options.model);
  BackboneOptions backbone_options;
  backbone_options.device = options.device;
  backbone_options.optimize = options.optimize;
  auto backbone = Backbone::load(path, options.model, backbone_options);
  spdlog::info("{}: TorchScript backbone {} on {}{}", options.model, path, options.device,
               backbone.source().empty() ? "" : " (weights: " + backbone.source() + ")");
  return backbone;
}

std::string shard_file(const std::string& path, const ShardSpec& shard) {
  const std::string stem = path.size() > 3 && path.compare(path.size() - 3, 3, ".h5") == 0
                               ? path.substr(0, path.size() - 3)
                               : path;
  return stem + ".shard" + std::to_string(shard.shard_index) + "of" + std::to_string(shard.num_shards) +
         ".h5";
}

void write_run_config(const std::string& output, const std::string& tool, const ExtractionOptions& options,
                      const std::map<std::string, std::string>& extra) {
  std::ostringstream out;
  out << "# written by " << tool << " next to " << std::filesystem::path(output).filename().string() << "\n";
  out << "tool: " << tool << "\nmode: " << options.model << "\ndataset: " << options.dataset
      << "\nroot: " << config::yaml_quoted(options.root) << "\ndevice: " << options.device
      << "\nbatch_frames: " << options.batch_frames << "\nnum_workers: " << options.num_workers
      << "\nseed: " << options.seed << "\noptimize: " << (options.optimize ? "true" : "false")
      << "\nnum_shards: " << options.shard.num_shards << "\nshard_index: " << options.shard.shard_index
      << "\n";
  for (const auto& [key, value] : extra) out << key << ": " << value << "\n";
  out << "backbone_cfg_source: " << config::yaml_quoted(options.backbone.source) << "\nbackbone_cfg:\n";
  std::istringstream yaml(config::to_yaml(options.backbone));
  for (std::string line; std::getline(yaml, line);) out << "  " << line << "\n";
  const std::string stem = output.size() > 3 ? output.substr(0, output.size() - 3) : output;
  io::write_text_file(stem + ".run.yaml", out.str());
}

int64_t required_attribute(const io::H5Reader& reader, const std::string& name) {
  const auto value = reader.read_int_attribute(name);
  if (!value) throw InputError(reader.path(), name, "is missing: not a qme shard part");
  return *value;
}

void check_shard_identity(const io::H5Reader& reader, int64_t index, int64_t num_shards) {
  const int64_t got_index = required_attribute(reader, "qme_shard_index");
  const int64_t got_count = required_attribute(reader, "qme_num_shards");
  if (got_index != index || got_count != num_shards) {
    throw InputError(reader.path(), "qme_shard_index",
                     "says shard " + std::to_string(got_index) + " of " + std::to_string(got_count) +
                         ", expected shard " + std::to_string(index) + " of " + std::to_string(num_shards));
  }
}

void write_rows(io::AtomicH5Writer& writer, const std::string& name, const formats::FeatureMatrix& rows) {
  if (rows.rows == 0) return;
  writer.write_float32(name, rows.values.data(),
                       {static_cast<uint64_t>(rows.rows), static_cast<uint64_t>(rows.cols)});
}

formats::FeatureMatrix read_rows(const io::H5Reader& reader, const std::string& name, int64_t cols) {
  if (!reader.has_dataset(name)) return formats::FeatureMatrix(0, cols);
  io::Shape shape;
  auto values = reader.read_float32(name, &shape);
  if (shape.size() != 2 || static_cast<int64_t>(shape[1]) != cols) {
    throw InputError(reader.path(), name, "must be (n, " + std::to_string(cols) + ")");
  }
  formats::FeatureMatrix out;
  out.rows = static_cast<int64_t>(shape[0]);
  out.cols = cols;
  out.values = std::move(values);
  return out;
}

void write_ids(io::AtomicH5Writer& writer, const std::string& name, const std::vector<int64_t>& ids) {
  if (ids.empty()) return;
  writer.write_int64(name, ids.data(), {static_cast<uint64_t>(ids.size())});
}

std::vector<int64_t> read_ids(const io::H5Reader& reader, const std::string& name) {
  if (!reader.has_dataset(name)) return {};
  return reader.read_ids(name);
}

std::vector<int64_t> read_row_ids(const io::H5Reader& reader, const std::string& name, int64_t rows,
                                  const std::string& rows_name) {
  if (rows == 0 && !reader.has_dataset(name)) return {};
  return reader.read_ids(name, static_cast<uint64_t>(rows),
                         rows_name + " has " + std::to_string(rows) + " rows");
}

void append_rows(formats::FeatureMatrix& rows, const formats::FeatureMatrix& more) {
  if (more.rows == 0) {
    if (rows.rows == 0 && rows.cols == 0) rows.cols = more.cols;
    return;
  }
  if (rows.rows == 0) rows.cols = more.cols;
  if (rows.cols != more.cols) {
    throw InputError("cannot append rows of width " + std::to_string(more.cols) + " to rows of width " +
                     std::to_string(rows.cols));
  }
  rows.values.insert(rows.values.end(), more.values.begin(), more.values.end());
  rows.rows += more.rows;
}

}  // namespace detail
}  // namespace qme::pipeline
