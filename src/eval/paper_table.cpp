#include "qme/eval/paper_table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace qme::eval {

namespace {

std::string cell(const EvaluationReport& report, const std::string& metric) {
  const auto v = report.find(metric);
  if (!v || std::isnan(*v)) return "n/a";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", table_percent(*v));
  return buffer;
}

std::string pad_left(const std::string& s, size_t width) {
  return std::string(width > s.size() ? width - s.size() : 0, ' ') + s;
}

std::string pad_right(const std::string& s, size_t width) {
  return s + std::string(width > s.size() ? width - s.size() : 0, ' ');
}

}  // namespace

const std::vector<std::string>& paper_table_rows() {
  static const std::vector<std::string> rows = {
      "GR_top1", "GR_mAP", "TAR@1.00%FAR", "FNIR@1.00%FPIR", "FNIR@1.00%FPIR_std", "CC_top1", "CC_mAP"};
  return rows;
}

double table_percent(double value) {
  // np.round rounds half to even on value * 10**3.
  return std::nearbyint(value * 1000.0) / 1000.0 * 100.0;
}

std::string format_paper_table(const std::vector<TableColumn>& columns, bool markdown) {
  const auto& rows = paper_table_rows();
  size_t label_width = 0;
  for (const auto& r : rows) label_width = std::max(label_width, r.size());
  std::vector<size_t> widths;
  for (const auto& c : columns) widths.push_back(std::max<size_t>(c.name.size(), 5));
  std::ostringstream out;
  if (markdown) {
    out << "| metric |";
    for (const auto& c : columns) out << ' ' << c.name << " |";
    out << "\n|---|";
    for (size_t i = 0; i < columns.size(); ++i) out << "---:|";
    out << '\n';
    for (const auto& r : rows) {
      out << "| " << r << " |";
      for (const auto& c : columns) out << ' ' << cell(*c.report, r) << " |";
      out << '\n';
    }
    return out.str();
  }
  out << pad_right("", label_width);
  for (size_t i = 0; i < columns.size(); ++i) out << "  " << pad_left(columns[i].name, widths[i]);
  out << '\n';
  for (const auto& r : rows) {
    out << pad_right(r, label_width);
    for (size_t i = 0; i < columns.size(); ++i)
      out << "  " << pad_left(cell(*columns[i].report, r), widths[i]);
    out << '\n';
  }
  return out.str();
}

}  // namespace qme::eval
