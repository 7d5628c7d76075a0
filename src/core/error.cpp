#include "qme/core/error.hpp"

namespace qme {

namespace {
std::string compose(const std::string& source, const std::string& field, const std::string& problem) {
  std::string message = source;
  if (!field.empty()) message += ": '" + field + "'";
  if (!problem.empty()) message += (message.empty() ? "" : " ") + problem;
  return message;
}
}  // namespace

InputError::InputError(const std::string& source, const std::string& field, const std::string& problem)
    : Error(compose(source, field, problem)) {}

}  // namespace qme
