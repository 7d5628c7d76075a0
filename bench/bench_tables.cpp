// bench_tables: the whole paper table in-process (what qme_tables runs), stage by stage:
// reading the score-matrix file, each single-model report, each classic fusion and its report,
// QME inference and its report, and writing the outputs (table, JSON, CSV). Prints the median of
// each stage over the repeats, with the input size. Without --scoremats it writes an LTCC-sized
// synthetic file (493 x 7050, 3 models; the distribution flags of bench_eval apply), a freshly
// initialised QME head and uniform face weights to a temporary folder first.
// Upstream's Python does the same work (demo.ipynb) in ~26 s on the reference 2-core machine.
#include <torch/torch.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "qme/core/logging.hpp"
#include "qme/core/parallel.hpp"
#include "qme/eval/classic_fusion.hpp"
#include "qme/eval/evaluation_report.hpp"
#include "qme/eval/paper_table.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/fusion/qme_inference.hpp"
#include "qme/fusion/qme_mixture.hpp"
#include "qme/io/checkpoint.hpp"
#include "qme/io/hdf5_file.hpp"
#include "qme/io/text_file.hpp"
#include "qme/pipeline/qme_column.hpp"
#include "qme/pipeline/tables_job.hpp"

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Stage name -> one time per repeat, in the order stages first ran.
class StageTimes {
 public:
  template <typename F>
  auto time(const std::string& stage, F&& body) {
    if (times_.find(stage) == times_.end()) order_.push_back(stage);
    const auto start = Clock::now();
    if constexpr (std::is_void_v<decltype(body())>) {
      body();
      times_[stage].push_back(seconds_since(start));
    } else {
      auto result = body();
      times_[stage].push_back(seconds_since(start));
      return result;
    }
  }
  /// Per stage: the median over the repeats and the first (cold) run's time.
  void print() {
    std::printf("  %-26s %12s %12s\n", "stage", "median ms", "first run ms");
    for (const auto& stage : order_) {
      auto t = times_[stage];
      const double first = t.front();
      std::sort(t.begin(), t.end());
      std::printf("  %-26s %12.2f %12.2f\n", stage.c_str(), t[t.size() / 2] * 1e3, first * 1e3);
    }
  }

 private:
  std::vector<std::string> order_;
  std::map<std::string, std::vector<double>> times_;
};

struct Inputs {
  std::string scoremats, qme_ckpt, face_weights;
  std::vector<std::string> models;
};

/// An LTCC-sized file, a fresh QME head over its three models and uniform face weights.
Inputs write_synthetic_inputs(const fs::path& dir, const qme::synthetic::SyntheticScoreSpec& spec) {
  Inputs in;
  const auto synthetic = qme::synthetic::make_synthetic_scores(spec);
  in.scoremats = (dir / "scoremats_ltcc.h5").string();
  qme::formats::write_score_matrix_file(in.scoremats, synthetic.labels, synthetic.models);
  for (const auto& [name, scores] : synthetic.models) in.models.push_back(name);
  torch::manual_seed(3);
  qme::fusion::QmeMixture head{qme::fusion::QmeMixtureOptions(static_cast<int64_t>(in.models.size()))};
  qme::io::Checkpoint checkpoint;
  checkpoint.model_state_dict = qme::io::state_dict(*head);
  in.qme_ckpt = (dir / "qme.pth").string();
  qme::io::write_checkpoint(in.qme_ckpt, checkpoint);
  std::mt19937 rng(5);
  std::vector<float> weights(synthetic.labels.query.size());
  for (auto& w : weights) w = std::uniform_real_distribution<float>(0.0f, 1.0f)(rng);
  in.face_weights = (dir / "face_weights.h5").string();
  qme::io::AtomicH5Writer writer(in.face_weights);
  writer.write_float32("face_weights", weights.data(), {weights.size(), 1});
  writer.commit();
  return in;
}

/// One run of the whole table, every stage timed.
void run_table(const Inputs& in, const std::vector<qme::eval::FusionMethod>& baselines, int threads,
               const fs::path& out_dir, StageTimes& times) {
  qme::eval::EvalOptions eval_options;
  eval_options.num_threads = threads;
  qme::pipeline::TablesResult result;
  const auto scores = times.time("read", [&] {
    const qme::formats::ScoreMatrixFile file(in.scoremats);
    std::pair<qme::TestLabels, std::vector<qme::ModelScores>> read{file.labels(), {}};
    for (const auto& m : in.models) read.second.push_back(file.read_model(m));
    return read;
  });
  const auto& labels = scores.first;
  std::vector<const qme::ModelScores*> inputs;
  for (size_t k = 0; k < in.models.size(); ++k) {
    inputs.push_back(&scores.second[k]);
    auto report = times.time("report " + in.models[k], [&] {
      return qme::eval::evaluate(scores.second[k].score_mat, scores.second[k].merge_score_mat, labels,
                                 eval_options);
    });
    result.single.push_back({in.models[k], std::move(report), 0});
  }
  qme::ModelScores fused;
  qme::eval::ClassicFusion classic(inputs, labels, threads);
  for (auto method : baselines) {
    const auto name = qme::eval::to_string(method);
    times.time("fuse " + name, [&] { classic.fuse(method, fused); });
    auto report = times.time("report " + name, [&] {
      return qme::eval::evaluate(fused.score_mat, fused.merge_score_mat, labels, eval_options);
    });
    result.fusion.push_back({name, std::move(report), 0});
  }
  if (!in.qme_ckpt.empty()) {
    // As qme_tables: the torch-free kernel where the head allows, else LibTorch's module.
    const auto column = times.time(
        "qme load", [&] { return qme::pipeline::load_qme_column(in.qme_ckpt, in.face_weights, true); });
    qme::ModelScores qme_scores;
    times.time("qme inference", [&] {
      column->fuse(in.models, inputs, labels, qme_scores);  // with the face weights' reading
      return 0;
    });
    auto report = times.time("report qme", [&] {
      return qme::eval::evaluate(qme_scores.score_mat, qme_scores.merge_score_mat, labels, eval_options);
    });
    result.learned.push_back({{"qme", std::move(report), 0}, "QME"});
  }
  times.time("write outputs", [&] {
    const auto table = qme::eval::format_paper_table(qme::pipeline::table_columns(result), false);
    qme::io::write_text_file((out_dir / "tables.json").string(),
                             qme::pipeline::tables_to_json(result).dump(1));
    qme::io::write_text_file((out_dir / "tables.csv").string(), qme::pipeline::tables_to_csv(result));
    qme::io::write_text_file((out_dir / "table.txt").string(), table);
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_tables: the whole paper table in-process, median time per stage", "bench_tables"};
  Inputs in;
  std::string baselines_flag = "zscore,minmax,rhe,min,mean,max";
  int repeats = 5, threads = 0;
  auto spec = qme::synthetic::ltcc_sized_spec();
  app.add_option("--scoremats", in.scoremats, "score-matrix file (default: a synthetic LTCC-sized one)");
  app.add_option("--models", in.models, "models, in the QME checkpoint's order (default: all in the file)")
      ->delimiter(',');
  app.add_option("--qme_ckpt", in.qme_ckpt, "QME checkpoint (default with the synthetic file: a fresh head)");
  app.add_option("--face_weights", in.face_weights, "face weights for --qme_ckpt");
  app.add_option("--baselines", baselines_flag, "classic baselines")->capture_default_str();
  app.add_option("--repeats", repeats, "repeats (median reported)")->capture_default_str();
  app.add_option("--threads", threads, "worker threads (0: all cores)");
  std::string keep;
  app.add_option("--keep_inputs", keep,
                 "write the synthetic inputs (scoremats_ltcc.h5, qme.pth, face_weights.h5) into this folder "
                 "and keep them, e.g. to time qme_tables as a whole process");
  qme::bench::add_distribution_flags(app, spec);
  CLI11_PARSE(app, argc, argv);
  qme::setup_logging("error");

  const fs::path dir = fs::temp_directory_path() / ("qme_bench_tables_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  if (!keep.empty()) fs::create_directories(keep);
  if (in.scoremats.empty()) in = write_synthetic_inputs(keep.empty() ? dir : fs::path(keep), spec);
  if (in.models.empty()) in.models = qme::formats::ScoreMatrixFile(in.scoremats).models();
  std::vector<qme::eval::FusionMethod> baselines;
  std::stringstream names(baselines_flag);
  for (std::string name; std::getline(names, name, ',');) {
    if (name != "none") baselines.push_back(qme::eval::parse_fusion_method(name));
  }
  const qme::formats::ScoreMatrixFile file(in.scoremats);
  std::printf("input: %s, %zu models, score_mat %zux%zu, merge_score_mat %zux%zu, %d thread(s), %d repeats\n",
              in.scoremats.c_str(), in.models.size(), file.labels().query.size(),
              file.labels().gallery.size(), file.labels().query.size(),
              file.labels().unique_gallery_pids.size(), threads > 0 ? threads : qme::default_num_threads(),
              repeats);
  StageTimes times;
  for (int r = 0; r < repeats; ++r) {
    times.time("whole table (in-process)", [&] { run_table(in, baselines, threads, dir, times); });
  }
  times.print();
  std::printf("upstream Python, the same table (demo.ipynb): ~26000 ms\n");
  fs::remove_all(dir);
  return 0;
}
