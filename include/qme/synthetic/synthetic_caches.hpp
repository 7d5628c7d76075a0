#pragma once
/// Synthetic training caches and test files for the training tests and the
/// benchmarks: everything `qme_main` reads, without a dataset or a backbone.
///
/// Written under `dir` in upstream's folder layout:
///   {dir}/mod_center_feat/{model}_center_n{F}_{ds}_CC.h5   (F = frames_per_sample)
///   {dir}/mod_center_feat/{model}_center_{ds}_CC.h5
///   {dir}/mod_center_feat/{model}_train_{ds}.h5            (qe_stats + has_face for face models)
///   {dir}/test_feats/scoremats_{ds}.h5                     (every model)
///   {dir}/test_feats/{model}_{ds}_test_qe.h5               (face models only)
///
/// Generative model (deterministic for a given spec; own Box-Muller sampler over
/// std::mt19937, so the files do not depend on the standard library):
/// - Identities: training pids 0..P-1 (dense, as upstream relabels them), test
///   pids P..P+T-1. Each identity has `clothes_per_pid` outfits with global
///   clothes ids pid * clothes_per_pid + outfit. Training outfit o of pid p is
///   seen by camera (p + o) % num_cameras, so each (pid, outfit) is one center.
/// - Hidden face quality: every training sample and every probe draws q in
///   [0, 1] (35%: q ~ U(0, 0.15), else q ~ U(0.3, 1)); a frame's quality is
///   q + N(0, 0.05²) clipped to [0, 1]. Gallery entries draw q ~ U(0.6, 1). A
///   training sample or a probe clip has no face at all with probability
///   `no_face_rate`; with `face_missing_center`, every sample of the last
///   training pid's last outfit has no face, so face models lack that center
///   (like MEVID's subject 102) and center alignment fills a zero row.
/// - Features, per model, with unit-norm random prototypes u_pid and outfit
///   vectors v_(pid,outfit), per-sample vectors shared by the sample's frames
///   (training sample, probe clip, gallery entry) and per-frame noise
///   n ~ N(0, I/d) (norm ~1):
///     face models (adaface, arcface, kprpe):  x = q·u + (1-q)·u_other + 0.1·n
///       u_other: a look-alike, the prototype of another identity of the same
///       split drawn per sample: a good face is decisive, a poor one is
///       confidently wrong (outfit-blind);
///     biggait:                       x = u + 0.4·v + gait_noise·r + 0.1·n
///     other body models (cal-*, ...): x = u + 0.9·v + body_noise·r + 0.1·n
///       r ~ N(0, I/d) per sample: moderately informative, and a clothes change
///       loses the v part.
///   Frames without a face have a zero feature row and a zero qe_stats row.
///   With the defaults (seeds 7-9, 30 test pids x 4 probes), subject-level rank-1
///   is about 0.45-0.55 for the face model, 0.6-0.8 per body model, 0.8-0.87 for
///   the mean of the three models and 0.94-0.96 for q·face + (1-q)·mean(body).
/// - qe_stats (face models, width `face_qe_width` = 4 segments of C channels,
///   upstream's [block][stat][channel]): mean segments ~ N(0, 0.5²), std
///   segments 1 + 0.2·|N(0,1)|; in each segment the first 16 channels carry the
///   frame quality: mean channels += 2(q - 0.5) + N(0, 0.1²), std channels
///   *= 0.5 + q. A quality estimator can therefore recover q.
/// - Test split: per test pid `probes_per_pid` probes (outfit k % clothes, camera
///   (k + 1) % num_cameras) of `clips_per_probe` clips of `frames_per_sample`
///   frames, and `gallery_per_pid` gallery entries (outfit k % clothes, camera
///   k % num_cameras). A probe's feature is the mean of its frames' features
///   (face models: of the frames with a face; none -> a NaN row, which scores 0
///   as upstream's np.nan_to_num). score_mat = cosine(probe, gallery entry);
///   merge_score_mat = cosine(probe, mean of the subject's gallery rows).
///   All models are scored by cosine, so their score ranges agree roughly.
/// Consequence: weighting the face model by the hidden quality beats the plain
/// mean of the models' scores, which is what QME has to learn.
#include <cstdint>
#include <string>
#include <vector>

namespace qme::synthetic {

struct SyntheticModelSpec {
  std::string name;
  int64_t dim = 32;
};

struct SyntheticCacheSpec {
  std::string dataset = "synthetic";
  std::vector<SyntheticModelSpec> models = {{"adaface", 32}, {"biggait", 32}, {"cal-ccvid", 32}};
  // training split
  int64_t num_train_pids = 8;
  int64_t clothes_per_pid = 2;      // outfits per identity = centers per pid
  int64_t samples_per_clothes = 2;  // dense training samples (clips) per outfit
  int64_t frames_per_sample = 4;    // frames per training sample and per probe clip
  // test split
  int64_t num_test_pids = 10;
  int64_t probes_per_pid = 3;
  int64_t gallery_per_pid = 4;
  int64_t clips_per_probe = 2;
  int64_t num_cameras = 4;
  double no_face_rate = 0.2;        // training samples / probe clips without any face
  bool face_missing_center = true;  // last pid's last outfit has no face at all
  int64_t face_qe_width = 2048;     // kFaceQeStatsWidth; a multiple of 4, >= 64
  double body_noise = 2.0;          // sigma of body re-id models (cal-*, aim, agrl)
  double gait_noise = 2.0;          // sigma of biggait
  uint32_t seed = 7;
};

/// What write_synthetic_caches wrote, and the hidden truth.
struct SyntheticCacheFiles {
  std::vector<std::string> models;               // spec order
  std::vector<std::string> center_frames;        // per model
  std::vector<std::string> centers;              // per model
  std::vector<std::string> training_frames;      // per model
  std::vector<std::string> probe_quality_stats;  // per model; "" for models without a QE
  std::string score_matrices;                    // scoremats_{ds}.h5
  std::string center_dir;                        // {dir}/mod_center_feat
  std::string test_dir;                          // {dir}/test_feats
  std::vector<float> probe_quality;  // per probe: mean quality of its face frames, 0 without a face
};

/// Writes the files described above (creating the folders). Throws UsageError
/// on a spec it cannot honour (fewer than 2 train or test pids or cameras, a
/// count < 1, no model, a duplicate model name, a dim < 1, no_face_rate outside
/// [0, 1), a bad face_qe_width).
SyntheticCacheFiles write_synthetic_caches(const std::string& dir, const SyntheticCacheSpec& spec);

}  // namespace qme::synthetic
