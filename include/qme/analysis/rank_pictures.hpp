#pragma once
/// Rank-list pictures (`qme_ranks`): for chosen probes, the probe's frame (and face crop) next to
/// its top-k gallery entries as one method ranked them, each bordered by its label, plus an index
/// (CSV and HTML) of the pictures. Reads the rank lists `qme_tables --rank_lists DIR` writes and
/// the test set's frames from the dataset the score matrices were built from.
///
/// Rank-list contract (DIR):
///  - `{column}.csv`, header `probe_index,rank,gallery_index,pid,camid,clothes_id,score,
///    label_general,label_cc`: a probe's entries in metric order, ranks 1..top_k; junk entries
///    (general protocol) have an empty rank. pid/camid/clothes_id are the gallery entry's ids.
///  - `{column}_first_match.csv`, header `probe_index,first_match_rank_general,
///    first_match_rank_cc`: the 1-based rank of the first match, empty when the probe has none.
///  - probe_index / gallery_index are rows / columns of the score matrices, which are the test
///    set's query / gallery lists of data::read_dataset in list order: `qme_test --eval_mode
///    feat` writes one feature row per list entry in that order, and `--eval_mode gather` scores
///    row i against column j without reordering. The pictures check it: every entry's ids must
///    be those of the dataset's gallery entry, and a match must share the probe's pid.
///
/// Header free of OpenCV and LibTorch; the library (qme_rank_pictures) links qme_data.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace qme::analysis {

enum class RankLabel { kMatch, kJunk, kWrong };

/// "match", "junk", "wrong".
std::string to_string(RankLabel label);

/// One row of `{column}.csv`.
struct RankListEntry {
  int64_t probe_index = 0;
  int64_t rank = 0;  ///< 1-based; 0 for a junk entry (an empty rank in the file)
  int64_t gallery_index = 0;
  int64_t pid = 0, camid = 0, clothes_id = 0;  ///< the gallery entry's ids
  double score = 0;
  RankLabel label_general = RankLabel::kWrong;
  RankLabel label_cc = RankLabel::kWrong;
  int64_t line = 0;  ///< line in the file (1 = header), for messages
};

/// A `{column}.csv`: per probe, its entries in file (metric) order.
struct RankList {
  std::string path;
  std::map<int64_t, std::vector<RankListEntry>> probes;
};

/// Reads and checks a rank-list file. InputError naming the file, the line and the field for a
/// missing file, another header, a malformed value, an unknown label, an empty rank on a
/// non-junk entry (or a rank on a junk one), or ranks of a probe that do not run 1, 2, 3, ...
RankList read_rank_list(const std::string& path);

/// One row of `{column}_first_match.csv`; nullopt where the probe has no valid match.
struct FirstMatch {
  std::optional<int64_t> general, cc;
};
/// probe_index -> first-match ranks.
using FirstMatches = std::map<int64_t, FirstMatch>;

/// Reads and checks a first-match file (InputError as read_rank_list; a probe listed twice or a
/// rank below 1 too).
FirstMatches read_first_matches(const std::string& path);

/// "{dir}/{column}.csv" and "{dir}/{column}_first_match.csv".
std::string rank_list_path(const std::string& dir, const std::string& column);
std::string first_match_path(const std::string& dir, const std::string& column);

/// The classic baselines `--against best` chooses from, in the paper table's order:
/// zscore, minmax, rhe, min, mean, max.
const std::vector<std::string>& baseline_columns();

/// Share of probes with a general first match at rank 1 among the probes that have one (0 when
/// none has).
double rank1_share(const FirstMatches& matches);

/// The baseline of baseline_columns() other than `exclude` (the column compared) whose first-match
/// file is in `dir` with the highest rank1_share (the first in that order on a tie). InputError
/// naming `dir` when none is there.
std::string best_baseline(const std::string& dir, const std::string& exclude = "");

/// How the probes are chosen.
enum class ProbeSelection {
  kListed,     ///< the probes given
  kImproved,   ///< `column` has its first match at rank 1, `against` does not
  kRegressed,  ///< `against` has its first match at rank 1, `column` does not
  kRandom,     ///< `count` probes of the rank list drawn with std::mt19937(seed)
};

/// "improved", "regressed", "random" (kListed has no name); UsageError for another name.
ProbeSelection parse_probe_selection(const std::string& name);

struct ChosenProbe {
  int64_t probe_index = 0;
  std::string why;  ///< e.g. "improved: qme rank 1, zscore rank 4"
};

/// kImproved / kRegressed: the first `count` qualifying probes in probe order (probes in both
/// files with a valid match). `column` and `against` name the two in `why`.
std::vector<ChosenProbe> select_by_first_match(const FirstMatches& column_matches,
                                               const FirstMatches& against_matches, ProbeSelection selection,
                                               int64_t count, const std::string& column,
                                               const std::string& against);

/// kRandom: `count` distinct probes of `candidates` (all of them when fewer), drawn without
/// replacement with std::mt19937(seed) (partial Fisher-Yates, bounded draws by rejection, so the
/// choice is the same with any standard library), returned in probe order.
std::vector<ChosenProbe> select_random(const std::vector<int64_t>& candidates, int64_t count, uint32_t seed);

/// Border colour of a gallery entry by its general-protocol label, RGB: green (match), red
/// (wrong), grey (junk).
std::array<uint8_t, 3> label_colour(RankLabel label);

struct RankPicturesOptions {
  std::string rank_lists;    ///< DIR with {column}.csv, {column}_first_match.csv
  std::string dataset_root;  ///< folder holding CCVID/, mevid/, LTCC_ReID/
  std::string dataset;       ///< ccvid, mevid or ltcc
  std::string out_dir;
  std::string column = "qme";
  std::vector<int64_t> probes;  ///< non-empty: exactly these probes (selection kListed)
  ProbeSelection selection = ProbeSelection::kImproved;
  std::string against = "best";  ///< a column in DIR, or "best" (best_baseline)
  int64_t count = 12;            ///< at most this many pictures (selections other than kListed)
  uint32_t seed = 7;             ///< kRandom
  int64_t top_k = 0;             ///< gallery entries per picture: up to the top_k-th ranked one; 0: all
  int thumb_height = 128;        ///< height of every frame thumbnail, pixels
  int per_row = 10;              ///< gallery entries per row of a picture
};

/// Where a panel's bordered thumbnail lies in its picture (pixels, border included).
struct PanelBox {
  int x = 0, y = 0, width = 0, height = 0;
  int border = 0;                       ///< border thickness
  RankLabel label = RankLabel::kWrong;  ///< gallery panels
  int64_t gallery_index = -1;           ///< -1: the probe's frame
};

struct RankPicture {
  int64_t probe_index = 0;
  std::string file;  ///< name in out_dir: "{column}_probe{index}.png"
  std::string why;
  int width = 0, height = 0;
  std::vector<PanelBox> panels;  ///< the probe's frame first, then the gallery entries shown
  /// The probe's face crop (from the frame nearest the middle that has one), or a light grey
  /// "no face" box (border 0) when no frame has one; width 0 when the dataset has no face file.
  PanelBox face;
};

struct RankPicturesResult {
  std::string against;  ///< the column compared with ("" for kListed / kRandom)
  std::vector<RankPicture> pictures;
  std::string index_csv, index_html;
};

/// Chooses the probes, draws one PNG per probe into `out_dir` ("{column}_probe{index}.png") and
/// writes `index.csv` (probe_index,column,file,why_chosen) and `index.html`. Everything is read,
/// checked and drawn before the first file is written (each atomically): UsageError for
/// `count` < 1, `top_k` < 0 or a listed probe outside the query set; InputError naming the file
/// and field for a missing or malformed rank-list file, a probe or gallery index beyond the
/// dataset's query / gallery set, ids that disagree with the dataset's, a chosen probe without
/// entries, or an unreadable frame; nothing is written then.
RankPicturesResult write_rank_pictures(const RankPicturesOptions& options);

}  // namespace qme::analysis
