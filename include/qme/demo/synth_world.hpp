#pragma once
/// The synthetic whole-body world behind `qme_synth`: identities, outfits, cameras and the
/// tracklets of a small CCVID-like dataset, and the renderer of their body frames and face crops.
/// Torch-free and deterministic for a seed (own samplers over std::mt19937_64, every tracklet
/// drawn from its own derived stream).
///
/// What the pixels carry, so that the demo backbones (synth_backbones.hpp) can read it:
/// - Identity: a face texture (a random field of small colour blobs inside the face oval), a
///   body shape (height, shoulder and hip width, limb thickness), a gait (stride, arm swing,
///   cadence), skin tone and hair colour. These never change.
/// - Outfit (the clothes id): top, bottom and shoe colours from a shared palette (so strangers
///   may dress alike), stripes, sleeve and trouser length. A clothes change replaces most of the
///   body's colours: a colour-based body model loses its main cue, a silhouette/gait model
///   keeps most of its.
/// - Camera: a background, a colour cast and sensor noise per (session, camera).
/// - Face quality, per tracklet (the hidden variable QME has to estimate): good faces show the
///   person, sharp and clean; poor ones are blurred, noisy, often partly hidden (a hand, hair)
///   and mostly show a companion walking with the person (another identity of the same split),
///   now and then someone else passing by, so a face model is confidently wrong on them; some tracklets have
///   no face at all, and single frames miss a face. Probes and training tracklets mix good, poor and faceless
///   faces; the gallery has good faces.
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace qme::demo {

/// Sizes and rates of a synthetic dataset.
struct SynthSpec {
  uint64_t seed = 7;
  int64_t train_pids = 40;      ///< training identities (raw pids 1..train_pids)
  int64_t test_pids = 40;       ///< test identities (the raw pids after them)
  int64_t outfits_per_pid = 3;  ///< clothes ids per identity
  int64_t min_frames = 8;       ///< frames per tracklet, drawn uniformly in [min, max]
  int64_t max_frames = 12;
  int64_t body_height = 96;  ///< body frame size (the backbones resize it)
  int64_t body_width = 48;
  double faceless_rate = 0.10;   ///< probe / training tracklets without any face
  double poor_face_rate = 0.38;  ///< probe / training tracklets with poor faces
  double gallery_faceless_rate = 0.04;
  double frame_miss_rate = 0.1;  ///< frames without a face in a tracklet that has faces
};

/// "demo" (the demo script's size) or "ci" (the end-to-end test's); UsageError otherwise.
SynthSpec synth_preset(const std::string& size, uint64_t seed);

using Rgb = std::array<float, 3>;

/// Deterministic sampler: uniform doubles from the top 53 bits of mt19937_64, normals by
/// Box-Muller (the standard distributions differ between standard libraries).
class SynthRng {
 public:
  explicit SynthRng(uint64_t seed) : engine_(seed) {}
  double uniform();                      ///< [0, 1)
  double uniform(double lo, double hi);  ///< [lo, hi)
  int64_t index(int64_t n);              ///< 0 .. n-1
  double normal();                       ///< N(0, 1)

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

/// A seed derived from `seed` and up to three tags (splitmix64 mixing): independent streams.
uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b = 0, uint64_t c = 0);

struct BodyShape {
  double height = 0.86;    ///< person height / frame height
  double head = 0.072;     ///< head radius / person height
  double shoulder = 0.12;  ///< shoulder half-width / person height
  double hip = 0.09;       ///< hip half-width / person height
  double torso = 0.52;     ///< hip line below the top of the head / person height
  double limb = 0.042;     ///< leg thickness / person height
  double arm = 0.35;       ///< arm length / person height
  double stride = 0.3;     ///< leg swing amplitude (radians)
  double arm_swing = 0.3;  ///< arm swing amplitude (radians)
  double cadence = 10.0;   ///< frames per gait cycle
};

struct Outfit {
  std::string label;  ///< CCVID-style clothes label, e.g. "u3_l7_s1_c0_a0"
  Rgb top{}, bottom{}, shoes{}, stripe{};
  bool stripes = false, short_sleeves = false, shorts = false;
  bool coat = false;         ///< a long top covering the hips and thighs (changes the silhouette)
  double top_bulk = 0.0;     ///< extra width of the top, / person height (loose vs fitted)
  double bottom_bulk = 0.0;  ///< extra thickness of the trousers, / person height
};

struct Subject {
  int64_t pid = 0;  ///< raw pid (the dataset's 3-digit folder name)
  bool train = false;
  BodyShape body;
  Rgb skin{}, hair{};
  std::vector<Outfit> outfits;
};

/// One (session, camera): its background, colour cast and noise.
struct Scene {
  Rgb top{}, bottom{}, gain{};
  double noise = 0.015;
};

enum class SplitKind { kTrain, kQuery, kGallery };

/// One tracklet: where it is filed and what it shows.
struct TrackletPlan {
  SplitKind split = SplitKind::kTrain;
  int64_t session = 1, camera = 1;  ///< key "session{S}/{PPP}_{CC}" (CCVID's camid = CC)
  int64_t subject = 0;              ///< index into World::subjects
  int64_t outfit = 0;
  int64_t num_frames = 0;
  bool has_faces = true;
  double face_quality = 1.0;        ///< hidden: 1 = the person's face, sharp; 0 = a bystander's, degraded
  std::vector<int64_t> bystanders;  ///< companions whose faces poor frames mostly show
  uint64_t seed = 0;                ///< the tracklet's own stream
  std::string key;                  ///< "session1/041_04"
};

struct World {
  SynthSpec spec;
  std::vector<Subject> subjects;  ///< training subjects first
  std::vector<Scene> scenes;      ///< index scene_index(session, camera)
  std::vector<TrackletPlan> tracklets;
  std::vector<std::vector<float>> face_textures;  ///< per subject, 112x112x3, unit RMS in the face
  int64_t scene_index(int64_t session, int64_t camera) const;
};

/// The world of a spec: every identity, outfit, camera and tracklet (not yet rendered).
World build_world(const SynthSpec& spec);

/// A rendered tracklet: per frame, the body frame (H, W, 3) and the face crop (112, 112, 3), or
/// no face (empty vector). Pixels are uint8 RGB, row-major.
struct RenderedTracklet {
  std::vector<std::vector<uint8_t>> body;
  std::vector<std::vector<uint8_t>> face;
};

RenderedTracklet render_tracklet(const World& world, const TrackletPlan& plan);

inline constexpr int64_t kFaceSize = 112;

}  // namespace qme::demo
