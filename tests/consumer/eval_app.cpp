// Evaluates a 2 x 4 score matrix through the installed qme::eval and prints the top-1 rates.
#include <cstdio>

#include "qme/eval/evaluation_report.hpp"

int main() {
  qme::TestLabels labels;
  labels.query.pids = {1, 2};
  labels.query.camids = {0, 0};
  labels.query.clothes_ids = {0, 0};
  labels.gallery.pids = {1, 1, 2, 2};
  labels.gallery.camids = {1, 1, 1, 1};
  labels.gallery.clothes_ids = {1, 0, 1, 0};
  labels.unique_gallery_pids = {1, 2};
  qme::ScoreMatrix scores(2, 4);
  scores.values = {0.9f, 0.1f, 0.2f, 0.3f,   // probe 1: its own subject first
                   0.8f, 0.1f, 0.4f, 0.3f};  // probe 2: another subject first
  qme::ScoreMatrix merged(2, 2);
  merged.values = {0.9f, 0.3f, 0.8f, 0.4f};
  const auto report = qme::eval::evaluate(scores, merged, labels);
  std::printf("GR_top1 %.4f GR_mAP %.4f\n", report.at("GR_top1"), report.at("GR_mAP"));
  return report.at("GR_top1") == 0.5 ? 0 : 1;
}
