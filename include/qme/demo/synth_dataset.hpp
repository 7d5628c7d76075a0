#pragma once
/// Writes a synthetic world (synth_world.hpp) as a CCVID-layout dataset that qme's readers
/// (data::read_ccvid) and upstream's CCVID class accept:
///   {root}/CCVID/ccvid.h5        body frames "sessionS/PPP_CC/FFFFF" uint8 (H, W, 3)
///   {root}/CCVID/ccvid_face.h5   face crops  "sessionS/PPP_CC/FFFFF/face_0" uint8 (112, 112, 3),
///                                no group for a frame without a face
///   {root}/CCVID/{train,query,gallery}.txt   "tracklet<TAB>pid<TAB>clothes_label" per line
///   {root}/CCVID/synth_truth.csv the hidden variables per tracklet (face quality, bystanders),
///                                for analysis; no reader needs it
/// Frames are numbered from 1. The HDF5 files are written without object timestamps, so the same
/// world gives byte-identical files; each file is written to a temporary name and renamed.
#include <cstdint>
#include <string>

#include "qme/demo/synth_world.hpp"

namespace qme::demo {

struct SynthDatasetFiles {
  std::string dir;        ///< {root}/CCVID
  std::string body_file;  ///< ccvid.h5
  std::string face_file;  ///< ccvid_face.h5
  int64_t tracklets = 0, frames = 0, faces = 0;
};

/// Renders every tracklet of `world` and writes the dataset under `root` (created when missing).
/// `threads` renders tracklets in parallel (the files do not depend on it).
SynthDatasetFiles write_synth_dataset(const World& world, const std::string& root, int threads = 1);

}  // namespace qme::demo
