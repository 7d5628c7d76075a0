#include "qme/formats/probe_quality_stats.hpp"

#include "qme/core/error.hpp"
#include "qme/formats/cache_format.hpp"
#include "qme/io/hdf5_file.hpp"

namespace qme::formats {

std::string probe_quality_stats_path(const std::string& dir, const std::string& model,
                                     const std::string& dataset) {
  return dir + "/" + model + "_" + dataset + "_test_qe.h5";
}

void validate_probe_quality_stats(const ProbeQualityStats& s, const std::string& source) {
  if (!s.qe_stats.consistent()) throw InputError(source, "qe_stats", "does not hold rows x cols values");
  if (s.qe_stats.cols < 1) throw InputError(source, "qe_stats", "has no columns");
  if (static_cast<int64_t>(s.frame_clip.size()) != s.qe_stats.rows) {
    throw InputError(source, "frame_clip",
                     "has " + std::to_string(s.frame_clip.size()) + " entries but 'qe_stats' has " +
                         std::to_string(s.qe_stats.rows) + " rows");
  }
  const auto clips = s.num_clips();
  for (size_t i = 0; i < s.frame_clip.size(); ++i) {
    if (s.frame_clip[i] < 0 || s.frame_clip[i] >= clips) {
      throw InputError(source, "frame_clip",
                       "entry " + std::to_string(i) + " is " + std::to_string(s.frame_clip[i]) +
                           ", not a clip index in [0, " + std::to_string(clips) + ") (clip_query has " +
                           std::to_string(clips) + " entries)");
    }
  }
  for (size_t c = 0; c < s.clip_query.size(); ++c) {
    if (s.clip_query[c] < 0)
      throw InputError(source, "clip_query", "entry " + std::to_string(c) + " is negative");
  }
}

void write_probe_quality_stats(const std::string& path, const ProbeQualityStats& s) {
  validate_probe_quality_stats(s, path);
  io::AtomicH5Writer writer(path);
  stamp_qme_format(writer);
  const auto n = static_cast<uint64_t>(s.qe_stats.rows);
  writer.write_float32("qe_stats", s.qe_stats.values.data(), {n, static_cast<uint64_t>(s.qe_stats.cols)});
  writer.write_int64("frame_clip", s.frame_clip.data(), {n});
  writer.write_int64("clip_query", s.clip_query.data(), {s.clip_query.size()});
  writer.commit();
}

ProbeQualityStats read_probe_quality_stats(const std::string& path) {
  const io::H5Reader reader(path);
  check_qme_format(reader, "test QE statistics");
  ProbeQualityStats s;
  s.source = path;
  io::Shape shape;
  s.qe_stats.values = reader.read_float32("qe_stats", &shape);
  if (shape.size() != 2) {
    throw InputError(
        path, "qe_stats",
        "must be a 2-D (frames, width) matrix, got " + std::to_string(shape.size()) + " dimensions");
  }
  s.qe_stats.rows = static_cast<int64_t>(shape[0]);
  s.qe_stats.cols = static_cast<int64_t>(shape[1]);
  s.frame_clip = reader.read_ids("frame_clip");
  s.clip_query = reader.read_ids("clip_query");
  validate_probe_quality_stats(s, path);
  return s;
}

void check_clip_queries(const ProbeQualityStats& s, int64_t num_queries) {
  if (num_queries < 0)
    throw InputError(s.source, "clip_query", "cannot map clips to a negative number of probes");
  for (size_t c = 0; c < s.clip_query.size(); ++c) {
    if (s.clip_query[c] >= num_queries) {
      throw InputError(s.source, "clip_query",
                       "entry " + std::to_string(c) + " is probe " + std::to_string(s.clip_query[c]) +
                           " but the score matrices have " + std::to_string(num_queries) + " probes");
    }
  }
}

std::vector<float> query_quality_weights(const ProbeQualityStats& s, const std::vector<float>& frame_weight,
                                         int64_t num_queries) {
  check_clip_queries(s, num_queries);
  if (static_cast<int64_t>(frame_weight.size()) != s.num_frames()) {
    throw InputError(s.source, "qe_stats",
                     "has " + std::to_string(s.num_frames()) + " frames but " +
                         std::to_string(frame_weight.size()) + " quality weights were given");
  }
  const auto clips = static_cast<size_t>(s.num_clips());
  std::vector<double> clip_sum(clips, 0.0);
  std::vector<int64_t> clip_frames(clips, 0);
  for (size_t i = 0; i < frame_weight.size(); ++i) {
    const auto c = static_cast<size_t>(s.frame_clip[i]);
    clip_sum[c] += frame_weight[i];
    ++clip_frames[c];
  }
  std::vector<double> query_sum(static_cast<size_t>(num_queries), 0.0);
  std::vector<int64_t> query_clips(static_cast<size_t>(num_queries), 0);
  for (size_t c = 0; c < clips; ++c) {
    if (clip_frames[c] == 0) continue;  // no face in this clip: upstream's NaN, skipped
    const auto q = static_cast<size_t>(s.clip_query[c]);
    query_sum[q] += clip_sum[c] / static_cast<double>(clip_frames[c]);
    ++query_clips[q];
  }
  std::vector<float> weights(static_cast<size_t>(num_queries), 0.0f);  // no face at all: 0
  for (size_t q = 0; q < weights.size(); ++q) {
    if (query_clips[q] > 0)
      weights[q] = static_cast<float>(query_sum[q] / static_cast<double>(query_clips[q]));
  }
  return weights;
}

}  // namespace qme::formats
