// The tables job (what qme_tables runs) returning the dict that `qme_tables --json` writes.
#include <nlohmann/json.hpp>

#include "binding.hpp"

namespace qme::python {

py::object json_to_python(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      return py::none();
    case nlohmann::json::value_t::boolean:
      return py::bool_(value.get<bool>());
    case nlohmann::json::value_t::number_integer:
      return py::int_(value.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return py::int_(value.get<uint64_t>());
    case nlohmann::json::value_t::number_float:
      return py::float_(value.get<double>());
    case nlohmann::json::value_t::string:
      return py::str(value.get<std::string>());
    case nlohmann::json::value_t::array: {
      py::list out;
      for (const auto& item : value) out.append(json_to_python(item));
      return std::move(out);
    }
    case nlohmann::json::value_t::object: {
      py::dict out;
      for (const auto& [key, item] : value.items()) out[py::str(key)] = json_to_python(item);
      return std::move(out);
    }
    default:
      break;
  }
  return py::none();
}

py::object run_tables_as_dict(pipeline::TablesOptions options,
                              const pipeline::TablesAnalysisOptions& analyses) {
  pipeline::TablesAnalysis analysis(analyses, options);
  analysis.attach(options);
  const auto result = pipeline::run_tables(options);
  auto json = pipeline::tables_to_json(result);
  analysis.add_to_json(json);
  return json_to_python(json);
}

pipeline::TablesAnalysisOptions analysis_options(int bootstrap, double ci, long long bootstrap_seed,
                                                 int quality_bins,
                                                 const std::optional<std::string>& rank_lists, int top_k,
                                                 const std::optional<std::string>& face_weights) {
  if (bootstrap < 0) raise_input_error("bootstrap must be >= 0 (0: none)");
  if (quality_bins < 0) raise_input_error("quality_bins must be >= 0 (0: none)");
  if (bootstrap_seed < 0 || bootstrap_seed > 0xFFFFFFFFLL)
    raise_input_error("bootstrap_seed must be between 0 and 2**32 - 1");
  pipeline::TablesAnalysisOptions options;
  options.bootstrap = bootstrap;
  options.ci_level = ci;
  options.bootstrap_seed = static_cast<uint32_t>(bootstrap_seed);
  options.quality_bins = quality_bins;
  options.rank_lists = rank_lists.value_or("");
  options.top_k = top_k;
  options.face_weights = face_weights.value_or("");
  return options;
}

std::vector<eval::FusionMethod> parse_baselines(const std::vector<std::string>& names) {
  std::vector<eval::FusionMethod> methods;
  for (const auto& name : names) {
    try {
      methods.push_back(eval::parse_fusion_method(name));
    } catch (const std::exception& e) {
      raise_input_error(e.what());
    }
  }
  return methods;
}

}  // namespace qme::python
