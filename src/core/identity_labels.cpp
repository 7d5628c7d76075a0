#include "qme/core/identity_labels.hpp"

#include <algorithm>

#include "qme/core/error.hpp"

namespace qme {

std::vector<int64_t> unique_sorted(const std::vector<int64_t>& values) {
  std::vector<int64_t> out(values);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {
void check_side(const IdentityLabels& side, const char* prefix, const std::string& source) {
  const auto n = side.pids.size();
  if (side.camids.size() != n) {
    throw InputError(source, std::string(prefix) + "_camids",
                     "has " + std::to_string(side.camids.size()) + " entries but " + prefix + "_pids has " +
                         std::to_string(n));
  }
  if (side.clothes_ids.size() != n) {
    throw InputError(source, std::string(prefix) + "_clothes_ids",
                     "has " + std::to_string(side.clothes_ids.size()) + " entries but " + prefix +
                         "_pids has " + std::to_string(n));
  }
}
}  // namespace

void validate_labels(const TestLabels& labels, const std::string& source) {
  check_side(labels.query, "q", source);
  check_side(labels.gallery, "g", source);
  const auto& u = labels.unique_gallery_pids;
  for (size_t i = 1; i < u.size(); ++i) {
    if (u[i] <= u[i - 1]) {
      throw InputError(source, "unique_g_pids",
                       "must be strictly ascending (entry " + std::to_string(i) + " is " +
                           std::to_string(u[i]) + " after " + std::to_string(u[i - 1]) + ")");
    }
  }
}

}  // namespace qme
