#pragma once
/// Small deterministic TorchScript backbones for the synthetic demo (synth_world.hpp), one per
/// model of the CCVID model list, obeying qme's backbone contract (docs/architecture.md §8,
/// backbone/backbone_spec.hpp) with the real input and output shapes. No training: fixed filters
/// and fixed random projections that read what the synthetic world puts into the pixels.
///
/// - adaface (N,3,112,112): every 8x8 patch (196 tokens) goes through two banks of 512 fixed
///   zero-mean filters: one for texture (blob-sized detail, blind to single pixels), one for
///   pixel-level detail (what noise adds and blur removes). Intermediates (N,2,196,512) are the two banks
///   after tanh with a fixed offset and a LayerNorm without affine (eps 1e-6), so their per-token spread
///   follows the detail energy: blur flattens them, noise fills the second, occluders empty some tokens; that
///   is what the face quality estimator reads. The embedding (N,512) is a fixed random position-aware
///   projection of the texture bank over the inner face, whose cosine follows the correlation of the face
///   textures (identity).
/// - biggait (N,3,256,128): horizontal colour edges pooled into 16 horizontal parts x 32
///   columns, normalised per part (edge positions, not contrast: the silhouette, the limbs'
///   swing), lifted to 512 channels: embedding (N,512,16); its fc_bin (16,512,256) is a fixed
///   random projection; intermediates (N,2,162,384) are coarse colour tokens.
/// - cal-ccvid (N,3,384,192): colours pooled over 16x16 cells (24x12), centred per channel and
///   weighted towards the middle columns (the person), then a fixed random projection:
///   embedding (N,4096), clothes-dominated like a re-id network; layer2 (N,512,48,24) and
///   layer3 (N,1024,24,12) are fixed 1x1 filters of pooled colours (body-QE statistics).
/// Weights come from a fixed seed: the same files for every dataset (a "pretrained" model).
#include <map>
#include <string>

namespace qme::demo {

/// The demo's models, in model_list order.
inline const char* const kDemoModels[] = {"adaface", "biggait", "cal-ccvid"};

/// Writes `{dir}/{model}.pt` for every demo model (dir created when missing); returns
/// model -> path.
std::map<std::string, std::string> write_demo_backbones(const std::string& dir);

}  // namespace qme::demo
