#pragma once
/// The small random-mixing kernels several areas share (batch planning, the data loader's
/// per-row seeds, the fused training step's dropout bits, the synthetic world and the
/// synthetic caches and scores). One definition, so that every seed derivation and every
/// synthetic normal draw keeps the same bits wherever it is made. Header-only and torch-free.
#include <cmath>
#include <cstdint>

namespace qme::core {

/// SplitMix64's output function (Steele, Lea & Flood 2014): a well-mixed 64-bit value for
/// each input. Stateless, so a seed can be derived from (seed, tag, ...) by chaining it, and
/// counter-based streams (splitmix64(key + i)) are independent of the thread that draws them.
constexpr uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// 2 pi as a double (the same bits as 2.0 * M_PI), spelt out so that no platform's M_PI matters.
constexpr double kTwoPi = 6.283185307179586;

/// Box–Muller's radius sqrt(-2 ln u1). u1 must lie in (0, 1]: drawing it away from 0 is the
/// caller's job (the samplers draw (k + 0.5) / 2^32, or redraw a 0).
inline double box_muller_radius(double u1) {
  return std::sqrt(-2.0 * std::log(u1));
}

/// One standard normal from two uniforms by Box–Muller, the cosine branch:
/// sqrt(-2 ln u1) cos(2 pi u2). Written out in full, so a sampler that uses one branch only
/// rounds exactly as it always has.
inline double box_muller_normal(double u1, double u2) {
  return box_muller_radius(u1) * std::cos(kTwoPi * u2);
}

/// Both Box–Muller normals from one pair of uniforms: r cos(2 pi u2) and r sin(2 pi u2),
/// r = box_muller_radius(u1); `cos_branch` equals box_muller_normal(u1, u2) bit for bit.
struct NormalPair {
  double cos_branch;
  double sin_branch;
};
inline NormalPair box_muller_pair(double u1, double u2) {
  const double r = box_muller_radius(u1);
  return {r * std::cos(kTwoPi * u2), r * std::sin(kTwoPi * u2)};
}

}  // namespace qme::core
