#include "qme/demo/synth_world.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "qme/core/error.hpp"
#include "qme/core/random_mixing.hpp"

namespace qme::demo {

// ---------------------------------------------------------------------------------------------
// Sampling

double SynthRng::uniform() {
  return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
}

double SynthRng::uniform(double lo, double hi) {
  return lo + (hi - lo) * uniform();
}

int64_t SynthRng::index(int64_t n) {
  return std::min<int64_t>(n - 1, static_cast<int64_t>(uniform() * static_cast<double>(n)));
}

double SynthRng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u = 0.0;
  while (u <= 0.0) u = uniform();
  const double v = uniform();
  const auto pair = core::box_muller_pair(u, v);
  spare_ = pair.sin_branch;
  has_spare_ = true;
  return pair.cos_branch;
}

namespace {

// Stream tags.
enum : uint64_t { kTagSubject = 1, kTagScene, kTagTracklet, kTagFace, kTagPlan };

}  // namespace

uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
  using core::splitmix64;
  return splitmix64(splitmix64(splitmix64(splitmix64(seed) ^ a) ^ b) ^ c);
}

SynthSpec synth_preset(const std::string& size, uint64_t seed) {
  SynthSpec spec;
  spec.seed = seed;
  if (size == "demo") return spec;
  if (size == "ci") {
    spec.train_pids = 12;
    spec.test_pids = 16;
    spec.min_frames = 7;
    spec.max_frames = 9;
    return spec;
  }
  throw UsageError("--size must be demo or ci, got '" + size + "'");
}

int64_t World::scene_index(int64_t session, int64_t camera) const {
  return (session - 1) * 6 + (camera - 1);
}

// ---------------------------------------------------------------------------------------------
// The world

namespace {

constexpr int64_t kSessions = 2;
constexpr int64_t kCameras = 6;  // per session

Rgb clamp_rgb(Rgb c) {
  for (auto& v : c) v = std::clamp(v, 0.0f, 1.0f);
  return c;
}

/// Garment colours: a shared palette of common clothing colours, each drawn with a small
/// per-garment variation (strangers may dress alike).
Rgb garment_colour(SynthRng& rng) {
  static const Rgb kPalette[] = {{0.10f, 0.10f, 0.12f}, {0.85f, 0.85f, 0.82f}, {0.45f, 0.45f, 0.47f},
                                 {0.12f, 0.20f, 0.45f}, {0.55f, 0.12f, 0.12f}, {0.20f, 0.40f, 0.20f},
                                 {0.75f, 0.65f, 0.40f}, {0.35f, 0.22f, 0.12f}, {0.30f, 0.55f, 0.75f},
                                 {0.80f, 0.45f, 0.15f}, {0.55f, 0.30f, 0.55f}, {0.85f, 0.75f, 0.20f}};
  const Rgb base = kPalette[rng.index(12)];
  Rgb c;
  for (int k = 0; k < 3; ++k) c[k] = base[k] + static_cast<float>(0.05 * rng.normal());
  return clamp_rgb(c);
}

Rgb skin_tone(SynthRng& rng) {
  const double t = rng.uniform(0.25, 1.0);  // dark .. light
  return clamp_rgb({static_cast<float>(0.30 + 0.62 * t), static_cast<float>(0.18 + 0.55 * t),
                    static_cast<float>(0.12 + 0.48 * t)});
}

Rgb hair_colour(SynthRng& rng) {
  static const Rgb kHair[] = {{0.06f, 0.05f, 0.05f},
                              {0.25f, 0.15f, 0.08f},
                              {0.55f, 0.40f, 0.20f},
                              {0.70f, 0.60f, 0.35f},
                              {0.55f, 0.55f, 0.55f}};
  const Rgb base = kHair[rng.index(5)];
  Rgb c;
  for (int k = 0; k < 3; ++k) c[k] = base[k] + static_cast<float>(0.03 * rng.normal());
  return clamp_rgb(c);
}

BodyShape body_shape(SynthRng& rng) {
  BodyShape b;
  b.height = rng.uniform(0.80, 0.92);
  b.head = rng.uniform(0.064, 0.080);
  b.shoulder = rng.uniform(0.100, 0.145);
  b.hip = rng.uniform(0.075, 0.110);
  b.torso = rng.uniform(0.48, 0.56);
  b.limb = rng.uniform(0.034, 0.052);
  b.arm = rng.uniform(0.32, 0.39);
  b.stride = rng.uniform(0.16, 0.42);
  b.arm_swing = rng.uniform(0.08, 0.45);
  b.cadence = rng.uniform(7.0, 12.0);
  return b;
}

Outfit outfit(SynthRng& rng) {
  Outfit o;
  const int64_t top = rng.index(100), bottom = rng.index(100), shoes = rng.index(10);
  o.top = garment_colour(rng);
  o.bottom = garment_colour(rng);
  o.shoes = garment_colour(rng);
  o.stripe = garment_colour(rng);
  o.stripes = rng.uniform() < 0.25;
  o.short_sleeves = rng.uniform() < 0.4;
  o.shorts = rng.uniform() < 0.25;
  o.coat = !o.shorts && rng.uniform() < 0.2;
  o.top_bulk = rng.uniform(0.0, 0.035);
  o.bottom_bulk = rng.uniform(0.0, 0.02);
  char label[96];
  std::snprintf(label, sizeof label, "u%lld_l%lld_s%lld_c0_a0", static_cast<long long>(top),
                static_cast<long long>(bottom), static_cast<long long>(shoes));
  o.label = label;
  return o;
}

Subject subject(uint64_t seed, int64_t index, int64_t pid, bool train, int64_t outfits) {
  SynthRng rng(derive_seed(seed, kTagSubject, static_cast<uint64_t>(index)));
  Subject s;
  s.pid = pid;
  s.train = train;
  s.body = body_shape(rng);
  s.skin = skin_tone(rng);
  s.hair = hair_colour(rng);
  for (int64_t o = 0; o < outfits; ++o) s.outfits.push_back(outfit(rng));
  // Labels must differ between one person's outfits.
  for (int64_t o = 1; o < outfits; ++o) s.outfits[o].label += "_o" + std::to_string(o);
  return s;
}

Scene scene(uint64_t seed, int64_t index) {
  SynthRng rng(derive_seed(seed, kTagScene, static_cast<uint64_t>(index)));
  Scene sc;
  const double grey = rng.uniform(0.35, 0.7);
  Rgb tint{};
  for (auto& t : tint) t = static_cast<float>(rng.uniform(-0.12, 0.12));
  for (int k = 0; k < 3; ++k) {
    sc.top[k] = static_cast<float>(grey) + tint[k];
    sc.bottom[k] = static_cast<float>(grey * rng.uniform(0.55, 0.8)) + 0.5f * tint[k];
    sc.gain[k] = static_cast<float>(std::clamp(1.0 + 0.08 * rng.normal(), 0.82, 1.18));
  }
  sc.top = clamp_rgb(sc.top);
  sc.bottom = clamp_rgb(sc.bottom);
  sc.noise = rng.uniform(0.008, 0.02);
  return sc;
}

// ---- faces: a random field of small colour blobs inside the face oval

constexpr double kFaceCy = 60.0, kFaceCx = 56.0;    // face oval centre
constexpr double kFaceRy = 46.0, kFaceRx = 37.0;    // face oval radii
constexpr double kInnerRy = 40.0, kInnerRx = 31.0;  // where identity texture lives

double oval_radius(double y, double x, double ry, double rx) {
  const double dy = (y - kFaceCy) / ry, dx = (x - kFaceCx) / rx;
  return std::sqrt(dy * dy + dx * dx);
}

/// 1 well inside the inner oval, fading to 0 at its edge.
float inner_mask(int64_t y, int64_t x) {
  const double rho =
      oval_radius(static_cast<double>(y) + 0.5, static_cast<double>(x) + 0.5, kInnerRy, kInnerRx);
  return static_cast<float>(std::clamp((1.0 - rho) / 0.15, 0.0, 1.0));
}

std::vector<float> blob_texture(SynthRng& rng, int64_t blobs) {
  constexpr int64_t S = kFaceSize;
  std::vector<float> t(static_cast<size_t>(S * S * 3), 0.0f);
  for (int64_t b = 0; b < blobs; ++b) {
    double cy = 0, cx = 0;
    do {
      cy = rng.uniform(kFaceCy - kInnerRy, kFaceCy + kInnerRy);
      cx = rng.uniform(kFaceCx - kInnerRx, kFaceCx + kInnerRx);
    } while (oval_radius(cy, cx, kInnerRy, kInnerRx) > 1.0);
    const double r = rng.uniform(2.5, 6.0);
    const double lum = rng.normal();
    double amp[3];
    for (auto& a : amp) a = lum + 0.4 * rng.normal();
    const auto reach = static_cast<int64_t>(std::ceil(3.0 * r));
    const int64_t y0 = std::max<int64_t>(0, static_cast<int64_t>(cy) - reach);
    const int64_t y1 = std::min<int64_t>(S - 1, static_cast<int64_t>(cy) + reach);
    const int64_t x0 = std::max<int64_t>(0, static_cast<int64_t>(cx) - reach);
    const int64_t x1 = std::min<int64_t>(S - 1, static_cast<int64_t>(cx) + reach);
    for (int64_t y = y0; y <= y1; ++y) {
      for (int64_t x = x0; x <= x1; ++x) {
        const double dy = static_cast<double>(y) + 0.5 - cy, dx = static_cast<double>(x) + 0.5 - cx;
        const double w = std::exp(-(dy * dy + dx * dx) / (2.0 * r * r));
        float* p = &t[static_cast<size_t>((y * S + x) * 3)];
        for (int k = 0; k < 3; ++k) p[k] += static_cast<float>(w * amp[k]);
      }
    }
  }
  // Zero mean and unit RMS inside the inner oval, nothing outside it.
  double sum[3] = {0, 0, 0}, weight = 0;
  for (int64_t i = 0; i < S * S; ++i) {
    const float m = inner_mask(i / S, i % S);
    weight += m;
    for (int k = 0; k < 3; ++k) sum[k] += m * t[static_cast<size_t>(i * 3 + k)];
  }
  double energy = 0;
  for (int64_t i = 0; i < S * S; ++i) {
    const float m = inner_mask(i / S, i % S);
    for (int k = 0; k < 3; ++k) {
      float& v = t[static_cast<size_t>(i * 3 + k)];
      v = m * (v - static_cast<float>(sum[k] / weight));
      energy += static_cast<double>(v) * v;
    }
  }
  const auto scale = static_cast<float>(1.0 / std::sqrt(energy / (weight * 3.0)));
  for (auto& v : t) v *= scale;
  return t;
}

// ---- tracklets

std::string pid_text(int64_t pid) {
  char text[16];
  std::snprintf(text, sizeof text, "%03lld", static_cast<long long>(pid));
  return text;
}

/// Face quality of a probe or training tracklet: good, poor or no face.
void draw_face_quality(SynthRng& rng, const SynthSpec& spec, bool gallery, TrackletPlan& plan) {
  const double u = rng.uniform();
  if (gallery) {
    plan.has_faces = u >= spec.gallery_faceless_rate;
    plan.face_quality = rng.uniform(0.75, 1.0);
    return;
  }
  plan.has_faces = u >= spec.faceless_rate;
  plan.face_quality =
      u < spec.faceless_rate + spec.poor_face_rate ? rng.uniform(0.0, 0.2) : rng.uniform(0.7, 1.0);
}

void draw_bystanders(SynthRng& rng, int64_t first, int64_t count, TrackletPlan& plan) {
  const int64_t n = rng.uniform() < 0.75 ? 1 : 2;
  while (static_cast<int64_t>(plan.bystanders.size()) < n) {
    const int64_t other = first + rng.index(count);
    if (other == plan.subject) continue;
    if (std::find(plan.bystanders.begin(), plan.bystanders.end(), other) != plan.bystanders.end()) continue;
    plan.bystanders.push_back(other);
  }
}

TrackletPlan plan_tracklet(const World& w, SynthRng& rng, SplitKind split, int64_t subject, int64_t session,
                           int64_t camera, int64_t outfit) {
  const auto& spec = w.spec;
  TrackletPlan p;
  p.split = split;
  p.subject = subject;
  p.session = session;
  p.camera = camera;
  p.outfit = outfit % spec.outfits_per_pid;
  p.num_frames = spec.min_frames + rng.index(spec.max_frames - spec.min_frames + 1);
  draw_face_quality(rng, spec, split == SplitKind::kGallery, p);
  const bool train = split == SplitKind::kTrain;
  draw_bystanders(rng, train ? 0 : spec.train_pids, train ? spec.train_pids : spec.test_pids, p);
  p.seed = derive_seed(spec.seed, kTagTracklet, static_cast<uint64_t>(subject),
                       static_cast<uint64_t>(session * 100 + camera));
  p.key = "session" + std::to_string(session) + "/" + pid_text(w.subjects[static_cast<size_t>(subject)].pid) +
          "_" + (camera < 10 ? "0" : "") + std::to_string(camera);
  return p;
}

void plan_tracklets(World& w) {
  const auto& spec = w.spec;
  SynthRng rng(derive_seed(spec.seed, kTagPlan));
  for (int64_t s = 0; s < spec.train_pids; ++s) {
    for (int64_t o = 0; o < spec.outfits_per_pid; ++o) {
      for (int64_t session = 1; session <= kSessions; ++session) {
        w.tracklets.push_back(plan_tracklet(w, rng, SplitKind::kTrain, s, session, o + 1, o));
      }
    }
  }
  // Test: gallery in session 1 (cameras 1-3: outfit 0 twice, outfit 1), queries in session 2
  // (cameras 4-6: outfits 0, 1 and 2, the last one never in the gallery).
  for (int64_t t = 0; t < spec.test_pids; ++t) {
    const int64_t s = spec.train_pids + t;
    w.tracklets.push_back(plan_tracklet(w, rng, SplitKind::kGallery, s, 1, 1, 0));
    w.tracklets.push_back(plan_tracklet(w, rng, SplitKind::kGallery, s, 1, 2, 0));
    w.tracklets.push_back(plan_tracklet(w, rng, SplitKind::kGallery, s, 1, 3, 1));
    w.tracklets.push_back(plan_tracklet(w, rng, SplitKind::kQuery, s, 2, 4, 0));
    w.tracklets.push_back(plan_tracklet(w, rng, SplitKind::kQuery, s, 2, 5, 1));
    w.tracklets.push_back(plan_tracklet(w, rng, SplitKind::kQuery, s, 2, 6, 2));
  }
}

void check_spec(const SynthSpec& s) {
  const auto bad = [](const std::string& what) { throw UsageError("synthetic dataset: " + what); };
  if (s.train_pids < 3 || s.test_pids < 3) bad("needs at least 3 training and 3 test identities");
  if (s.train_pids + s.test_pids > 999) bad("at most 999 identities (3-digit pids)");
  if (s.outfits_per_pid < 2 || s.outfits_per_pid > 6) bad("outfits_per_pid must be in 2..6");
  if (s.min_frames < 1 || s.max_frames < s.min_frames)
    bad("frames per tracklet must satisfy 1 <= min <= max");
  if (s.body_height < 32 || s.body_width < 16) bad("body frames must be at least 32x16");
}

}  // namespace

World build_world(const SynthSpec& spec) {
  check_spec(spec);
  World w;
  w.spec = spec;
  for (int64_t i = 0; i < spec.train_pids + spec.test_pids; ++i) {
    w.subjects.push_back(subject(spec.seed, i, i + 1, i < spec.train_pids, spec.outfits_per_pid));
    SynthRng rng(derive_seed(spec.seed, kTagFace, static_cast<uint64_t>(i)));
    w.face_textures.push_back(blob_texture(rng, 110));
  }
  for (int64_t i = 0; i < kSessions * kCameras; ++i) w.scenes.push_back(scene(spec.seed, i));
  plan_tracklets(w);
  return w;
}

// ---------------------------------------------------------------------------------------------
// Rendering

namespace {

/// A float RGB image in [0, 1] with anti-aliased drawing primitives.
class Canvas {
 public:
  Canvas(int64_t height, int64_t width)
      : h_(height), w_(width), px_(static_cast<size_t>(height * width * 3), 0.0f) {}
  int64_t height() const { return h_; }
  int64_t width() const { return w_; }
  float* at(int64_t y, int64_t x) { return &px_[static_cast<size_t>((y * w_ + x) * 3)]; }
  std::vector<float>& pixels() { return px_; }

  void blend(int64_t y, int64_t x, const Rgb& c, float alpha) {
    if (alpha <= 0.0f) return;
    float* p = at(y, x);
    for (int k = 0; k < 3; ++k) p[k] += alpha * (c[k] - p[k]);
  }

  /// A segment of `radius` around (ay, ax)-(by, bx).
  void capsule(double ay, double ax, double by, double bx, double radius, const Rgb& c) {
    const int64_t y0 = clampy(std::min(ay, by) - radius - 1), y1 = clampy(std::max(ay, by) + radius + 1);
    const int64_t x0 = clampx(std::min(ax, bx) - radius - 1), x1 = clampx(std::max(ax, bx) + radius + 1);
    const double vy = by - ay, vx = bx - ax, len2 = std::max(vy * vy + vx * vx, 1e-12);
    for (int64_t y = y0; y <= y1; ++y) {
      for (int64_t x = x0; x <= x1; ++x) {
        const double py = static_cast<double>(y) + 0.5 - ay, pxx = static_cast<double>(x) + 0.5 - ax;
        const double t = std::clamp((py * vy + pxx * vx) / len2, 0.0, 1.0);
        const double dy = py - t * vy, dx = pxx - t * vx;
        blend(y, x, c, static_cast<float>(std::clamp(radius - std::sqrt(dy * dy + dx * dx) + 0.5, 0.0, 1.0)));
      }
    }
  }

 private:
  int64_t clampy(double v) const {
    return std::clamp<int64_t>(static_cast<int64_t>(std::floor(v)), 0, h_ - 1);
  }
  int64_t clampx(double v) const {
    return std::clamp<int64_t>(static_cast<int64_t>(std::floor(v)), 0, w_ - 1);
  }
  int64_t h_, w_;
  std::vector<float> px_;
};

std::vector<uint8_t> quantize(const std::vector<float>& px) {
  std::vector<uint8_t> out(px.size());
  for (size_t i = 0; i < px.size(); ++i) {
    out[i] = static_cast<uint8_t>(std::lround(std::clamp(px[i], 0.0f, 1.0f) * 255.0f));
  }
  return out;
}

void add_noise(std::vector<float>& px, SynthRng& rng, double sigma) {
  for (auto& v : px) v += static_cast<float>(sigma * rng.normal());
}

/// Separable Gaussian blur, borders clamped.
void blur(std::vector<float>& px, int64_t h, int64_t w, double sigma) {
  if (sigma < 0.3) return;
  const auto reach = static_cast<int64_t>(std::ceil(3.0 * sigma));
  std::vector<float> kernel(static_cast<size_t>(2 * reach + 1));
  double sum = 0;
  for (int64_t i = -reach; i <= reach; ++i) {
    sum += kernel[static_cast<size_t>(i + reach)] =
        static_cast<float>(std::exp(-0.5 * i * i / (sigma * sigma)));
  }
  for (auto& k : kernel) k = static_cast<float>(k / sum);
  std::vector<float> tmp(px.size());
  const auto pass = [&](const std::vector<float>& in, std::vector<float>& out, bool vertical) {
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        float acc[3] = {0, 0, 0};
        for (int64_t i = -reach; i <= reach; ++i) {
          const int64_t yy = vertical ? std::clamp<int64_t>(y + i, 0, h - 1) : y;
          const int64_t xx = vertical ? x : std::clamp<int64_t>(x + i, 0, w - 1);
          const float k = kernel[static_cast<size_t>(i + reach)];
          for (int c = 0; c < 3; ++c) acc[c] += k * in[static_cast<size_t>((yy * w + xx) * 3 + c)];
        }
        for (int c = 0; c < 3; ++c) out[static_cast<size_t>((y * w + x) * 3 + c)] = acc[c];
      }
    }
  };
  pass(px, tmp, false);
  pass(tmp, px, true);
}

// ---- bodies

struct BodyPose {
  double x0 = 0, top = 0, height = 0;  // centre column, top of the head, person height (pixels)
  double phase = 0;                    // gait phase (radians)
};

void draw_limb(Canvas& cv, double y, double x, double angle, double length, double radius, const Rgb& upper,
               const Rgb& lower, double split) {
  const double ey = y + length * std::cos(angle), ex = x + length * std::sin(angle);
  const double my = y + split * (ey - y), mx = x + split * (ex - x);
  cv.capsule(y, x, my, mx, radius, upper);
  cv.capsule(my, mx, ey, ex, radius, lower);
}

void draw_torso(Canvas& cv, const Subject& s, const Outfit& o, const BodyPose& p, const Rgb& gain) {
  const auto& b = s.body;
  const double y_sh = p.top + 2.3 * b.head * p.height, y_hip = p.top + b.torso * p.height;
  const double sw = (b.shoulder + o.top_bulk) * p.height, hw = (b.hip + o.top_bulk) * p.height;
  const double period = std::max(2.0, 0.05 * p.height);
  for (int64_t y = std::max<int64_t>(0, static_cast<int64_t>(y_sh));
       y <= static_cast<int64_t>(y_hip) && y < cv.height(); ++y) {
    const double yc = static_cast<double>(y) + 0.5;
    const double t = std::clamp((yc - y_sh) / std::max(1.0, y_hip - y_sh), 0.0, 1.0);
    const double half = sw + t * (hw - sw);
    Rgb c = o.stripes && static_cast<int64_t>((yc - y_sh) / period) % 2 == 1 ? o.stripe : o.top;
    if (t > 0.88 && !o.coat) c = o.bottom;  // waistband
    for (int k = 0; k < 3; ++k) c[k] *= gain[k];
    for (int64_t x = 0; x < cv.width(); ++x) {
      const double d = std::abs(static_cast<double>(x) + 0.5 - p.x0);
      cv.blend(y, x, c, static_cast<float>(std::clamp(half - d + 0.5, 0.0, 1.0)));
    }
  }
}

Rgb lit(const Rgb& c, const Rgb& gain) {
  return {c[0] * gain[0], c[1] * gain[1], c[2] * gain[2]};
}

void draw_person(Canvas& cv, const Subject& s, const Outfit& o, const BodyPose& p, const Rgb& gain) {
  const auto& b = s.body;
  const double H = p.height, swing = std::sin(p.phase);
  const double y_sh = p.top + 2.3 * b.head * H, y_hip = p.top + b.torso * H;
  const double leg_len = p.top + H - y_hip, leg_r = (0.5 * b.limb + o.bottom_bulk) * H;
  const double arm_r = (0.36 * b.limb + 0.5 * o.top_bulk) * H;
  const Rgb skin = lit(s.skin, gain), top = lit(o.top, gain), bottom = lit(o.bottom, gain),
            shoes = lit(o.shoes, gain);
  // Legs: trouser colour, skin below the knee with shorts, shoes at the end.
  // Legs spread and close once per gait cycle, arms swing out in the opposite phase.
  for (const double side : {-1.0, 1.0}) {
    const double angle = side * b.stride * 0.5 * (1.0 + swing);
    const double x = p.x0 + side * 0.45 * b.hip * H;
    draw_limb(cv, y_hip, x, angle, leg_len * 0.9, leg_r, bottom, o.shorts ? skin : bottom, 0.45);
    const double fy = y_hip + leg_len * 0.9 * std::cos(angle), fx = x + leg_len * 0.9 * std::sin(angle);
    cv.capsule(fy, fx, fy + leg_len * 0.08, fx + side * 0.3 * leg_r, leg_r * 1.05, shoes);
  }
  draw_torso(cv, s, o, p, gain);
  if (o.coat) {  // the coat's skirt: from the hips to mid-thigh, flaring a little
    const double hw = (b.hip + o.top_bulk) * H, len = 0.4 * leg_len;
    cv.capsule(y_hip, p.x0 - 0.5 * hw, y_hip + len, p.x0 - 0.6 * hw, 0.6 * hw, top);
    cv.capsule(y_hip, p.x0 + 0.5 * hw, y_hip + len, p.x0 + 0.6 * hw, 0.6 * hw, top);
  }
  // Arms: sleeves, skin below the elbow with short sleeves, hands.
  for (const double side : {-1.0, 1.0}) {
    const double angle = side * (b.arm_swing * 0.5 * (1.0 - swing) + 0.06);
    const double x = p.x0 + side * (b.shoulder * H - arm_r);
    draw_limb(cv, y_sh + arm_r, x, angle, b.arm * H, arm_r, top, o.short_sleeves ? skin : top, 0.5);
    cv.capsule(y_sh + arm_r + b.arm * H * std::cos(angle), x + b.arm * H * std::sin(angle),
               y_sh + arm_r + b.arm * H * std::cos(angle), x + b.arm * H * std::sin(angle), arm_r * 1.15,
               skin);
  }
  // Neck and head; hair on the upper part.
  const double r = b.head * H, cy = p.top + r;
  cv.capsule(cy + r, p.x0, y_sh + 1.0, p.x0, 0.45 * r, skin);
  cv.capsule(cy, p.x0, cy, p.x0, r, skin);
  cv.capsule(cy - 0.35 * r, p.x0, cy - 0.35 * r, p.x0, 0.8 * r, lit(s.hair, gain));
}

std::vector<uint8_t> render_body(const World& w, const TrackletPlan& plan, const Scene& sc, SynthRng& rng,
                                 const BodyPose& pose) {
  const auto& spec = w.spec;
  Canvas cv(spec.body_height, spec.body_width);
  for (int64_t y = 0; y < cv.height(); ++y) {
    const float t = static_cast<float>(y) / static_cast<float>(cv.height() - 1);
    for (int64_t x = 0; x < cv.width(); ++x) {
      float* p = cv.at(y, x);
      for (int k = 0; k < 3; ++k) p[k] = sc.top[k] + t * (sc.bottom[k] - sc.top[k]);
    }
  }
  const auto& s = w.subjects[static_cast<size_t>(plan.subject)];
  draw_person(cv, s, s.outfits[static_cast<size_t>(plan.outfit)], pose, sc.gain);
  add_noise(cv.pixels(), rng, sc.noise);
  return quantize(cv.pixels());
}

// ---- faces

/// What stays the same over a tracklet's face crops.
struct FaceTrack {
  double degradation = 0;                         // 1 - face_quality
  std::vector<std::vector<float>> pose_textures;  // per-tracklet nuisance (pose, expression)
};

FaceTrack face_track(const TrackletPlan& plan, SynthRng& rng) {
  FaceTrack t;
  t.degradation = 1.0 - plan.face_quality;
  for (int k = 0; k < 3; ++k) t.pose_textures.push_back(blob_texture(rng, 110));
  return t;
}

/// Whose face a frame mostly shows besides the person's: one of the tracklet's companions, or
/// (35%) anyone else of the split passing by.
int64_t face_donor(const World& w, const TrackletPlan& plan, SynthRng& rng) {
  if (rng.uniform() >= 0.35) {
    return plan.bystanders[static_cast<size_t>(rng.index(static_cast<int64_t>(plan.bystanders.size())))];
  }
  const bool train = plan.split == SplitKind::kTrain;
  const int64_t first = train ? 0 : w.spec.train_pids, count = train ? w.spec.train_pids : w.spec.test_pids;
  int64_t other = plan.subject;
  while (other == plan.subject) other = first + rng.index(count);
  return other;
}

/// A soft-edged band across the face (a hand, hair, another head), dark or light.
void occlude(Canvas& cv, SynthRng& rng) {
  const double y0 = rng.uniform(28.0, 84.0), y1 = y0 + rng.uniform(12.0, 26.0);
  const auto v = static_cast<float>(rng.uniform() < 0.5 ? rng.uniform(0.03, 0.2) : rng.uniform(0.65, 0.92));
  const Rgb colour{v, v, std::min(1.0f, v + 0.03f)};
  for (int64_t y = 0; y < cv.height(); ++y) {
    const double yc = static_cast<double>(y) + 0.5;
    const double a = std::clamp(std::min(yc - y0, y1 - yc) / 3.0, 0.0, 1.0);
    for (int64_t x = 14; x < cv.width() - 14; ++x) cv.blend(y, x, colour, static_cast<float>(a));
  }
}

std::vector<uint8_t> render_face(const World& w, const TrackletPlan& plan, const Scene& sc,
                                 const FaceTrack& track, SynthRng& rng) {
  constexpr int64_t S = kFaceSize;
  const auto& s = w.subjects[static_cast<size_t>(plan.subject)];
  // Whose face: the person's with weight q, else one of the bystanders'.
  const double q = std::clamp(plan.face_quality + 0.06 * rng.normal(), 0.0, 1.0);
  const auto& own = w.face_textures[static_cast<size_t>(plan.subject)];
  const auto& other = w.face_textures[static_cast<size_t>(face_donor(w, plan, rng))];
  // Pose and expression change per frame.
  double pose[3];
  for (auto& v : pose) v = 0.25 * rng.normal();
  Canvas cv(S, S);
  for (int64_t y = 0; y < S; ++y) {
    for (int64_t x = 0; x < S; ++x) {
      const double rho =
          oval_radius(static_cast<double>(y) + 0.5, static_cast<double>(x) + 0.5, kFaceRy, kFaceRx);
      const float in_face = static_cast<float>(std::clamp((1.0 - rho) * 12.0, 0.0, 1.0));
      const bool hair = static_cast<double>(y) < kFaceCy - 0.62 * kFaceRy;
      const float shade = 0.93f + 0.1f * static_cast<float>(S - y) / static_cast<float>(S);
      const size_t i = static_cast<size_t>((y * S + x) * 3);
      float* p = cv.at(y, x);
      for (int k = 0; k < 3; ++k) {
        const float skin = hair ? s.hair[k] : s.skin[k] * shade;
        double texture = q * own[i + k] + (1.0 - q) * other[i + k];
        for (int j = 0; j < 3; ++j) texture += pose[j] * track.pose_textures[static_cast<size_t>(j)][i + k];
        const float face = skin + static_cast<float>(0.11 * texture);
        p[k] = sc.gain[k] * (sc.top[k] + in_face * (face - sc.top[k]));
      }
    }
  }
  const double d = track.degradation;
  // Poor crops are often partly hidden, differently in every frame.
  if (d > 0.6 && rng.uniform() < 0.5) occlude(cv, rng);
  blur(cv.pixels(), S, S, 0.4 + 0.7 * d * d);
  add_noise(cv.pixels(), rng, 0.006 + 0.06 * d * d);
  return quantize(cv.pixels());
}

}  // namespace

RenderedTracklet render_tracklet(const World& w, const TrackletPlan& plan) {
  SynthRng rng(plan.seed);
  const auto& sc = w.scenes[static_cast<size_t>(w.scene_index(plan.session, plan.camera))];
  const auto& s = w.subjects[static_cast<size_t>(plan.subject)];
  BodyPose pose;
  pose.height = s.body.height * rng.uniform(0.96, 1.0) * static_cast<double>(w.spec.body_height);
  pose.top = 0.5 * (static_cast<double>(w.spec.body_height) - pose.height) + rng.uniform(-1.0, 1.0);
  pose.x0 = 0.5 * static_cast<double>(w.spec.body_width) + rng.uniform(-0.6, 0.6);
  const double phase0 = rng.uniform(0.0, 2.0 * M_PI);
  const FaceTrack track = face_track(plan, rng);
  RenderedTracklet out;
  bool any_face = false;
  for (int64_t f = 0; f < plan.num_frames; ++f) {
    pose.phase = phase0 + 2.0 * M_PI * static_cast<double>(f) / s.body.cadence;
    out.body.push_back(render_body(w, plan, sc, rng, pose));
    const bool missed = rng.uniform() < w.spec.frame_miss_rate;
    const bool face = plan.has_faces && (!missed || (f + 1 == plan.num_frames && !any_face));
    out.face.push_back(face ? render_face(w, plan, sc, track, rng) : std::vector<uint8_t>());
    any_face = any_face || face;
  }
  return out;
}

}  // namespace qme::demo
