#pragma once
/// Rank lists: each probe's best gallery entries in exactly the order the CMC/mAP metrics rank
/// them (upstream's np.argsort(-row): descending score, NaN last, numpy's own order among tied
/// scores), with their labels under the general and clothes-changing protocols, written as files
/// for scripts (failure analysis, galleries of top matches).
///
/// Files written for a column KEY into a folder DIR (the contract):
///
/// - DIR/{KEY}.csv, header
///   `probe_index,rank,gallery_index,pid,camid,clothes_id,score,label_general,label_cc`.
///   Per probe (0-based probe_index, ascending), the gallery in metric order. Entries that are
///   junk under the general protocol (same pid, same camera) have an empty rank; the others are
///   ranked 1, 2, ...; a probe's list stops after rank top_k (junk ranked before that entry is
///   listed), or at the end of the gallery. pid/camid/clothes_id are the gallery entry's; score is
///   "%.9g" (nan, inf as printed by C); labels are the words match, junk, wrong.
/// - DIR/{KEY}_first_match.csv, header `probe_index,first_match_rank_general,first_match_rank_cc`:
///   the 1-based rank of the first match once that protocol's junk is removed (the rank behind
///   GR_top{k} / CC_top{k}: eval::query_outcomes' first_good_position + 1), empty when the probe
///   has no match under that protocol (it does not count in that protocol's CMC).
/// - DIR/rank_lists.h5, one file for every column the writer has seen: it is rewritten
///   (atomically) after each column, with every column so far. Root: attribute `top_k` (int64),
///   attribute `label_codes` (text), dataset `columns` (the keys, in the order seen). Group KEY:
///     gallery_index  (Q, top_k) int64    -1 past the end of a gallery shorter than top_k
///     score          (Q, top_k) float32  NaN past the end
///     label_general  (Q, top_k) uint8    kLabelCodes below; 255 past the end
///     label_cc       (Q, top_k) uint8
///     first_match_rank_general, first_match_rank_cc  (Q,) int64, 0 where the probe has no match
///   Unlike the CSV, these lists are the first top_k entries in metric order INCLUDING junk, so
///   that every probe has the same shape; labels are uint8 because qme's HDF5 writer has no int8.
#include <cstdint>
#include <string>
#include <vector>

#include "qme/core/identity_labels.hpp"
#include "qme/core/score_matrix.hpp"
#include "qme/eval/score_fusion.hpp"

namespace qme::analysis {

/// A gallery entry seen from one probe under one protocol. The values are the HDF5 codes.
enum class EntryLabel : uint8_t { kWrong = 0, kMatch = 1, kJunk = 2 };
/// HDF5 label code of a slot past the end of a gallery shorter than top_k.
constexpr uint8_t kNoEntryCode = 255;
/// The text of the `label_codes` attribute.
constexpr const char* kLabelCodes = "0 wrong, 1 match, 2 junk, 255 no entry";

/// "match", "junk", "wrong": the CSV's words.
const char* to_string(EntryLabel label);

/// General protocol (upstream `evaluate`): match = same pid and other camera, junk = same pid
/// and same camera, wrong = other pid.
EntryLabel general_label(const TestLabels& labels, int64_t probe, int64_t entry);
/// Clothes-changing protocol (upstream `evaluate_with_clothes`): match = same pid, other camera
/// and other clothes; junk = same pid and (same camera or same clothes); wrong = other pid.
EntryLabel clothes_changing_label(const TestLabels& labels, int64_t probe, int64_t entry);

/// The first lengths[q] gallery indices of each probe q in metric order (exactly
/// np.argsort(-row), qme::numpy::argsort of the negated row), fewer when the gallery is shorter.
/// Partial sort by eval::rank_key; numpy's order is computed only for tied scores that reach
/// into the listed prefix. Rows in parallel (num_threads 0: default_num_threads()).
std::vector<std::vector<int64_t>> metric_order_prefixes(const ScoreMatrix& scores,
                                                        const std::vector<int64_t>& lengths,
                                                        int num_threads = 0);

/// One column's rank lists, computed once and written in every format.
struct ColumnRankLists {
  int64_t top_k = 0;
  /// Per probe, metric order (junk included) up to and including the top_k-th entry that is
  /// not general junk, or the whole gallery; always min(top_k, G) entries or more.
  std::vector<std::vector<int64_t>> order;
  /// 1-based rank after junk removal of the first match, 0 without one (query_outcomes).
  std::vector<int64_t> first_match_general;
  std::vector<int64_t> first_match_cc;
};

/// Throws qme::Error when the matrix does not match the labels, UsageError for top_k < 1.
ColumnRankLists compute_rank_lists(const ScoreMatrix& scores, const TestLabels& labels, int64_t top_k,
                                   int num_threads = 0);

/// The text of DIR/{KEY}.csv and DIR/{KEY}_first_match.csv (see the file comment).
std::string rank_list_csv(const ColumnRankLists& lists, const ScoreMatrix& scores, const TestLabels& labels,
                          int num_threads = 0);
std::string first_match_csv(const ColumnRankLists& lists);

struct RankListOptions {
  std::string dir;  // created when missing
  int top_k = 10;
  int num_threads = 0;  // 0: default_num_threads()
};

/// Writes the rank-list files of every column run_tables evaluates (only score_mat is used).
class RankListWriter {
 public:
  /// Throws UsageError naming --top_k when top_k < 1.
  explicit RankListWriter(RankListOptions options);

  /// For TablesOptions::observers. It refers to this writer, which must outlive the run.
  eval::ScoresObserver observer();

  /// Writes the files of one column (what observer() does). Throws qme::Error for a key that is
  /// empty or holds '/', InputError when DIR or a file cannot be written.
  void write_column(const std::string& key, const ScoreMatrix& scores, const TestLabels& labels);

  /// Every path written so far, each once, in the order first written.
  const std::vector<std::string>& written() const { return written_; }

 private:
  /// The HDF5 arrays of one column, kept to rewrite rank_lists.h5 with every column.
  struct H5Column {
    std::string key;
    int64_t probes = 0;
    std::vector<int64_t> gallery_index;
    std::vector<float> score;
    std::vector<uint8_t> label_general, label_cc;
    std::vector<int64_t> first_match_general, first_match_cc;
  };

  static H5Column h5_column(const std::string& key, const ColumnRankLists& lists, const ScoreMatrix& scores,
                            const TestLabels& labels);
  void write_h5() const;
  void note_written(const std::string& path);

  RankListOptions options_;
  std::vector<H5Column> columns_;
  std::vector<std::string> written_;
};

}  // namespace qme::analysis
