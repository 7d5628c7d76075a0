#include "qme/data/datasets.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <unordered_set>

#include "qme/core/error.hpp"
#include "qme/io/hdf5_file.hpp"

namespace qme::data {

namespace fs = std::filesystem;

namespace {

using ClothesMap = std::map<std::string, int64_t>;

/// "file:line", the source of every split-file error.
std::string at_line(const std::string& path, size_t line) {
  return path + ":" + std::to_string(line);
}

struct NumberedLine {
  std::string text;  // right-stripped, as upstream's line.rstrip()
  size_t line = 0;   // 1-based
};

std::string rstrip(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

std::vector<NumberedLine> read_lines(const std::string& path) {
  if (!fs::exists(path)) throw InputError(path, "", "does not exist");
  std::ifstream in(path);
  if (!in) throw InputError(path, "", "cannot be read");
  std::vector<NumberedLine> lines;
  std::string text;
  for (size_t number = 1; std::getline(in, text); ++number) lines.push_back({rstrip(text), number});
  return lines;
}

std::vector<std::string> split_whitespace(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> fields;
  for (std::string field; in >> field;) fields.push_back(field);
  return fields;
}

/// A whole decimal integer (Python's int() of a split token), or nothing.
std::optional<int64_t> parse_int(const std::string& text) {
  if (text.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end != text.c_str() + text.size()) return std::nullopt;
  return static_cast<int64_t>(value);
}

int64_t require_int(const std::string& text, const std::string& source, const std::string& what) {
  const auto value = parse_int(text);
  if (!value) throw InputError(source, "", what + " '" + text + "' is not an integer");
  return *value;
}

/// Labels 0..n-1 in sorted key order (upstream: enumerate(sorted(set))).
template <typename Key>
std::map<Key, int64_t> label_sorted(const std::set<Key>& keys) {
  std::map<Key, int64_t> labels;
  int64_t next = 0;
  for (const auto& key : keys) labels.emplace(key, next++);
  return labels;
}

std::string require_file(const std::string& path) {
  if (!fs::exists(path)) throw InputError(path, "", "does not exist");
  return path;
}

/// The face file when present; upstream then runs body-only.
std::string optional_face_file(const std::string& path) {
  if (fs::exists(path)) return path;
  spdlog::warn("{}: face file not found; the dataset has body data only", path);
  return "";
}

std::string clothes_key(const std::string& pid, const std::string& clothes) {
  return pid + "_" + clothes;
}

void warn_empty(const std::string& source, const std::string& what) {
  // upstream keeps such a sample (CCVID: an empty tracklet, no test clip) or
  // drops it silently (MEVID); qme drops it and says so.
  spdlog::warn("{}: {} has no frames; skipped", source, what);
}

// ---------------------------------------------------------------- CCVID

struct CcvidLine {
  std::string tracklet, pid, clothes;
  std::string source;  // "file:line"
};

std::vector<CcvidLine> read_ccvid_split(const std::string& path) {
  std::vector<CcvidLine> lines;
  for (const auto& line : read_lines(path)) {
    const auto fields = split_whitespace(line.text);
    if (fields.empty()) continue;
    const std::string source = at_line(path, line.line);
    if (fields.size() != 3) {
      throw InputError(
          source, "",
          "expected 'tracklet_path pid clothes_label', got " + std::to_string(fields.size()) + " fields");
    }
    require_int(fields[1], source, "pid");
    lines.push_back({fields[0], fields[1], fields[2], source});
  }
  return lines;
}

/// Camera of a CCVID tracklet path: the number after the first '_', +12 in session3.
int64_t ccvid_camid(const CcvidLine& line) {
  const auto underscore = line.tracklet.find('_');
  if (underscore == std::string::npos) {
    throw InputError(line.source, "", "tracklet path '" + line.tracklet + "' has no '_<camera>' part");
  }
  const auto next = line.tracklet.find('_', underscore + 1);
  const std::string cam =
      line.tracklet.substr(underscore + 1, next == std::string::npos ? next : next - underscore - 1);
  const int64_t camid = require_int(cam, line.source, "camera");
  const std::string session = line.tracklet.substr(0, line.tracklet.find('/'));
  return session == "session3" ? camid + 12 : camid;
}

struct Processed {
  std::vector<Tracklet> tracklets;
  SubsetCounts counts;
  std::vector<std::vector<uint8_t>> pid2clothes;
  ClothesMap clothes2label;
};

/// Moves the processed video splits into `out` (test_clothes2label already set).
void take_video_splits(DatasetSplits& out, Processed train, Processed query, Processed gallery) {
  out.train = std::move(train.tracklets);
  out.query = std::move(query.tracklets);
  out.gallery = std::move(gallery.tracklets);
  out.train_counts = train.counts;
  out.query_counts = query.counts;
  out.gallery_counts = gallery.counts;
  out.num_train_pids = train.counts.num_pids;
  out.num_train_clothes = train.counts.num_clothes;
  out.pid2clothes = std::move(train.pid2clothes);
  out.train_clothes2label = std::move(train.clothes2label);
  out.num_test_clothes = static_cast<int64_t>(out.test_clothes2label.size());
}

Processed process_ccvid(const io::H5Reader& body, const std::vector<CcvidLine>& lines, bool relabel,
                        const ClothesMap* test_clothes) {
  std::set<std::string> pids, clothes;
  for (const auto& line : lines) {
    pids.insert(line.pid);
    clothes.insert(clothes_key(line.pid, line.clothes));
  }
  const auto pid2label = label_sorted(pids);
  Processed out;
  out.clothes2label = test_clothes ? *test_clothes : label_sorted(clothes);
  out.pid2clothes.assign(pids.size(), std::vector<uint8_t>(out.clothes2label.size(), 0));
  for (const auto& line : lines) {
    if (!body.has_group(line.tracklet)) {
      throw InputError(line.source, "",
                       "names tracklet '" + line.tracklet + "', which is not a group in " + body.path());
    }
    std::vector<std::string> frames;
    for (const auto& name : body.list_group(line.tracklet)) frames.push_back(line.tracklet + "/" + name);
    std::sort(frames.begin(), frames.end());
    const int64_t clothes_id = out.clothes2label.at(clothes_key(line.pid, line.clothes));
    // upstream marks the matrix before looking at the frames, so an empty
    // tracklet still counts here.
    out.pid2clothes[static_cast<size_t>(pid2label.at(line.pid))][static_cast<size_t>(clothes_id)] = 1;
    if (frames.empty()) {
      warn_empty(line.source, "tracklet '" + line.tracklet + "'");
      continue;
    }
    Tracklet tracklet;
    tracklet.frames = std::move(frames);
    tracklet.pid = relabel ? pid2label.at(line.pid) : *parse_int(line.pid);
    tracklet.camid = ccvid_camid(line);
    tracklet.clothes_id = clothes_id;
    out.tracklets.push_back(std::move(tracklet));
  }
  out.counts = {static_cast<int64_t>(pids.size()), static_cast<int64_t>(out.tracklets.size()),
                static_cast<int64_t>(clothes.size())};
  return out;
}

// ---------------------------------------------------------------- MEVID

struct InfoRow {
  int64_t start = 0, end = 0, pid = 0, outfit = 0, camid = 0;
  std::string source;  // "file:line"
};

std::vector<InfoRow> read_mevid_info(const std::string& path, size_t num_names,
                                     const std::string& names_path) {
  std::vector<InfoRow> rows;
  for (const auto& line : read_lines(path)) {
    std::string text = line.text.substr(0, line.text.find('#'));  // np.loadtxt comments
    const auto fields = split_whitespace(text);
    if (fields.empty()) continue;
    const std::string source = at_line(path, line.line);
    if (fields.size() != 5) {
      throw InputError(source, "",
                       "expected 5 integers 'start end pid outfit camid', got " +
                           std::to_string(fields.size()) + " fields");
    }
    int64_t values[5];
    for (size_t i = 0; i < 5; ++i) {
      const auto value = parse_int(fields[i]);
      if (!value) {
        throw InputError(source, "",
                         "expected 5 integers 'start end pid outfit camid', field " + std::to_string(i + 1) +
                             " is '" + fields[i] + "'");
      }
      values[i] = *value;
    }
    InfoRow row{values[0], values[1], values[2], values[3], values[4], source};
    if (row.start < 0 || row.end < 0) throw InputError(source, "", "start and end must be >= 0");
    if (row.start <= row.end && static_cast<size_t>(row.end) >= num_names) {
      throw InputError(source, "",
                       "end " + std::to_string(row.end) + " is past the last of the " +
                           std::to_string(num_names) + " names in " + names_path);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<size_t> read_query_idx(const std::string& path, size_t num_test_rows) {
  std::vector<size_t> rows;
  for (const auto& line : read_lines(path)) {
    std::string text = line.text.substr(0, line.text.find('#'));
    const auto fields = split_whitespace(text);
    if (fields.empty()) continue;
    const std::string source = at_line(path, line.line);
    // upstream's np.loadtxt reads one row of several values the same way.
    for (const auto& field : fields) {
      const auto value = parse_int(field);
      if (!value || *value < 0 || static_cast<size_t>(*value) >= num_test_rows) {
        throw InputError(source, "",
                         "query index '" + field + "' is not a row of the " + std::to_string(num_test_rows) +
                             " test info rows");
      }
      rows.push_back(static_cast<size_t>(*value));
    }
  }
  return rows;
}

bool is_empty_row(const InfoRow& row) {
  return row.start > row.end;
}

std::string mevid_clothes_key(const InfoRow& row) {
  return clothes_key(std::to_string(row.pid), std::to_string(row.outfit));
}

/// upstream builds the test clothes labels from every query and gallery row,
/// empty ones included (which shifts the labels of the others).
ClothesMap mevid_test_clothes(const std::vector<InfoRow>& query, const std::vector<InfoRow>& gallery) {
  std::set<std::string> keys;
  for (const auto& row : query) keys.insert(mevid_clothes_key(row));
  for (const auto& row : gallery) keys.insert(mevid_clothes_key(row));
  return label_sorted(keys);
}

Processed process_mevid(const io::H5Reader& body, const std::vector<NumberedLine>& names,
                        const std::string& names_path, const std::vector<InfoRow>& rows,
                        const std::string& home_dir, bool relabel, const ClothesMap* test_clothes) {
  std::vector<const InfoRow*> kept;
  std::set<int64_t> pids;
  std::set<std::string> clothes;
  for (const auto& row : rows) {
    if (is_empty_row(row)) {
      warn_empty(row.source, "track rows " + std::to_string(row.start) + ".." + std::to_string(row.end));
      continue;
    }
    kept.push_back(&row);
    pids.insert(row.pid);
    clothes.insert(mevid_clothes_key(row));
  }
  const auto pid2label = label_sorted(pids);
  Processed out;
  out.clothes2label = test_clothes ? *test_clothes : label_sorted(clothes);
  out.pid2clothes.assign(pids.size(), std::vector<uint8_t>(out.clothes2label.size(), 0));
  for (const InfoRow* row : kept) {
    Tracklet tracklet;
    for (int64_t i = row->start; i <= row->end; ++i) {
      const auto& name = names[static_cast<size_t>(i)];
      if (name.text.size() <= 4) {
        throw InputError(at_line(names_path, name.line), "", "frame name '" + name.text + "' is too short");
      }
      tracklet.frames.push_back(home_dir + "/" + name.text.substr(0, 4) + "/" +
                                name.text.substr(0, name.text.size() - 4));
    }
    // Checking every frame would cost one HDF5 lookup per frame; the ends
    // catch a name list or info file that does not belong to this .h5.
    for (const auto* key : {&tracklet.frames.front(), &tracklet.frames.back()}) {
      if (!body.has_dataset(*key)) {
        throw InputError(row->source, "", "names frame '" + *key + "', which is not in " + body.path());
      }
    }
    const int64_t clothes_id = out.clothes2label.at(mevid_clothes_key(*row));
    out.pid2clothes[static_cast<size_t>(pid2label.at(row->pid))][static_cast<size_t>(clothes_id)] = 1;
    tracklet.pid = relabel ? pid2label.at(row->pid) : row->pid;
    tracklet.camid = row->camid;
    tracklet.clothes_id = clothes_id;
    out.tracklets.push_back(std::move(tracklet));
  }
  out.counts = {static_cast<int64_t>(pids.size()), static_cast<int64_t>(out.tracklets.size()),
                static_cast<int64_t>(clothes.size())};
  return out;
}

// ---------------------------------------------------------------- LTCC

struct LtccImage {
  std::string path;
  int64_t pid = 0, camid = 0;
  std::string clothes;
};

std::vector<LtccImage> read_ltcc_folder(const io::H5Reader& body, const std::string& folder) {
  static const std::regex ids_pattern(R"((\d+)_(\d+)_c(\d+))");
  static const std::regex clothes_pattern(R"((\w+)_c)");
  auto names = body.list_group(folder);
  std::sort(names.begin(), names.end());
  std::vector<LtccImage> images;
  for (const auto& name : names) {
    LtccImage image;
    image.path = folder + "/" + name;
    std::smatch ids, clothes;
    if (!std::regex_search(image.path, ids, ids_pattern) ||
        !std::regex_search(image.path, clothes, clothes_pattern)) {
      throw InputError(body.path(), image.path, "does not match '<pid>_<clothes>_c<camera>_...'");
    }
    const auto pid = parse_int(ids[1].str());
    const auto cam = parse_int(ids[3].str());
    if (!pid || !cam) throw InputError(body.path(), image.path, "has an id out of range");
    image.pid = *pid;
    image.camid = *cam - 1;  // upstream: cameras start from 0
    image.clothes = clothes[1].str();
    images.push_back(std::move(image));
  }
  return images;
}

Tracklet ltcc_sample(const LtccImage& image, int64_t pid, int64_t clothes_id) {
  Tracklet tracklet;
  tracklet.frames = {image.path};
  tracklet.pid = pid;
  tracklet.camid = image.camid;
  tracklet.clothes_id = clothes_id;
  return tracklet;
}

}  // namespace

DatasetSplits read_ccvid(const std::string& root) {
  const std::string dir = (fs::path(root) / "CCVID").string();
  DatasetSplits out;
  out.name = "ccvid";
  out.kind = DatasetKind::kVideo;
  const auto train_lines = read_ccvid_split(dir + "/train.txt");
  const auto query_lines = read_ccvid_split(dir + "/query.txt");
  const auto gallery_lines = read_ccvid_split(dir + "/gallery.txt");
  out.body_file = require_file(dir + "/ccvid.h5");
  out.face_file = optional_face_file(dir + "/ccvid_face.h5");
  const io::H5Reader body(out.body_file);

  auto train = process_ccvid(body, train_lines, /*relabel=*/true, nullptr);
  std::set<std::string> test_keys;
  for (const auto* lines : {&query_lines, &gallery_lines}) {
    for (const auto& line : *lines) test_keys.insert(clothes_key(line.pid, line.clothes));
  }
  out.test_clothes2label = label_sorted(test_keys);
  auto query = process_ccvid(body, query_lines, false, &out.test_clothes2label);
  auto gallery = process_ccvid(body, gallery_lines, false, &out.test_clothes2label);

  take_video_splits(out, std::move(train), std::move(query), std::move(gallery));
  return out;
}

DatasetSplits read_mevid(const std::string& root) {
  const std::string dir = (fs::path(root) / "mevid").string();
  DatasetSplits out;
  out.name = "mevid";
  out.kind = DatasetKind::kVideo;
  const std::string train_names_path = dir + "/train_name.txt";
  const std::string test_names_path = dir + "/test_name.txt";
  const auto train_names = read_lines(train_names_path);
  const auto test_names = read_lines(test_names_path);
  const auto train_rows =
      read_mevid_info(dir + "/track_train_info.txt", train_names.size(), train_names_path);
  const auto test_rows = read_mevid_info(dir + "/track_test_info.txt", test_names.size(), test_names_path);
  const auto query_idx = read_query_idx(dir + "/query_IDX.txt", test_rows.size());
  out.body_file = require_file(dir + "/mevid.h5");
  out.face_file = optional_face_file(dir + "/mevid_face_cleaned.h5");
  const io::H5Reader body(out.body_file);

  // query keeps query_IDX's order (duplicates included); the gallery is every
  // other test row, in file order.
  std::vector<InfoRow> query_rows, gallery_rows;
  const std::unordered_set<size_t> is_query(query_idx.begin(), query_idx.end());
  for (size_t i : query_idx) query_rows.push_back(test_rows[i]);
  for (size_t i = 0; i < test_rows.size(); ++i) {
    if (!is_query.count(i)) gallery_rows.push_back(test_rows[i]);
  }

  auto train = process_mevid(body, train_names, train_names_path, train_rows, "bbox_train", true, nullptr);
  out.test_clothes2label = mevid_test_clothes(query_rows, gallery_rows);
  auto query = process_mevid(body, test_names, test_names_path, query_rows, "bbox_test", false,
                             &out.test_clothes2label);
  auto gallery = process_mevid(body, test_names, test_names_path, gallery_rows, "bbox_test", false,
                               &out.test_clothes2label);

  take_video_splits(out, std::move(train), std::move(query), std::move(gallery));
  return out;
}

DatasetSplits read_ltcc(const std::string& root) {
  const std::string dir = (fs::path(root) / "LTCC_ReID").string();
  DatasetSplits out;
  out.name = "ltcc";
  out.kind = DatasetKind::kImage;
  out.body_file = require_file(dir + "/ltcc.h5");
  out.face_file = optional_face_file(dir + "/ltcc_face.h5");
  const io::H5Reader body(out.body_file);

  const auto train = read_ltcc_folder(body, "train");
  std::set<int64_t> train_pids;
  std::set<std::string> train_clothes;
  for (const auto& image : train) {
    train_pids.insert(image.pid);
    train_clothes.insert(image.clothes);
  }
  const auto pid2label = label_sorted(train_pids);
  out.train_clothes2label = label_sorted(train_clothes);
  out.pid2clothes.assign(train_pids.size(), std::vector<uint8_t>(train_clothes.size(), 0));
  for (const auto& image : train) {
    const int64_t pid = pid2label.at(image.pid);
    const int64_t clothes_id = out.train_clothes2label.at(image.clothes);
    out.pid2clothes[static_cast<size_t>(pid)][static_cast<size_t>(clothes_id)] = 1;
    out.train.push_back(ltcc_sample(image, pid, clothes_id));
  }

  // Test pids stay raw; clothes labels are shared by query and gallery ("test").
  const auto query = read_ltcc_folder(body, "query");
  const auto gallery = read_ltcc_folder(body, "test");
  std::set<int64_t> test_pids;
  std::set<std::string> test_clothes;
  for (const auto* images : {&query, &gallery}) {
    for (const auto& image : *images) {
      test_pids.insert(image.pid);
      test_clothes.insert(image.clothes);
    }
  }
  out.test_clothes2label = label_sorted(test_clothes);
  for (const auto& image : query)
    out.query.push_back(ltcc_sample(image, image.pid, out.test_clothes2label.at(image.clothes)));
  for (const auto& image : gallery) {
    out.gallery.push_back(ltcc_sample(image, image.pid, out.test_clothes2label.at(image.clothes)));
  }

  out.num_train_pids = static_cast<int64_t>(train_pids.size());
  out.num_train_clothes = static_cast<int64_t>(train_clothes.size());
  out.num_test_clothes = static_cast<int64_t>(test_clothes.size());
  out.train_counts = {out.num_train_pids, static_cast<int64_t>(out.train.size()), out.num_train_clothes};
  // upstream logs the test pid and clothes counts for both query and gallery.
  const auto num_test_pids = static_cast<int64_t>(test_pids.size());
  out.query_counts = {num_test_pids, static_cast<int64_t>(out.query.size()), out.num_test_clothes};
  out.gallery_counts = {num_test_pids, static_cast<int64_t>(out.gallery.size()), out.num_test_clothes};

  if (!out.face_file.empty()) {
    const io::H5Reader faces(out.face_file);
    for (const auto& name : faces.list_group("train")) {
      out.id2face[name.substr(0, name.find('_'))].push_back(name);
    }
  }
  return out;
}

DatasetSplits read_dataset(const std::string& name, const std::string& root) {
  if (name == "ccvid") return read_ccvid(root);
  if (name == "mevid") return read_mevid(root);
  if (name == "ltcc") return read_ltcc(root);
  throw UsageError("unknown dataset '" + name + "' (expected ccvid, mevid or ltcc)");
}

std::vector<std::string> statistics_lines(const DatasetSplits& splits, int64_t num_train_dense) {
  std::vector<std::string> lines;
  if (splits.kind == DatasetKind::kImage) {
    const std::string rule = "  ----------------------------------------";
    const auto& train = splits.train_counts;
    const int64_t test_pids = splits.query_counts.num_pids;
    const int64_t query_imgs = splits.query_counts.num_tracklets;
    const int64_t gallery_imgs = splits.gallery_counts.num_tracklets;
    lines = {"=> LTCC loaded",
             "Dataset statistics:",
             rule,
             "  subset   | # ids | # images | # clothes",
             rule,
             fmt::format("  train    | {:5d} | {:8d} | {:9d}", train.num_pids, train.num_tracklets,
                         train.num_clothes),
             fmt::format("  test     | {:5d} | {:8d} | {:9d}", test_pids, query_imgs + gallery_imgs,
                         splits.num_test_clothes),
             fmt::format("  query    | {:5d} | {:8d} |", test_pids, query_imgs),
             fmt::format("  gallery  | {:5d} | {:8d} |", test_pids, gallery_imgs),
             rule,
             fmt::format("  total    | {:5d} | {:8d} | {:9d}", train.num_pids + test_pids,
                         train.num_tracklets + query_imgs + gallery_imgs,
                         train.num_clothes + splits.num_test_clothes),
             rule};
    return lines;
  }
  const std::string rule = "  ---------------------------------------------";
  auto row = [](const std::string& subset, const SubsetCounts& c) {
    return fmt::format("  {:<12} | {:5d} | {:11d} | {:9d}", subset, c.num_pids, c.num_tracklets,
                       c.num_clothes);
  };
  lines = {splits.name == "ccvid" ? "=> CCVID loaded" : "=> MEVID loaded",
           "Dataset statistics:",
           rule,
           "  subset       | # ids | # tracklets | # clothes",
           rule,
           row("train", splits.train_counts)};
  if (splits.name == "ccvid") {
    lines.push_back(
        row("train_dense", {splits.train_counts.num_pids, num_train_dense, splits.train_counts.num_clothes}));
  }
  lines.push_back(row("query", splits.query_counts));
  lines.push_back(row("gallery", splits.gallery_counts));
  lines.push_back(rule);
  // upstream's total: train + gallery pids, train clothes + test clothes labels.
  lines.push_back(row("total", {splits.train_counts.num_pids + splits.gallery_counts.num_pids,
                                splits.train_counts.num_tracklets + splits.query_counts.num_tracklets +
                                    splits.gallery_counts.num_tracklets,
                                splits.num_train_clothes + splits.num_test_clothes}));
  size_t min_len = 0, max_len = 0, total = 0, count = 0;
  for (const auto* list : {&splits.train, &splits.gallery, &splits.query}) {
    for (const auto& t : *list) {
      min_len = count == 0 ? t.frames.size() : std::min(min_len, t.frames.size());
      max_len = std::max(max_len, t.frames.size());
      total += t.frames.size();
      ++count;
    }
  }
  const double average = count == 0 ? 0.0 : static_cast<double>(total) / static_cast<double>(count);
  lines.push_back(
      fmt::format("  number of images per tracklet: {} ~ {}, average {:.1f}", min_len, max_len, average));
  lines.push_back(rule);
  return lines;
}

void log_statistics(const DatasetSplits& splits, int64_t num_train_dense) {
  for (const auto& line : statistics_lines(splits, num_train_dense)) spdlog::info("{}", line);
}

std::vector<Tracklet> dense_samples(const std::vector<Tracklet>& tracklets, int64_t sampling_step) {
  if (sampling_step < 0) throw UsageError("sampling_step must be >= 0, got " + std::to_string(sampling_step));
  std::vector<Tracklet> out;
  for (const auto& tracklet : tracklets) {
    const auto length = static_cast<int64_t>(tracklet.frames.size());
    const int64_t chunks = sampling_step == 0 ? 0 : length / sampling_step;
    if (chunks == 0) {
      out.push_back(tracklet);
      continue;
    }
    for (int64_t c = 0; c < chunks; ++c) {
      Tracklet chunk = tracklet;
      const auto first = tracklet.frames.begin() + c * sampling_step;
      const auto last = c == chunks - 1 ? tracklet.frames.end() : first + sampling_step;
      chunk.frames.assign(first, last);
      out.push_back(std::move(chunk));
    }
  }
  return out;
}

ClipSplit test_clips(const std::vector<Tracklet>& tracklets, int64_t seq_len, int64_t stride) {
  if (seq_len <= 0 || stride <= 0) {
    throw UsageError("test clips need seq_len > 0 and stride > 0, got " + std::to_string(seq_len) + " and " +
                     std::to_string(stride));
  }
  ClipSplit out;
  auto add_clip = [&](const Tracklet& source, int64_t begin, int64_t step) {
    Tracklet clip = source;
    clip.frames.clear();
    for (int64_t k = 0; k < seq_len; ++k)
      clip.frames.push_back(source.frames[static_cast<size_t>(begin + k * step)]);
    out.clips.push_back(std::move(clip));
  };
  const int64_t block = seq_len * stride;
  for (const auto& tracklet : tracklets) {
    const auto length = static_cast<int64_t>(tracklet.frames.size());
    const auto first = static_cast<int64_t>(out.clips.size());
    for (int64_t b = 0; b < length / block; ++b) {
      for (int64_t j = 0; j < stride; ++j) add_clip(tracklet, b * block + j, stride);
    }
    const int64_t base = length / block * block;
    const int64_t reduced_stride = (length - base) / seq_len;
    for (int64_t j = 0; j < reduced_stride; ++j) add_clip(tracklet, base + j, reduced_stride);
    if (length % seq_len != 0) {
      // The tail, padded by repeating itself from its start.
      const int64_t tail = length / seq_len * seq_len;
      Tracklet clip = tracklet;
      clip.frames.clear();
      for (int64_t k = 0; k < seq_len; ++k) {
        clip.frames.push_back(tracklet.frames[static_cast<size_t>(tail + k % (length - tail))]);
      }
      out.clips.push_back(std::move(clip));
    }
    out.vid2clip_index.push_back({first, static_cast<int64_t>(out.clips.size())});
  }
  return out;
}

std::vector<std::string> face_crops(const io::H5Reader& faces, const std::string& frame_key) {
  if (!faces.has_group(frame_key)) return {};
  std::vector<std::string> crops;
  for (const auto& name : faces.list_group(frame_key)) crops.push_back(frame_key + "/" + name);
  std::sort(crops.begin(), crops.end());
  return crops;
}

}  // namespace qme::data
