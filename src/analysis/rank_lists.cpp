#include "qme/analysis/rank_lists.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <utility>

#include "qme/core/error.hpp"
#include "qme/core/numpy_sort.hpp"
#include "qme/core/parallel.hpp"
#include "qme/eval/ranking.hpp"
#include "qme/eval/retrieval.hpp"
#include "qme/io/hdf5_file.hpp"
#include "qme/io/output_directory.hpp"
#include "qme/io/text_file.hpp"

namespace qme::analysis {

namespace {

constexpr const char* kH5Name = "rank_lists.h5";

inline uint32_t score_part(uint64_t rank_key) {
  return static_cast<uint32_t>(rank_key >> 32);
}

inline int64_t index_part(uint64_t rank_key) {
  return static_cast<int64_t>(0xffffffffu - static_cast<uint32_t>(rank_key));
}

/// Scratch buffers of one worker thread.
struct PrefixScratch {
  std::vector<uint64_t> keys;
  std::vector<uint32_t> tied;  // score keys of tie groups that reach into the prefix
  std::vector<float> negated;
  std::vector<int64_t> order;
};

/// Sorts the row's best min(n + 1, cols) rank keys to the front of s.keys, best first, and
/// lists in s.tied (descending) the scores tied among them: the key after the prefix tells
/// whether a tie crosses its boundary.
void sort_prefix_keys(const float* row, int64_t cols, int64_t n, PrefixScratch& s) {
  s.keys.resize(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) s.keys[static_cast<size_t>(j)] = eval::rank_key(row[j], j);
  const int64_t sorted = std::min(n + 1, cols);
  const auto begin = s.keys.begin(), middle = begin + sorted;
  if (sorted < cols) std::nth_element(begin, middle - 1, s.keys.end(), std::greater<>());
  std::sort(begin, middle, std::greater<>());
  s.tied.clear();
  for (int64_t t = 0; t + 1 < sorted; ++t) {
    const uint32_t score = score_part(s.keys[static_cast<size_t>(t)]);
    if (score == score_part(s.keys[static_cast<size_t>(t + 1)]) && (s.tied.empty() || s.tied.back() != score))
      s.tied.push_back(score);
  }
}

/// Replaces the tied entries of `out` by numpy's order. A tie group holds the same positions
/// in rank_key order and in numpy's (the two agree on every other score), and argsort_focused
/// puts exactly the focus values where numpy's full argsort puts them.
void order_ties_like_numpy(const float* row, int64_t cols, std::vector<int64_t>& out, PrefixScratch& s) {
  std::vector<float> focus;
  for (uint32_t k : s.tied)
    focus.push_back(k == 0 ? std::numeric_limits<float>::quiet_NaN() : -eval::key_score(k));
  s.negated.resize(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) s.negated[static_cast<size_t>(j)] = -row[j];
  numpy::argsort_focused(s.negated.data(), cols, focus, s.order);
  for (size_t t = 0; t < out.size(); ++t) {
    const uint32_t score = score_part(s.keys[t]);
    if (std::binary_search(s.tied.begin(), s.tied.end(), score, std::greater<>())) out[t] = s.order[t];
  }
}

/// The first `length` entries of a row in metric order (np.argsort(-row)): rank_key order,
/// which is numpy's except within groups of tied scores, then numpy's order for the tie groups
/// that reach into the prefix.
std::vector<int64_t> metric_order_prefix(const float* row, int64_t cols, int64_t length, PrefixScratch& s) {
  const int64_t n = std::min(length, cols);
  if (n <= 0) return {};
  sort_prefix_keys(row, cols, n, s);
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (size_t t = 0; t < out.size(); ++t) out[t] = index_part(s.keys[t]);
  if (!s.tied.empty()) order_ties_like_numpy(row, cols, out, s);
  return out;
}

void check_shapes(const ScoreMatrix& scores, const TestLabels& labels) {
  validate_labels(labels, "rank lists");
  if (!scores.consistent() || scores.rows != static_cast<int64_t>(labels.query.size()) ||
      scores.cols != static_cast<int64_t>(labels.gallery.size())) {
    throw Error("rank lists: the score matrix is " + std::to_string(scores.rows) + "x" +
                std::to_string(scores.cols) + " but there are " + std::to_string(labels.query.size()) +
                " probes and " + std::to_string(labels.gallery.size()) + " gallery entries");
  }
}

void check_top_k(int64_t top_k) {
  if (top_k < 1) throw UsageError("--top_k must be at least 1 (got " + std::to_string(top_k) + ")");
}

/// Per probe, the prefix length that reaches its top_k-th non-junk entry: every general junk
/// entry (same pid and camera) may rank before it.
std::vector<int64_t> prefix_lengths(const TestLabels& labels, int64_t top_k) {
  std::map<std::pair<int64_t, int64_t>, int64_t> junk_count;
  for (size_t j = 0; j < labels.gallery.size(); ++j)
    ++junk_count[{labels.gallery.pids[j], labels.gallery.camids[j]}];
  std::vector<int64_t> lengths(labels.query.size(), top_k);
  for (size_t q = 0; q < labels.query.size(); ++q) {
    const auto found = junk_count.find({labels.query.pids[q], labels.query.camids[q]});
    if (found != junk_count.end()) lengths[q] += found->second;
  }
  return lengths;
}

/// Cuts a probe's prefix right after its top_k-th entry that is not general junk.
void trim_after_top_k(std::vector<int64_t>& order, const TestLabels& labels, int64_t probe, int64_t top_k) {
  int64_t ranked = 0;
  for (size_t t = 0; t < order.size(); ++t) {
    if (general_label(labels, probe, order[t]) == EntryLabel::kJunk) continue;
    if (++ranked == top_k) {
      // The HDF5 lists need top_k entries, junk included, even when junk ends the list early.
      order.resize(std::max(t + 1, std::min(order.size(), static_cast<size_t>(top_k))));
      return;
    }
  }
}

int64_t one_based(const eval::QueryOutcome& outcome) {
  return outcome.valid ? outcome.first_good_position + 1 : 0;
}

std::string number_or_empty(int64_t rank) {
  return rank > 0 ? std::to_string(rank) : std::string();
}

/// The CSV lines of one probe.
std::string probe_lines(const ColumnRankLists& lists, const ScoreMatrix& scores, const TestLabels& labels,
                        int64_t probe) {
  std::string text;
  char buffer[256];
  int64_t rank = 0;
  for (int64_t j : lists.order[static_cast<size_t>(probe)]) {
    if (rank == lists.top_k) break;  // junk after the last ranked entry: only in the HDF5
    const auto general = general_label(labels, probe, j);
    const std::string rank_text = general == EntryLabel::kJunk ? "" : std::to_string(++rank);
    const auto g = static_cast<size_t>(j);
    std::snprintf(
        buffer, sizeof buffer, "%lld,%s,%lld,%lld,%lld,%lld,%.9g,%s,%s\n", static_cast<long long>(probe),
        rank_text.c_str(), static_cast<long long>(j), static_cast<long long>(labels.gallery.pids[g]),
        static_cast<long long>(labels.gallery.camids[g]),
        static_cast<long long>(labels.gallery.clothes_ids[g]), static_cast<double>(scores.at(probe, j)),
        to_string(general), to_string(clothes_changing_label(labels, probe, j)));
    text += buffer;
  }
  return text;
}

}  // namespace

const char* to_string(EntryLabel label) {
  switch (label) {
    case EntryLabel::kMatch:
      return "match";
    case EntryLabel::kJunk:
      return "junk";
    case EntryLabel::kWrong:
      break;
  }
  return "wrong";
}

EntryLabel general_label(const TestLabels& labels, int64_t probe, int64_t entry) {
  const auto q = static_cast<size_t>(probe), g = static_cast<size_t>(entry);
  if (labels.query.pids[q] != labels.gallery.pids[g]) return EntryLabel::kWrong;
  return labels.query.camids[q] == labels.gallery.camids[g] ? EntryLabel::kJunk : EntryLabel::kMatch;
}

EntryLabel clothes_changing_label(const TestLabels& labels, int64_t probe, int64_t entry) {
  const auto q = static_cast<size_t>(probe), g = static_cast<size_t>(entry);
  if (labels.query.pids[q] != labels.gallery.pids[g]) return EntryLabel::kWrong;
  const bool same_camera = labels.query.camids[q] == labels.gallery.camids[g];
  const bool same_clothes = labels.query.clothes_ids[q] == labels.gallery.clothes_ids[g];
  return same_camera || same_clothes ? EntryLabel::kJunk : EntryLabel::kMatch;
}

std::vector<std::vector<int64_t>> metric_order_prefixes(const ScoreMatrix& scores,
                                                        const std::vector<int64_t>& lengths,
                                                        int num_threads) {
  if (static_cast<int64_t>(lengths.size()) != scores.rows)
    throw Error("rank lists: " + std::to_string(lengths.size()) + " prefix lengths for " +
                std::to_string(scores.rows) + " rows");
  std::vector<std::vector<int64_t>> out(lengths.size());
  parallel_for(
      scores.rows,
      [&](int64_t begin, int64_t end, int) {
        PrefixScratch scratch;
        for (int64_t i = begin; i < end; ++i) {
          out[static_cast<size_t>(i)] =
              metric_order_prefix(scores.row(i), scores.cols, lengths[static_cast<size_t>(i)], scratch);
        }
      },
      num_threads);
  return out;
}

ColumnRankLists compute_rank_lists(const ScoreMatrix& scores, const TestLabels& labels, int64_t top_k,
                                   int num_threads) {
  check_top_k(top_k);
  check_shapes(scores, labels);
  ColumnRankLists lists;
  lists.top_k = top_k;
  lists.order = metric_order_prefixes(scores, prefix_lengths(labels, top_k), num_threads);
  for (int64_t q = 0; q < scores.rows; ++q)
    trim_after_top_k(lists.order[static_cast<size_t>(q)], labels, q, top_k);
  // The metrics' own per-probe outcomes: the first-match ranks agree with GR/CC_top{k} by construction.
  for (const auto& outcome : eval::query_outcomes(scores, labels, num_threads)) {
    lists.first_match_general.push_back(one_based(outcome[eval::kGeneral]));
    lists.first_match_cc.push_back(one_based(outcome[eval::kClothesChanging]));
  }
  return lists;
}

std::string rank_list_csv(const ColumnRankLists& lists, const ScoreMatrix& scores, const TestLabels& labels,
                          int num_threads) {
  std::vector<std::string> blocks(lists.order.size());
  parallel_for(
      static_cast<int64_t>(blocks.size()),
      [&](int64_t begin, int64_t end, int) {
        for (int64_t q = begin; q < end; ++q)
          blocks[static_cast<size_t>(q)] = probe_lines(lists, scores, labels, q);
      },
      num_threads);
  std::string text = "probe_index,rank,gallery_index,pid,camid,clothes_id,score,label_general,label_cc\n";
  for (const auto& block : blocks) text += block;
  return text;
}

std::string first_match_csv(const ColumnRankLists& lists) {
  std::string text = "probe_index,first_match_rank_general,first_match_rank_cc\n";
  for (size_t q = 0; q < lists.first_match_general.size(); ++q) {
    text += std::to_string(q) + "," + number_or_empty(lists.first_match_general[q]) + "," +
            number_or_empty(lists.first_match_cc[q]) + "\n";
  }
  return text;
}

RankListWriter::RankListWriter(RankListOptions options) : options_(std::move(options)) {
  check_top_k(options_.top_k);
}

eval::ScoresObserver RankListWriter::observer() {
  return [this](const eval::TableColumnId& column, const ModelScores& scores, const TestLabels& labels) {
    write_column(column.key, scores.score_mat, labels);
  };
}

void RankListWriter::write_column(const std::string& key, const ScoreMatrix& scores,
                                  const TestLabels& labels) {
  // The key names files and an HDF5 group: a '/' would put them somewhere else.
  if (key.empty() || key.find('/') != std::string::npos)
    throw Error("rank lists: column name '" + key + "' cannot name a file");
  const auto lists = compute_rank_lists(scores, labels, options_.top_k, options_.num_threads);
  io::ensure_output_directory(options_.dir);
  const auto path = [&](const std::string& name) {
    return (std::filesystem::path(options_.dir) / name).string();
  };
  io::write_text_file(path(key + ".csv"), rank_list_csv(lists, scores, labels, options_.num_threads));
  note_written(path(key + ".csv"));
  io::write_text_file(path(key + "_first_match.csv"), first_match_csv(lists));
  note_written(path(key + "_first_match.csv"));

  auto column = h5_column(key, lists, scores, labels);
  const auto same_key =
      std::find_if(columns_.begin(), columns_.end(), [&](const H5Column& c) { return c.key == key; });
  if (same_key != columns_.end()) {
    *same_key = std::move(column);  // a column seen again replaces its earlier lists
  } else {
    columns_.push_back(std::move(column));
  }
  write_h5();
  note_written(path(kH5Name));
}

RankListWriter::H5Column RankListWriter::h5_column(const std::string& key, const ColumnRankLists& lists,
                                                   const ScoreMatrix& scores, const TestLabels& labels) {
  H5Column c;
  c.key = key;
  c.probes = scores.rows;
  const auto k = static_cast<size_t>(lists.top_k);
  const auto slots = static_cast<size_t>(scores.rows) * k;
  c.gallery_index.assign(slots, -1);
  c.score.assign(slots, std::numeric_limits<float>::quiet_NaN());
  c.label_general.assign(slots, kNoEntryCode);
  c.label_cc.assign(slots, kNoEntryCode);
  for (int64_t q = 0; q < scores.rows; ++q) {
    const auto& order = lists.order[static_cast<size_t>(q)];
    for (size_t t = 0; t < std::min(k, order.size()); ++t) {
      const size_t slot = static_cast<size_t>(q) * k + t;
      c.gallery_index[slot] = order[t];
      c.score[slot] = scores.at(q, order[t]);
      c.label_general[slot] = static_cast<uint8_t>(general_label(labels, q, order[t]));
      c.label_cc[slot] = static_cast<uint8_t>(clothes_changing_label(labels, q, order[t]));
    }
  }
  c.first_match_general = lists.first_match_general;
  c.first_match_cc = lists.first_match_cc;
  return c;
}

void RankListWriter::write_h5() const {
  io::AtomicH5Writer writer((std::filesystem::path(options_.dir) / kH5Name).string());
  writer.write_int_attribute("top_k", options_.top_k);
  writer.write_string_attribute("label_codes", kLabelCodes);
  std::vector<std::string> keys;
  for (const auto& c : columns_) keys.push_back(c.key);
  writer.write_strings("columns", keys);
  const auto k = static_cast<uint64_t>(options_.top_k);
  for (const auto& c : columns_) {
    const io::Shape table = {static_cast<uint64_t>(c.probes), k};
    const io::Shape per_probe = {static_cast<uint64_t>(c.probes)};
    writer.write_int64(c.key + "/gallery_index", c.gallery_index.data(), table);
    writer.write_float32(c.key + "/score", c.score.data(), table);
    writer.write_uint8(c.key + "/label_general", c.label_general.data(), table);
    writer.write_uint8(c.key + "/label_cc", c.label_cc.data(), table);
    writer.write_int64(c.key + "/first_match_rank_general", c.first_match_general.data(), per_probe);
    writer.write_int64(c.key + "/first_match_rank_cc", c.first_match_cc.data(), per_probe);
  }
  writer.commit();
}

void RankListWriter::note_written(const std::string& path) {
  if (std::find(written_.begin(), written_.end(), path) == written_.end()) written_.push_back(path);
}

}  // namespace qme::analysis
