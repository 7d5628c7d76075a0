// qme_ranks: pictures of rank lists (see the header for the contract it reads).
#include "qme/analysis/rank_pictures.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <set>
#include <utility>

#include "qme/core/error.hpp"
#include "qme/data/datasets.hpp"
#include "qme/io/hdf5_file.hpp"
#include "qme/io/output_directory.hpp"
#include "qme/io/text_file.hpp"

namespace qme::analysis {

namespace fs = std::filesystem;

namespace {

constexpr const char* kRankListHeader =
    "probe_index,rank,gallery_index,pid,camid,clothes_id,score,label_general,label_cc";
constexpr const char* kFirstMatchHeader = "probe_index,first_match_rank_general,first_match_rank_cc";

// ---------------------------------------------------------------------------------------------
// CSV reading

struct CsvLine {
  int64_t number = 0;  // 1-based line number in the file
  std::vector<std::string> fields;
};

/// The data lines of a CSV file whose first line must be `header` exactly (a trailing '\r' and
/// blank lines are ignored). Values hold no quotes or commas in these files.
std::vector<CsvLine> read_csv(const std::string& path, const std::string& header) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw InputError(path, "", fs::exists(path) ? "cannot be read" : "does not exist");
  }
  std::vector<CsvLine> lines;
  std::string text;
  int64_t number = 0;
  bool seen_header = false;
  const size_t columns = static_cast<size_t>(std::count(header.begin(), header.end(), ',')) + 1;
  while (std::getline(in, text)) {
    ++number;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (!seen_header) {
      if (text != header) {
        throw InputError(path, "header", "is '" + text.substr(0, 200) + "', expected '" + header + "'");
      }
      seen_header = true;
      continue;
    }
    if (text.empty()) continue;
    CsvLine line;
    line.number = number;
    size_t start = 0;
    for (;;) {
      const size_t comma = text.find(',', start);
      line.fields.push_back(text.substr(start, comma == std::string::npos ? comma : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (line.fields.size() != columns) {
      throw InputError(path + ":" + std::to_string(number), "",
                       "has " + std::to_string(line.fields.size()) + " fields, expected " +
                           std::to_string(columns) + " (" + header + ")");
    }
    lines.push_back(std::move(line));
  }
  if (!seen_header)
    throw InputError(path, "header", "is missing (the file is empty), expected '" + header + "'");
  return lines;
}

std::string where(const std::string& path, const CsvLine& line) {
  return path + ":" + std::to_string(line.number);
}

int64_t parse_int(const std::string& path, const CsvLine& line, const std::string& field,
                  const std::string& text) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    throw InputError(where(path, line), field, "is '" + text + "', expected an integer");
  }
  return value;
}

int64_t parse_index(const std::string& path, const CsvLine& line, const std::string& field,
                    const std::string& text) {
  const int64_t value = parse_int(path, line, field, text);
  if (value < 0) throw InputError(where(path, line), field, "is " + text + ", expected an index >= 0");
  return value;
}

/// An empty field (nullopt) or a rank >= 1.
std::optional<int64_t> parse_rank(const std::string& path, const CsvLine& line, const std::string& field,
                                  const std::string& text) {
  if (text.empty()) return std::nullopt;
  const int64_t value = parse_int(path, line, field, text);
  if (value < 1) throw InputError(where(path, line), field, "is " + text + ", expected a rank >= 1 or empty");
  return value;
}

double parse_score(const std::string& path, const CsvLine& line, const std::string& text) {
  // strtod reads what "%.9g" writes, nan and inf included.
  char* end = nullptr;
  const double value = text.empty() ? 0.0 : std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) {
    throw InputError(where(path, line), "score", "is '" + text + "', expected a number");
  }
  return value;
}

RankLabel parse_label(const std::string& path, const CsvLine& line, const std::string& field,
                      const std::string& text) {
  if (text == "match") return RankLabel::kMatch;
  if (text == "junk") return RankLabel::kJunk;
  if (text == "wrong") return RankLabel::kWrong;
  throw InputError(where(path, line), field, "is '" + text + "', expected match, junk or wrong");
}

// ---------------------------------------------------------------------------------------------
// Dataset frames

/// The test set as the score matrices index it (see the header) and its frame files.
struct TestSet {
  data::DatasetSplits splits;
  std::string source;  // "ccvid in ROOT", for messages
};

cv::Mat read_frame(const io::H5Reader& file, const std::string& key) {
  io::Shape shape;
  std::vector<uint8_t> pixels = file.read_uint8(key, &shape);  // InputError naming file and key
  if (shape.size() != 3 || shape[2] != 3 || shape[0] == 0 || shape[1] == 0) {
    std::string dims;
    for (size_t i = 0; i < shape.size(); ++i) dims += (i ? "x" : "") + std::to_string(shape[i]);
    throw InputError(
        file.path(), key,
        "is " + (dims.empty() ? std::string("a scalar") : dims) + ", expected an (H, W, 3) RGB image");
  }
  cv::Mat rgb(static_cast<int>(shape[0]), static_cast<int>(shape[1]), CV_8UC3, pixels.data());
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);  // copies out of `pixels`
  return bgr;
}

/// A sample's middle frame key.
const std::string& middle_frame(const data::Tracklet& sample) {
  return sample.frames[sample.frames.size() / 2];
}

/// The first face crop of the frame nearest the middle that has one (middle, then one later, one
/// earlier, ...); "" when no frame has one.
std::string nearest_face(const io::H5Reader& faces, const data::Tracklet& sample) {
  const auto n = static_cast<int64_t>(sample.frames.size());
  const int64_t mid = n / 2;
  for (int64_t step = 0; step <= n; ++step) {
    for (const int64_t f : {mid + step, mid - step}) {
      if (f < 0 || f >= n) continue;
      const auto crops = data::face_crops(faces, sample.frames[static_cast<size_t>(f)]);
      if (!crops.empty()) return crops.front();
      if (step == 0) break;  // the middle frame once
    }
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// Drawing

cv::Scalar bgr(const std::array<uint8_t, 3>& rgb) {
  return cv::Scalar(rgb[2], rgb[1], rgb[0]);
}

const cv::Scalar kWhite(255, 255, 255);
const cv::Scalar kText(40, 40, 40);
const cv::Scalar kMutedText(110, 110, 110);
const cv::Scalar kSeparator(200, 200, 200);
const std::array<uint8_t, 3> kProbeColour{40, 90, 190};  // RGB, the probe's frame
const std::array<uint8_t, 3> kNoFaceColour{235, 235, 235};
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

std::string format_score(double score) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g", score);
  return buffer;
}

std::string rank_text(const std::optional<int64_t>& rank) {
  return rank ? std::to_string(*rank) : std::string("none");
}

/// Sizes of a picture, from the thumbnail height.
struct Layout {
  int thumb = 128;     // thumbnail height
  int border = 4;      // label border
  int pad = 8;         // around panels
  double font = 0.42;  // caption font scale
  double title_font = 0.5;
  int line = 16;        // caption line height
  int title_line = 22;  // title line height

  explicit Layout(int thumb_height) : thumb(thumb_height) {
    const double s = thumb / 128.0;
    border = std::max(2, static_cast<int>(std::lround(4 * s)));
    pad = std::max(4, static_cast<int>(std::lround(8 * s)));
    font = std::max(0.3, 0.42 * s);
    title_font = std::max(0.35, 0.5 * s);
    line = std::max(11, static_cast<int>(std::lround(16 * s)));
    title_line = std::max(14, static_cast<int>(std::lround(22 * s)));
  }
  int text_width(const std::string& text, double scale) const {
    int baseline = 0;
    return cv::getTextSize(text, kFont, scale, 1, &baseline).width;
  }
};

cv::Mat thumbnail(const cv::Mat& frame, int height) {
  const int width =
      std::max(1, static_cast<int>(std::lround(frame.cols * static_cast<double>(height) / frame.rows)));
  cv::Mat out;
  cv::resize(frame, out, cv::Size(width, height), 0, 0,
             height < frame.rows ? cv::INTER_AREA : cv::INTER_CUBIC);
  return out;
}

/// `image` with a `border`-pixel frame of `colour` drawn at (x, y) of `canvas`; its box.
PanelBox paste_bordered(cv::Mat& canvas, const cv::Mat& image, int x, int y, int border,
                        const cv::Scalar& colour) {
  PanelBox box;
  box.x = x;
  box.y = y;
  box.width = image.cols + 2 * border;
  box.height = image.rows + 2 * border;
  box.border = border;
  cv::rectangle(canvas, cv::Rect(x, y, box.width, box.height), colour, cv::FILLED);
  image.copyTo(canvas(cv::Rect(x + border, y + border, image.cols, image.rows)));
  return box;
}

void put_text(cv::Mat& canvas, const std::string& text, int x, int baseline_y, double scale,
              const cv::Scalar& colour) {
  cv::putText(canvas, text, cv::Point(x, baseline_y), kFont, scale, colour, 1, cv::LINE_AA);
}

/// One gallery entry to draw.
struct GalleryPanel {
  const RankListEntry* entry = nullptr;
  cv::Mat frame;
};

struct ProbePanel {
  int64_t probe_index = 0;
  const data::Tracklet* sample = nullptr;
  cv::Mat frame;
  bool dataset_has_faces = false;
  cv::Mat face;  // empty: no face crop
};

std::vector<std::string> gallery_caption(const RankListEntry& e) {
  return {(e.rank > 0 ? "#" + std::to_string(e.rank) : std::string("junk")) + "  " + format_score(e.score),
          "pid " + std::to_string(e.pid) + "  cam " + std::to_string(e.camid),
          "clothes " + std::to_string(e.clothes_id) + "  g" + std::to_string(e.gallery_index),
          e.label_cc != e.label_general ? "cc: " + to_string(e.label_cc) : std::string()};
}

std::vector<std::string> probe_caption(const ProbePanel& p) {
  return {"probe " + std::to_string(p.probe_index),
          "pid " + std::to_string(p.sample->pid) + "  cam " + std::to_string(p.sample->camid),
          "clothes " + std::to_string(p.sample->clothes_id), ""};
}

/// Draws one picture: a title (2 lines), then the probe block (frame, face) and the gallery
/// entries in rows of `per_row`, each panel captioned below.
RankPicture draw_picture(const Layout& L, const ProbePanel& probe, const std::vector<GalleryPanel>& gallery,
                         const std::vector<std::string>& title, int per_row, cv::Mat& canvas) {
  RankPicture picture;
  const int caption_lines = 4;
  const int caption_height = caption_lines * L.line + L.pad / 2;

  // Gallery cells: one width for all, wide enough for every thumbnail and caption line.
  std::vector<cv::Mat> thumbs;
  int cell = 0;
  for (const auto& g : gallery) {
    thumbs.push_back(thumbnail(g.frame, L.thumb));
    cell = std::max(cell, thumbs.back().cols + 2 * L.border);
    for (const auto& text : gallery_caption(*g.entry)) cell = std::max(cell, L.text_width(text, L.font));
  }
  cell += L.pad * 3 / 2;

  // Probe block: frame, then the face crop (or a placeholder), side by side.
  const cv::Mat probe_thumb = thumbnail(probe.frame, L.thumb);
  const cv::Mat face_thumb = probe.face.empty() ? cv::Mat() : thumbnail(probe.face, L.thumb);
  const int face_width =
      probe.dataset_has_faces ? (face_thumb.empty() ? L.thumb * 3 / 4 : face_thumb.cols) : 0;
  int probe_width =
      probe_thumb.cols + 2 * L.border + (face_width > 0 ? L.pad / 2 + face_width + 2 * L.border : 0);
  for (const auto& text : probe_caption(probe))
    probe_width = std::max(probe_width, L.text_width(text, L.font));

  const int columns = std::min<int>(per_row, std::max<int>(1, static_cast<int>(gallery.size())));
  const int rows = std::max(1, (static_cast<int>(gallery.size()) + per_row - 1) / per_row);
  const int title_height = static_cast<int>(title.size()) * L.title_line + L.pad;
  const int row_height = L.thumb + 2 * L.border + caption_height + L.pad;
  const int separator = 2 * L.pad + 2;
  const int gallery_x = L.pad + probe_width + separator;
  int width = gallery_x + columns * cell + L.pad / 2;
  for (const auto& text : title) width = std::max(width, 2 * L.pad + L.text_width(text, L.title_font));
  const int height = title_height + rows * row_height + L.pad / 2;
  canvas = cv::Mat(height, width, CV_8UC3, kWhite);

  for (size_t i = 0; i < title.size(); ++i) {
    put_text(canvas, title[i], L.pad, static_cast<int>(i + 1) * L.title_line, L.title_font,
             i == 0 ? kText : kMutedText);
  }
  auto caption = [&](const std::vector<std::string>& lines, int x, int top, const cv::Scalar& first) {
    for (size_t i = 0; i < lines.size(); ++i) {
      put_text(canvas, lines[i], x, top + static_cast<int>(i + 1) * L.line - L.line / 4, L.font,
               i == 0 ? first : kMutedText);
    }
  };

  // The probe.
  const int top = title_height;
  PanelBox probe_box = paste_bordered(canvas, probe_thumb, L.pad, top, L.border, bgr(kProbeColour));
  probe_box.gallery_index = -1;
  picture.panels.push_back(probe_box);
  if (face_width > 0) {
    const int fx = L.pad + probe_box.width + L.pad / 2;
    if (!face_thumb.empty()) {
      picture.face = paste_bordered(canvas, face_thumb, fx, top, L.border, bgr(kProbeColour));
    } else {
      const cv::Rect box(fx, top, face_width + 2 * L.border, L.thumb + 2 * L.border);
      cv::rectangle(canvas, box, bgr(kNoFaceColour), cv::FILLED);
      const std::string text = "no face";
      put_text(canvas, text, fx + (box.width - L.text_width(text, L.font)) / 2, top + box.height / 2, L.font,
               kMutedText);
      picture.face = {box.x, box.y, box.width, box.height, 0};
    }
    picture.face.gallery_index = -1;
  }
  caption(probe_caption(probe), L.pad, top + L.thumb + 2 * L.border, bgr(kProbeColour));
  const int line_x = L.pad + probe_width + L.pad;
  cv::line(canvas, cv::Point(line_x, top), cv::Point(line_x, height - L.pad), kSeparator, 2);

  // The gallery entries.
  for (size_t i = 0; i < gallery.size(); ++i) {
    const RankListEntry& e = *gallery[i].entry;
    const int r = static_cast<int>(i) / per_row, c = static_cast<int>(i) % per_row;
    const int x0 = gallery_x + c * cell, y0 = top + r * row_height;
    const cv::Mat& thumb = thumbs[i];
    const cv::Scalar colour = bgr(label_colour(e.label_general));
    PanelBox box = paste_bordered(canvas, thumb, x0, y0, L.border, colour);
    box.label = e.label_general;
    box.gallery_index = e.gallery_index;
    picture.panels.push_back(box);
    caption(gallery_caption(e), x0, y0 + L.thumb + 2 * L.border,
            e.label_general == RankLabel::kJunk ? kMutedText : colour);
  }
  picture.width = width;
  picture.height = height;
  return picture;
}

// ---------------------------------------------------------------------------------------------
// Checks against the dataset

void check_entries_against_dataset(const RankList& list, const TestSet& set) {
  const auto num_query = static_cast<int64_t>(set.splits.query.size());
  const auto num_gallery = static_cast<int64_t>(set.splits.gallery.size());
  for (const auto& [probe, entries] : list.probes) {
    for (const auto& e : entries) {
      const std::string at = list.path + ":" + std::to_string(e.line);
      if (probe >= num_query) {
        throw InputError(at, "probe_index",
                         "is " + std::to_string(probe) + ", beyond the query set of " + set.source + " (" +
                             std::to_string(num_query) + " probes): is the rank list from this dataset?");
      }
      if (e.gallery_index >= num_gallery) {
        throw InputError(at, "gallery_index",
                         "is " + std::to_string(e.gallery_index) + ", beyond the gallery of " + set.source +
                             " (" + std::to_string(num_gallery) +
                             " entries): is the rank list from this dataset?");
      }
      const auto& g = set.splits.gallery[static_cast<size_t>(e.gallery_index)];
      if (g.pid != e.pid || g.camid != e.camid || g.clothes_id != e.clothes_id) {
        throw InputError(at, "pid,camid,clothes_id",
                         "are " + std::to_string(e.pid) + "," + std::to_string(e.camid) + "," +
                             std::to_string(e.clothes_id) + " but gallery entry " +
                             std::to_string(e.gallery_index) + " of " + set.source + " is " +
                             std::to_string(g.pid) + "," + std::to_string(g.camid) + "," +
                             std::to_string(g.clothes_id) +
                             ": the rank list is not from this dataset, or not in its gallery order");
      }
      const auto& q = set.splits.query[static_cast<size_t>(probe)];
      const bool same_pid = q.pid == e.pid;
      if (same_pid != (e.label_general != RankLabel::kWrong)) {
        throw InputError(at, "label_general",
                         "is " + to_string(e.label_general) + " for gallery pid " + std::to_string(e.pid) +
                             " but probe " + std::to_string(probe) + " of " + set.source + " is pid " +
                             std::to_string(q.pid) +
                             ": the rank list is not from this dataset, or not in its query order");
      }
    }
  }
}

void check_first_matches_against_dataset(const FirstMatches& matches, const std::string& path,
                                         const TestSet& set) {
  const auto num_query = static_cast<int64_t>(set.splits.query.size());
  if (!matches.empty() && matches.rbegin()->first >= num_query) {
    throw InputError(path, "probe_index",
                     "reaches " + std::to_string(matches.rbegin()->first) + ", beyond the query set of " +
                         set.source + " (" + std::to_string(num_query) + " probes)");
  }
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (const char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

/// A uniform draw in [0, n) from `engine`'s 32-bit outputs, by rejection (no modulo bias, and
/// unlike std::uniform_int_distribution the same with every standard library).
uint32_t bounded(std::mt19937& engine, uint32_t n) {
  const uint32_t limit = static_cast<uint32_t>((uint64_t{1} << 32) - ((uint64_t{1} << 32) % n));
  for (;;) {
    const uint32_t x = static_cast<uint32_t>(engine());
    if (limit == 0 || x < limit) return x % n;  // limit 0: n divides 2^32
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::string to_string(RankLabel label) {
  switch (label) {
    case RankLabel::kMatch:
      return "match";
    case RankLabel::kJunk:
      return "junk";
    case RankLabel::kWrong:
      break;
  }
  return "wrong";
}

RankList read_rank_list(const std::string& path) {
  RankList list;
  list.path = path;
  for (const auto& line : read_csv(path, kRankListHeader)) {
    const auto& f = line.fields;
    RankListEntry e;
    e.line = line.number;
    e.probe_index = parse_index(path, line, "probe_index", f[0]);
    const auto rank = parse_rank(path, line, "rank", f[1]);
    e.gallery_index = parse_index(path, line, "gallery_index", f[2]);
    e.pid = parse_int(path, line, "pid", f[3]);
    e.camid = parse_int(path, line, "camid", f[4]);
    e.clothes_id = parse_int(path, line, "clothes_id", f[5]);
    e.score = parse_score(path, line, f[6]);
    e.label_general = parse_label(path, line, "label_general", f[7]);
    e.label_cc = parse_label(path, line, "label_cc", f[8]);
    if (!rank && e.label_general != RankLabel::kJunk) {
      throw InputError(where(path, line), "rank",
                       "is empty but label_general is " + f[7] + " (only junk is unranked)");
    }
    if (rank && e.label_general == RankLabel::kJunk) {
      throw InputError(where(path, line), "rank",
                       "is " + f[1] + " but label_general is junk (junk is unranked)");
    }
    e.rank = rank.value_or(0);
    auto& entries = list.probes[e.probe_index];
    int64_t last = 0;
    for (auto it = entries.rbegin(); it != entries.rend() && last == 0; ++it) last = it->rank;
    if (rank && *rank != last + 1) {
      throw InputError(where(path, line), "rank",
                       "is " + f[1] + " but the previous rank of probe " + f[0] + " is " +
                           std::to_string(last) + " (ranks run 1, 2, 3, ... in metric order)");
    }
    entries.push_back(e);
  }
  return list;
}

FirstMatches read_first_matches(const std::string& path) {
  FirstMatches matches;
  for (const auto& line : read_csv(path, kFirstMatchHeader)) {
    const int64_t probe = parse_index(path, line, "probe_index", line.fields[0]);
    FirstMatch m;
    m.general = parse_rank(path, line, "first_match_rank_general", line.fields[1]);
    m.cc = parse_rank(path, line, "first_match_rank_cc", line.fields[2]);
    if (!matches.emplace(probe, m).second) {
      throw InputError(where(path, line), "probe_index", "lists probe " + line.fields[0] + " a second time");
    }
  }
  return matches;
}

std::string rank_list_path(const std::string& dir, const std::string& column) {
  return (fs::path(dir) / (column + ".csv")).string();
}

std::string first_match_path(const std::string& dir, const std::string& column) {
  return (fs::path(dir) / (column + "_first_match.csv")).string();
}

const std::vector<std::string>& baseline_columns() {
  static const std::vector<std::string> names = {"zscore", "minmax", "rhe", "min", "mean", "max"};
  return names;
}

double rank1_share(const FirstMatches& matches) {
  int64_t valid = 0, first = 0;
  for (const auto& [probe, m] : matches) {
    if (!m.general) continue;
    ++valid;
    first += *m.general == 1 ? 1 : 0;
  }
  return valid > 0 ? static_cast<double>(first) / static_cast<double>(valid) : 0.0;
}

std::string best_baseline(const std::string& dir, const std::string& exclude) {
  std::string best;
  double best_share = -1;
  for (const auto& name : baseline_columns()) {
    const std::string path = first_match_path(dir, name);
    if (name == exclude || !fs::exists(path)) continue;
    const double share = rank1_share(read_first_matches(path));
    spdlog::debug("{}: rank-1 share {:.4f}", path, share);
    if (share > best_share) {
      best_share = share;
      best = name;
    }
  }
  if (!best.empty())
    spdlog::info("--against best: {} ({:.1f}% of probes matched at rank 1)", best, 100 * best_share);
  if (best.empty()) {
    std::string names;
    for (const auto& name : baseline_columns()) names += (names.empty() ? "" : ", ") + name;
    throw InputError(dir, "",
                     "holds no baseline first-match file for --against best (looked for "
                     "{zscore,minmax,rhe,min,mean,max}_first_match.csv); name a column with --against");
  }
  return best;
}

ProbeSelection parse_probe_selection(const std::string& name) {
  if (name == "improved") return ProbeSelection::kImproved;
  if (name == "regressed") return ProbeSelection::kRegressed;
  if (name == "random") return ProbeSelection::kRandom;
  throw UsageError("--select must be improved, regressed or random, got '" + name + "'");
}

std::vector<ChosenProbe> select_by_first_match(const FirstMatches& column_matches,
                                               const FirstMatches& against_matches, ProbeSelection selection,
                                               int64_t count, const std::string& column,
                                               const std::string& against) {
  if (selection != ProbeSelection::kImproved && selection != ProbeSelection::kRegressed) {
    throw UsageError("select_by_first_match: selection must be improved or regressed");
  }
  const bool improved = selection == ProbeSelection::kImproved;
  std::vector<ChosenProbe> chosen;
  for (const auto& [probe, mine] : column_matches) {
    if (static_cast<int64_t>(chosen.size()) >= count) break;
    const auto other = against_matches.find(probe);
    if (other == against_matches.end() || !mine.general || !other->second.general) continue;
    const bool mine_first = *mine.general == 1, other_first = *other->second.general == 1;
    if (improved ? (mine_first && !other_first) : (other_first && !mine_first)) {
      chosen.push_back({probe, std::string(improved ? "improved" : "regressed") + ": " + column + " rank " +
                                   std::to_string(*mine.general) + ", " + against + " rank " +
                                   std::to_string(*other->second.general)});
    }
  }
  return chosen;
}

std::vector<ChosenProbe> select_random(const std::vector<int64_t>& candidates, int64_t count, uint32_t seed) {
  std::vector<int64_t> pool = candidates;
  std::mt19937 engine(seed);
  const size_t take = std::min(pool.size(), static_cast<size_t>(std::max<int64_t>(count, 0)));
  for (size_t i = 0; i < take; ++i) {
    const size_t j = i + bounded(engine, static_cast<uint32_t>(pool.size() - i));
    std::swap(pool[i], pool[j]);
  }
  pool.resize(take);
  std::sort(pool.begin(), pool.end());
  std::vector<ChosenProbe> chosen;
  for (const int64_t probe : pool) chosen.push_back({probe, "random (seed " + std::to_string(seed) + ")"});
  return chosen;
}

std::array<uint8_t, 3> label_colour(RankLabel label) {
  switch (label) {
    case RankLabel::kMatch:
      return {0, 160, 60};
    case RankLabel::kJunk:
      return {160, 160, 160};
    case RankLabel::kWrong:
      break;
  }
  return {215, 30, 30};
}

RankPicturesResult write_rank_pictures(const RankPicturesOptions& options) {
  // Flags and outputs first, before any file is read.
  if (options.count < 1) throw UsageError("--count must be at least 1, got " + std::to_string(options.count));
  if (options.top_k < 0)
    throw UsageError("--top_k must be at least 1 (0: every entry), got " + std::to_string(options.top_k));
  if (options.thumb_height < 16 || options.per_row < 1) {
    throw UsageError(
        "rank pictures: thumbnails must be at least 16 pixels high and rows hold at least one entry");
  }
  if (options.column.empty()) throw UsageError("--column must name a column");
  io::check_output_directory(options.out_dir);

  RankPicturesResult result;
  const std::string list_path = rank_list_path(options.rank_lists, options.column);
  const RankList list = read_rank_list(list_path);
  const std::string column_first = first_match_path(options.rank_lists, options.column);
  const bool listed = !options.probes.empty();
  const bool by_first_match = !listed && options.selection != ProbeSelection::kRandom;
  // The column's first matches: needed to compare, shown in the titles when present.
  std::optional<FirstMatches> column_matches;
  if (by_first_match || fs::exists(column_first)) column_matches = read_first_matches(column_first);
  FirstMatches against_matches;
  std::string against_path;
  if (by_first_match) {
    result.against =
        options.against == "best" ? best_baseline(options.rank_lists, options.column) : options.against;
    against_path = first_match_path(options.rank_lists, result.against);
    against_matches = read_first_matches(against_path);
  }

  TestSet set;
  set.splits = data::read_dataset(options.dataset, options.dataset_root);
  set.source = options.dataset + " in " + options.dataset_root;
  check_entries_against_dataset(list, set);
  if (column_matches) check_first_matches_against_dataset(*column_matches, column_first, set);
  if (by_first_match) check_first_matches_against_dataset(against_matches, against_path, set);

  // The probes.
  std::vector<ChosenProbe> chosen;
  const auto num_query = static_cast<int64_t>(set.splits.query.size());
  if (listed) {
    std::set<int64_t> seen;
    for (const int64_t probe : options.probes) {
      if (probe < 0 || probe >= num_query) {
        throw UsageError("--probes: probe " + std::to_string(probe) + " is outside the query set of " +
                         set.source + " (0.." + std::to_string(num_query - 1) + ")");
      }
      if (seen.insert(probe).second) chosen.push_back({probe, "listed"});
    }
  } else if (options.selection == ProbeSelection::kRandom) {
    std::vector<int64_t> candidates;
    for (const auto& [probe, entries] : list.probes) candidates.push_back(probe);
    chosen = select_random(candidates, options.count, options.seed);
  } else {
    chosen = select_by_first_match(*column_matches, against_matches, options.selection, options.count,
                                   options.column, result.against);
  }
  for (const auto& c : chosen) {
    if (list.probes.count(c.probe_index) == 0) {
      throw InputError(list_path, "probe_index", "has no entries for probe " + std::to_string(c.probe_index));
    }
  }
  if (chosen.empty()) {
    spdlog::warn("no probe qualifies ({} against {}): the index lists no picture",
                 listed                                           ? "listed"
                 : options.selection == ProbeSelection::kImproved ? "improved"
                                                                  : "regressed",
                 result.against);
  }

  // Every picture is drawn (and every frame read) before anything is written.
  const io::H5Reader body(set.splits.body_file);
  std::optional<io::H5Reader> faces;
  if (!set.splits.face_file.empty()) faces.emplace(set.splits.face_file);
  const Layout layout(options.thumb_height);
  std::vector<std::pair<std::string, std::string>> files;  // (path, PNG bytes)
  for (const auto& c : chosen) {
    const auto& entries = list.probes.at(c.probe_index);
    ProbePanel probe;
    probe.probe_index = c.probe_index;
    probe.sample = &set.splits.query[static_cast<size_t>(c.probe_index)];
    probe.frame = read_frame(body, middle_frame(*probe.sample));
    probe.dataset_has_faces = faces.has_value();
    if (faces) {
      const std::string face = nearest_face(*faces, *probe.sample);
      if (!face.empty()) probe.face = read_frame(*faces, face);
    }
    std::vector<GalleryPanel> gallery;
    // Up to and including the top_k-th ranked entry (with the junk ranked before it).
    for (const auto& e : entries) {
      if (options.top_k > 0 && !gallery.empty() && gallery.back().entry->rank == options.top_k) break;
      gallery.push_back(
          {&e, read_frame(body, middle_frame(set.splits.gallery[static_cast<size_t>(e.gallery_index)]))});
    }
    std::string first = "first match";
    if (column_matches) {
      const auto m = column_matches->find(c.probe_index);
      first += m == column_matches->end() ? std::string(": not listed")
                                          : ": rank " + rank_text(m->second.general) + " (general), " +
                                                rank_text(m->second.cc) + " (CC)";
    } else {
      first += ": no " + fs::path(column_first).filename().string();
    }
    const std::vector<std::string> title = {
        options.column + "  |  probe " + std::to_string(c.probe_index) + "  |  " + first + "  |  " + c.why,
        "border: green match, red wrong, grey junk (general protocol); gN: gallery index N; cc: the "
        "clothes-changing label where it differs"};
    cv::Mat canvas;
    RankPicture picture = draw_picture(layout, probe, gallery, title, options.per_row, canvas);
    picture.probe_index = c.probe_index;
    picture.file = options.column + "_probe" + std::to_string(c.probe_index) + ".png";
    picture.why = c.why;
    std::vector<uchar> png;
    if (!cv::imencode(".png", canvas, png)) {
      throw InputError(picture.file, "", "could not be encoded as PNG");
    }
    files.emplace_back((fs::path(options.out_dir) / picture.file).string(),
                       std::string(png.begin(), png.end()));
    result.pictures.push_back(std::move(picture));
  }

  // The index.
  std::string csv = "probe_index,column,file,why_chosen\n";
  std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>rank lists: " +
      html_escape(options.column) +
      "</title>\n<style>body{font-family:sans-serif;margin:1em}figure{margin:0 0 2em 0}"
      "figcaption{margin-bottom:.3em}img{max-width:100%}</style></head>\n<body>\n<h1>Rank lists: " +
      html_escape(options.column) + "</h1>\n<p>" + html_escape(list_path) + " on " + html_escape(set.source) +
      (result.against.empty() ? "" : ", compared with " + html_escape(result.against)) + "; " +
      std::to_string(result.pictures.size()) + " picture" + (result.pictures.size() == 1 ? "" : "s") +
      ". Borders: green match, red wrong, grey junk (general protocol).</p>\n";
  for (const auto& p : result.pictures) {
    csv += std::to_string(p.probe_index) + "," + csv_field(options.column) + "," + csv_field(p.file) + "," +
           csv_field(p.why) + "\n";
    html += "<figure><figcaption><b>probe " + std::to_string(p.probe_index) + "</b>: " + html_escape(p.why) +
            "</figcaption><a href=\"" + html_escape(p.file) + "\"><img src=\"" + html_escape(p.file) +
            "\" alt=\"probe " + std::to_string(p.probe_index) + "\"></a></figure>\n";
  }
  html += "</body></html>\n";

  io::ensure_output_directory(options.out_dir);
  for (const auto& [path, bytes] : files) io::write_text_file(path, bytes);
  result.index_csv = (fs::path(options.out_dir) / "index.csv").string();
  result.index_html = (fs::path(options.out_dir) / "index.html").string();
  io::write_text_file(result.index_csv, csv);
  io::write_text_file(result.index_html, html);
  spdlog::info("wrote {} rank-list picture{} of {} and the index {} into {}", result.pictures.size(),
               result.pictures.size() == 1 ? "" : "s", options.column, "(index.csv, index.html)",
               options.out_dir);
  return result;
}

}  // namespace qme::analysis
