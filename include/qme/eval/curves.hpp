#pragma once
/// The data behind qme_tables' plots, one set per evaluated matrix: the ROC / DET curve over all
/// probe x gallery pairs (the report's TAR@FAR points are points of it), the CMC curve of the
/// general protocol (GR_top{1,5,10,20} are points of it), genuine vs impostor score densities,
/// and the quality weights split by the face model's rank-1 outcome. Torch- and PLplot-free:
/// the drawing is qme::plot's; the CSV text of every plot is made here.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "qme/core/identity_labels.hpp"
#include "qme/core/score_matrix.hpp"
#include "qme/eval/score_fusion.hpp"

namespace qme::eval {

/// Points of scikit-learn's roc_curve (drop_intermediate=True: distinct thresholds, corner
/// points, (0, 0) first with threshold max + 1) over all pairs (match = same pid; NaN scores
/// count as the lowest score), thinned for drawing.
struct RocPoints {
  std::vector<double> far, tar, threshold;
  int64_t num_genuine = 0, num_impostor = 0;  // all pairs of each kind
  double exact_far = 1.0;                     // up to this FAR every impostor pair is counted (1: everywhere)
  int64_t impostor_stride = 1;                // beyond it, every k-th impostor pair stands for k
};

struct RocOptions {
  /// Keep a point when it moves by at least 1/resolution of a plot axis since the last kept one
  /// (log10 FAR over [min_far, 1], TAR, log10 FNMR over [min_fnmr, 1]); 0 keeps every point.
  int resolution = 600;
  double min_far = 1e-4;
  double min_fnmr = 1e-4;
  /// For each of these FARs, the first point with FPR >= it (the report's TAR@FAR point) is
  /// always kept, so the drawn curve passes through the report's numbers.
  std::vector<double> keep_fars = {1e-4, 1e-3, 1e-2};
  /// Up to this many impostor pairs every one is sorted. Beyond (LTCC has 3.4 million, MSMT17
  /// about 10^9), every impostor scoring like the top 1.5 x max(keep_fars) of them still is,
  /// so the curve stays exact where the report reads it, and of the lower-scoring bulk every
  /// k-th pair is sorted (about this many), each standing for k. Genuine pairs: always all.
  int64_t exact_impostors = int64_t{1} << 19;
  int num_threads = 0;
};

/// Empty (with a warning by the caller) when there is no genuine or no impostor pair.
RocPoints roc_points(const ScoreMatrix& scores, const std::vector<int64_t>& query_pids,
                     const std::vector<int64_t>& gallery_pids, const RocOptions& options = {});

/// CMC at ranks 1..max_rank from general_first_good_positions (retrieval.hpp): the share of
/// queries with a good entry whose first one lies within the rank. NaN beyond the gallery
/// size and everywhere without a valid query, as in the report.
std::vector<double> cmc_curve(const std::vector<int64_t>& first_good_positions, int64_t gallery_size,
                              int max_rank = 20);

/// A normalised histogram: density[b] * bin_width summed over bins is 1 (0 when empty).
struct Density {
  std::vector<double> density;
  int64_t count = 0;
  double mean = 0, stddev = 0;  // of the values themselves (population std)
};

/// Genuine (same pid) and impostor score densities on shared bins over [lo, hi], the matrix's
/// score range (NaN scores count as the lowest score, as for TAR@FAR).
struct ScoreDensities {
  double lo = 0, hi = 1;
  Density genuine, impostor;
  double bin_width() const;
  /// Decidability index |mu_g - mu_i| / sqrt((sigma_g^2 + sigma_i^2) / 2); NaN when undefined.
  double d_prime() const;
};

ScoreDensities score_densities(const ScoreMatrix& scores, const std::vector<int64_t>& query_pids,
                               const std::vector<int64_t>& gallery_pids, int bins = 80, int num_threads = 0);

/// Quality weights of the probes that have a good entry, split by whether the face model's
/// first good entry is at rank 1; bins over [min(0, lowest), max(1, highest)].
struct QualitySplit {
  double lo = 0, hi = 1;
  Density rank1_correct, rank1_wrong;
  double bin_width() const;
};

/// Throws Error when weights and positions differ in length.
QualitySplit quality_split(const std::vector<float>& weights,
                           const std::vector<int64_t>& first_good_positions, int bins = 25);

/// Everything drawn for one matrix.
struct MatrixCurves {
  std::string name;  // the table column
  ColumnKind kind = ColumnKind::kModel;
  RocPoints roc;
  std::vector<double> cmc;                    // ranks 1..max_rank
  std::vector<int64_t> first_good_positions;  // per probe, general protocol
  ScoreDensities densities;
};

struct CurveOptions {
  RocOptions roc;
  int max_rank = 20;
  int score_bins = 80;
  int num_threads = 0;
};

MatrixCurves matrix_curves(const std::string& name, ColumnKind kind, const ScoreMatrix& scores,
                           const TestLabels& labels, const CurveOptions& options = {});

/// Collects every column's curves while run_tables evaluates it: add observer() to
/// TablesOptions::observers; the matrices themselves are not kept.
class TablesCurves {
 public:
  explicit TablesCurves(CurveOptions options = {}) : options_(std::move(options)) {}
  void add(const std::string& column, ColumnKind kind, const ModelScores& scores, const TestLabels& labels);
  ScoresObserver observer();
  const std::vector<MatrixCurves>& columns() const { return columns_; }
  int64_t num_probes() const { return num_probes_; }
  double seconds() const { return seconds_; }  // time spent computing curves

 private:
  CurveOptions options_;
  std::vector<MatrixCurves> columns_;
  int64_t num_probes_ = 0;
  double seconds_ = 0;
};

/// The single model whose rank-1 outcome splits the quality weights: the first face model
/// (adaface, arcface, kprpe) among the columns, else the first model; nullptr without models.
const MatrixCurves* face_model_curves(const std::vector<MatrixCurves>& columns);

// CSV text of each plot (header row first; numbers read back exactly; NaN as an empty field).
std::string roc_csv(const std::vector<MatrixCurves>& columns);  // curve,far,tar,threshold
std::string det_csv(const std::vector<MatrixCurves>& columns);  // curve,far,fnmr
std::string cmc_csv(const std::vector<MatrixCurves>& columns);  // rank,<column>,...
/// bin_lo,bin_hi,genuine_density,impostor_density
std::string score_density_csv(const ScoreDensities& densities);
/// curve,bin_lo,bin_hi,genuine_density,impostor_density (several columns' densities)
std::string score_densities_csv(const std::vector<const MatrixCurves*>& columns);
/// bin_lo,bin_hi,rank1_correct_density,rank1_wrong_density
std::string quality_csv(const QualitySplit& split);

}  // namespace qme::eval
