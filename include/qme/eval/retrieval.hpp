#pragma once
/// Re-identification CMC and mAP (upstream `evaluate` / `evaluate_with_clothes`)
/// for the general, same-clothes and clothes-changing protocols, in one pass.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "qme/core/identity_labels.hpp"
#include "qme/core/score_matrix.hpp"
#include "qme/eval/score_tail.hpp"

namespace qme::eval {

/// CMC at ranks 1/5/10/20 and mAP over the queries that have a good match.
/// A rank larger than the gallery is undefined (NaN), as is everything of a
/// protocol whose definition divides by zero valid queries (general protocol).
struct RankingMetrics {
  double top1 = 0, top5 = 0, top10 = 0, top20 = 0, mAP = 0;
  int64_t num_valid_queries = 0;
};

struct RetrievalMetrics {
  RankingMetrics general;           // good: same pid, other camera
  RankingMetrics same_clothes;      // ... and same clothes
  RankingMetrics clothes_changing;  // ... and other clothes
};

/// Streams row by row (O(G) memory per thread), never sorting a whole row:
/// the rank of each same-identity entry is counted against the others.
/// When `tail` is given (its key and share set before the call) it receives every score at or
/// above tail->key, the number of scores scanned and of NaN among them: TAR@FAR then reads the
/// matrix no second time.
RetrievalMetrics evaluate_retrieval(const ScoreMatrix& scores, const TestLabels& labels, int num_threads = 0,
                                    ScoreTail* tail = nullptr);

/// What one query contributes to one protocol: whether it has a good entry (it counts in
/// the protocol's CMC and mAP), the 0-based position of its first good entry after junk
/// removal (ties ranked as evaluate_retrieval ranks them) and its average precision.
/// evaluate_retrieval's metrics are means of these over the valid queries, in query order.
struct QueryOutcome {
  bool valid = false;
  int64_t first_good_position = 0;
  double average_precision = 0;
};

/// Indices into QueryOutcomes, in the order of RetrievalMetrics.
enum Protocol : int { kGeneral = 0, kSameClothes = 1, kClothesChanging = 2 };
constexpr int kNumProtocols = 3;
using QueryOutcomes = std::array<QueryOutcome, kNumProtocols>;

/// Every query's outcome under the three protocols (the per-probe parts of
/// evaluate_retrieval, which analyses such as the bootstrap and the rank lists reuse).
std::vector<QueryOutcomes> query_outcomes(const ScoreMatrix& scores, const TestLabels& labels,
                                          int num_threads = 0);

/// The metrics of given outcomes, the queries taken in `rows` order (nullptr: 0..Q-1; a query
/// listed twice counts twice, as a repeated score-matrix row would): evaluate_retrieval's
/// summary, which the bootstrap applies to each resample.
RetrievalMetrics summarise_retrieval(const std::vector<QueryOutcomes>& outcomes, int64_t gallery_size,
                                     const std::vector<int64_t>* rows = nullptr);

/// Each query's 0-based position of its first good entry in the general protocol (junk
/// removed, ties ranked as evaluate_retrieval ranks them), or -1 without a good entry:
/// the whole CMC curve, of which GR_top{1,5,10,20} are four points.
std::vector<int64_t> general_first_good_positions(const ScoreMatrix& scores, const TestLabels& labels,
                                                  int num_threads = 0);

}  // namespace qme::eval
