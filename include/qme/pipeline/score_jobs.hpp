#pragma once
/// What `qme_test --eval_mode gather|score` does, as library calls (upstream
/// test.py: collect_scoremat, and get_scoremat_from_feats + test_score).
#include <cstdint>
#include <string>
#include <vector>

#include "qme/core/identity_labels.hpp"
#include "qme/eval/evaluation_report.hpp"
#include "qme/pipeline/tables_job.hpp"
#include "qme/scores/score_matrices.hpp"

namespace qme::pipeline {

struct GatherOptions {
  std::vector<std::string> models;  // in the order they are written
  std::string dataset;              // reads {feats_dir}/{model}_{dataset}_test.h5
  std::string feats_dir = "./test_feats";
  std::string output;  // empty: {feats_dir}/scoremats_{dataset}.h5
  scores::ScoreOptions scores;
};

struct GatherResult {
  std::string path;  // the score-matrix file written
  std::vector<std::string> models;
  TestLabels labels;
  double seconds = 0;  // reading, scoring and writing
};

/// Builds both matrices of every model and writes them, with the ids once, in
/// upstream's score-matrix layout, atomically. Every model's features file must
/// hold the same ids in the same order. Throws InputError naming the file and
/// the field (unknown model, missing file or dataset, mismatching ids: file,
/// array, index and both values), UsageError for a duplicated model; nothing
/// is written then.
GatherResult run_gather(const GatherOptions& options);

struct ScoreJobOptions {
  std::string model;
  std::string dataset;
  std::string feats_dir = "./test_feats";
  scores::ScoreOptions scores;
  uint32_t seed = 45;   // numpy's legacy generator, as upstream's test_score
  int num_threads = 0;  // evaluation threads (0: QME_NUM_THREADS or all cores)
};

/// One model's full evaluation report from its test features (nothing written):
/// a TablesResult with that model alone, so qme_tables' table and JSON apply.
TablesResult run_score(const ScoreJobOptions& options);

}  // namespace qme::pipeline
