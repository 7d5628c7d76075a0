#include "qme/config/yaml_node.hpp"

#include <spdlog/spdlog.h>
#include <yaml-cpp/depthguard.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "qme/core/error.hpp"

namespace qme::config {

namespace {

// What a value looks like, for "must be <type>, got <this>".
std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "an empty value";
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  YAML::Emitter out;
  out.SetSeqFormat(YAML::Flow);
  out.SetMapFormat(YAML::Flow);
  out << node;
  return "'" + std::string(out.c_str()) + "'";
}

// PyYAML reads a quoted scalar as a string whatever it looks like; yaml-cpp would happily
// convert '42' to a number. Tag "!" marks a non-plain (quoted) scalar.
bool is_plain_scalar(const YAML::Node& node) {
  return node.IsScalar() && node.Tag() != "!";
}

template <typename T>
struct ValueType;

template <>
struct ValueType<bool> {
  static constexpr const char* kName = "a boolean (true or false)";
  static bool convert(const YAML::Node& node, bool& out) {
    return is_plain_scalar(node) && YAML::convert<bool>::decode(node, out);
  }
};

template <>
struct ValueType<int> {
  static constexpr const char* kName = "an integer";
  static bool convert(const YAML::Node& node, int& out) {
    return is_plain_scalar(node) && YAML::convert<int>::decode(node, out);
  }
};

template <>
struct ValueType<std::int64_t> {
  static constexpr const char* kName = "an integer";
  static bool convert(const YAML::Node& node, std::int64_t& out) {
    return is_plain_scalar(node) && YAML::convert<std::int64_t>::decode(node, out);
  }
};

template <>
struct ValueType<double> {
  static constexpr const char* kName = "a number";
  static bool convert(const YAML::Node& node, double& out) {
    return is_plain_scalar(node) && YAML::convert<double>::decode(node, out);
  }
};

template <>
struct ValueType<std::string> {
  static constexpr const char* kName = "a string";
  static bool convert(const YAML::Node& node, std::string& out) {
    if (!node.IsScalar()) return false;
    out = node.Scalar();
    return true;
  }
};

template <>
struct ValueType<std::vector<std::string>> {
  static constexpr const char* kName = "a list of strings";
  static bool convert(const YAML::Node& node, std::vector<std::string>& out) {
    if (!node.IsSequence()) return false;
    out.clear();
    for (const auto& item : node) {
      if (!item.IsScalar()) return false;
      out.push_back(item.Scalar());
    }
    return true;
  }
};

// Classic edit distance, to suggest the key a typo was meant to be.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string closest_key(const std::string& key, const std::set<std::string>& known) {
  std::string best;
  std::size_t best_distance = 3;  // suggest only near misses
  for (const auto& candidate : known) {
    const std::size_t distance = edit_distance(key, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string with_line(const std::string& source, const YAML::Mark& mark) {
  if (mark.is_null()) return source;
  return source + ":" + std::to_string(mark.line + 1);
}

void check_top_level(const YAML::Node& root, const std::string& source) {
  if (!root.IsDefined() || root.IsNull()) {
    throw InputError(source, "", "is empty; a config holds 'key: value' lines");
  }
  if (!root.IsMap()) {
    throw InputError(source, "", "must hold 'key: value' lines at its top level, got " + describe(root));
  }
  std::set<std::string> seen;
  for (const auto& entry : root) {
    if (!entry.first.IsScalar()) {
      throw InputError(with_line(source, entry.first.Mark()), "",
                       "has a key that is not a name: " + describe(entry.first));
    }
    if (!seen.insert(entry.first.Scalar()).second) {
      throw InputError(with_line(source, entry.first.Mark()), entry.first.Scalar(), "appears more than once");
    }
  }
}

}  // namespace

YamlMap::YamlMap(YAML::Node root, std::string source) : root_(std::move(root)), source_(std::move(source)) {}

YamlMap YamlMap::load_file(const std::string& path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) throw InputError(path, "", "does not exist");
  if (std::filesystem::is_directory(status)) {
    throw InputError(path, "", "is a directory, not a YAML file");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) throw InputError(path, "", "cannot be read");
  return parse(text.str(), path);
}

YamlMap YamlMap::parse(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own message for this is "bad file".
    throw InputError(source + ": invalid YAML: values nested " + std::to_string(e.depth()) +
                     " levels deep at line " + std::to_string(e.mark.line + 1) +
                     ", more than yaml-cpp reads; a qme config is a flat list of 'key: value' lines");
  } catch (const YAML::ParserException& e) {
    throw InputError(source + ": invalid YAML at line " + std::to_string(e.mark.line + 1) + ", column " +
                     std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const YAML::Exception& e) {
    throw InputError(source + ": invalid YAML: " + e.msg);
  }
  check_top_level(root, source);
  return YamlMap(root, source);
}

bool YamlMap::has(const std::string& key) const {
  const YAML::Node value = root_[key];
  return value.IsDefined() && !value.IsNull();
}

std::vector<std::string> YamlMap::keys() const {
  std::vector<std::string> result;
  for (const auto& entry : root_) result.push_back(entry.first.Scalar());
  return result;
}

std::string YamlMap::location(const std::string& key) const {
  for (const auto& entry : root_) {
    if (entry.first.Scalar() != key) continue;
    const YAML::Mark value_mark = entry.second.Mark();
    return with_line(source_, value_mark.is_null() ? entry.first.Mark() : value_mark);
  }
  return source_;
}

template <typename T>
T YamlMap::required(const std::string& key) const {
  if (!has(key)) throw InputError(source_, key, "is required");
  const YAML::Node value = root_[key];
  T result{};
  if (!ValueType<T>::convert(value, result)) {
    throw InputError(location(key), key,
                     std::string("must be ") + ValueType<T>::kName + ", got " + describe(value));
  }
  return result;
}

template <typename T>
T YamlMap::optional(const std::string& key, const T& fallback) const {
  return has(key) ? required<T>(key) : fallback;
}

void YamlMap::warn_unknown_keys(const std::function<bool(const std::string&)>& is_known) const {
  for (const auto& key : keys()) {
    if (!is_known(key)) spdlog::warn("{}: unknown key '{}' is ignored", location(key), key);
  }
}

void YamlMap::warn_unknown_keys(const std::set<std::string>& known) const {
  for (const auto& key : keys()) {
    if (known.count(key) != 0) continue;
    const std::string suggestion = closest_key(key, known);
    if (suggestion.empty()) {
      spdlog::warn("{}: unknown key '{}' is ignored", location(key), key);
    } else {
      spdlog::warn("{}: unknown key '{}' is ignored (did you mean '{}'?)", location(key), key, suggestion);
    }
  }
}

template bool YamlMap::required<bool>(const std::string&) const;
template int YamlMap::required<int>(const std::string&) const;
template std::int64_t YamlMap::required<std::int64_t>(const std::string&) const;
template double YamlMap::required<double>(const std::string&) const;
template std::string YamlMap::required<std::string>(const std::string&) const;
template std::vector<std::string> YamlMap::required<std::vector<std::string>>(const std::string&) const;

template bool YamlMap::optional<bool>(const std::string&, const bool&) const;
template int YamlMap::optional<int>(const std::string&, const int&) const;
template std::int64_t YamlMap::optional<std::int64_t>(const std::string&, const std::int64_t&) const;
template double YamlMap::optional<double>(const std::string&, const double&) const;
template std::string YamlMap::optional<std::string>(const std::string&, const std::string&) const;
template std::vector<std::string> YamlMap::optional<std::vector<std::string>>(
    const std::string&, const std::vector<std::string>&) const;

namespace {

bool single_quotable(const std::string& text) {
  // Bytes from 0x80 are UTF-8 and stay as they are; control characters need double quotes.
  return std::none_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

std::string double_quoted(const std::string& text) {
  static const char* kHex = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::string yaml_quoted(const std::string& text) {
  if (!single_quotable(text)) return double_quoted(text);
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

}  // namespace qme::config
