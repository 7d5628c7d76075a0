#include "qme/eval/paper_table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "qme/core/utf8.hpp"

namespace qme::eval {

namespace {

std::string cell(const TableColumn& column, const std::string& metric) {
  const auto v = column.report->find(metric);
  if (!v || std::isnan(*v)) return "n/a";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.1f", table_percent(*v));
  std::string text = buffer;
  const auto spread = column.spread ? column.spread->find(metric) : std::nullopt;
  if (spread && !std::isnan(*spread)) {
    std::snprintf(buffer, sizeof buffer, " ±%.1f", *spread * 100.0);
    text += buffer;
  }
  return text;
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

std::string format_text_table(const std::vector<std::vector<std::string>>& cells, bool markdown) {
  if (cells.empty()) return "";
  const size_t columns = cells.front().size();
  std::ostringstream out;
  if (markdown) {
    for (size_t r = 0; r < cells.size(); ++r) {
      out << '|';
      for (const auto& c : cells[r]) out << ' ' << c << " |";
      out << '\n';
      if (r == 0) {
        out << "|---|";
        for (size_t i = 1; i < columns; ++i) out << "---:|";
        out << '\n';
      }
    }
    return out.str();
  }
  // Widths in characters, not bytes: "±" is two bytes of UTF-8.
  std::vector<size_t> widths(columns, 0);
  for (const auto& row : cells) {
    for (size_t i = 0; i < columns && i < row.size(); ++i)
      widths[i] = std::max(widths[i], utf8_length(row[i]));
  }
  for (size_t i = 1; i < columns; ++i) widths[i] = std::max<size_t>(widths[i], 5);
  for (const auto& row : cells) {
    for (size_t i = 0; i < columns && i < row.size(); ++i) {
      const std::string fill(widths[i] - utf8_length(row[i]), ' ');
      if (i == 0)
        out << row[i] << fill;
      else
        out << "  " << fill << row[i];
    }
    out << '\n';
  }
  return out.str();
}

std::string format_paper_table(const std::vector<TableColumn>& columns, bool markdown) {
  std::vector<std::vector<std::string>> cells(1, std::vector<std::string>{markdown ? "metric" : ""});
  for (const auto& c : columns) cells.front().push_back(c.name);
  for (const auto& metric : paper_table_rows()) {
    std::vector<std::string> row = {metric};
    for (const auto& c : columns) row.push_back(cell(c, metric));
    cells.push_back(row);
  }
  return format_text_table(cells, markdown);
}

}  // namespace qme::eval
