#pragma once
/// Typed, validated access to a YAML config file. Every error names the file, the key and,
/// where yaml-cpp knows it, the line, so a user can fix the config without reading qme's source.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace qme::config {

/// A config file's top-level mapping (key: value pairs) and the file it came from.
///
/// Values convert to bool, int, std::int64_t, double, std::string or std::vector<std::string>.
/// Numbers and booleans must be plain scalars: a quoted '42' is a string, as PyYAML (which
/// upstream uses) reads it.
class YamlMap {
 public:
  /// Reads and parses `path`. Throws InputError when the file is missing or unreadable, is not
  /// valid YAML (the message gives the line and column), is empty, has a top level that is not
  /// a mapping, or repeats a key (yaml-cpp would keep the first, PyYAML the last).
  static YamlMap load_file(const std::string& path);

  /// Parses `text`; `source` names it in messages. Same checks as load_file.
  static YamlMap parse(const std::string& text, const std::string& source);

  const std::string& source() const { return source_; }

  /// True when `key` is present with a non-empty value (`key:` alone counts as absent).
  bool has(const std::string& key) const;

  /// The top-level keys, in file order.
  std::vector<std::string> keys() const;

  /// The value of `key` as T. Throws InputError "'key' is required" when it is absent or empty,
  /// and "'key' must be <type>, got '<text>'" when it does not convert.
  template <typename T>
  T required(const std::string& key) const;

  /// The value of `key` as T, or `fallback` when it is absent or empty; wrong types throw as in
  /// required().
  template <typename T>
  T optional(const std::string& key, const T& fallback) const;

  /// Logs a warning (spdlog) for every key `is_known` rejects: a misspelt optional key would
  /// otherwise be silently replaced by its default.
  void warn_unknown_keys(const std::function<bool(const std::string&)>& is_known) const;
  void warn_unknown_keys(const std::set<std::string>& known) const;

  /// Where `key`'s value is, for messages about it: "file:line", or "file" when unknown.
  std::string location(const std::string& key) const;

 private:
  YamlMap(YAML::Node root, std::string source);

  YAML::Node root_;
  std::string source_;
};

/// `text` as a YAML scalar that reads back as exactly `text` (paths may hold ':', '#', quotes or
/// line breaks): single-quoted when it is all printable, double-quoted with escapes otherwise
/// (a line break in single quotes would read back as a space).
std::string yaml_quoted(const std::string& text);

}  // namespace qme::config
