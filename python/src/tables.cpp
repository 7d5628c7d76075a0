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

py::object run_tables_as_dict(const eval::TablesOptions& options) {
  const auto result = eval::run_tables(options);
  return json_to_python(eval::tables_to_json(result));
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
