// Data-pipeline throughput: frames per second read from a CCVID-layout .h5,
// transformed per model and packed into batches by qme::data::ClipLoader (test
// clips of 8 frames, batch 1 as upstream's TEST_BATCH), for cal-ccvid (body
// frames -> 384x192 bicubic, ImageNet) and adaface (112x112 face crops, one per
// frame), with 1 and 2 worker threads. The dataset is generated: tracklets of
// body frames between 256x128 and 400x200 and a 112x112 face per frame.
// bench/bench_loader_upstream.py times upstream's PIL + torchvision path on the
// same file (--dir keeps it).
#include <H5Cpp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "qme/data/datasets.hpp"
#include "qme/data/loader.hpp"

namespace fs = std::filesystem;

namespace {

struct Generated {
  int64_t frames = 0;
  int64_t min_height = 0, max_height = 0;
};

/// A smooth colour field with noise: compresses like a photo would not, decodes like any frame.
std::vector<uint8_t> make_frame(int64_t h, int64_t w, std::mt19937& rng) {
  std::vector<uint8_t> px(static_cast<size_t>(h * w * 3));
  const int base[3] = {static_cast<int>(rng() % 200), static_cast<int>(rng() % 200),
                       static_cast<int>(rng() % 200)};
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        px[static_cast<size_t>((y * w + x) * 3 + c)] =
            static_cast<uint8_t>((base[c] + (y * (c + 1)) / 4 + x / 3 + static_cast<int>(rng() % 24)) % 256);
  return px;
}

H5::Group ensure_group(H5::H5File& file, const std::string& path) {
  std::string prefix;
  size_t start = 1;
  while (true) {
    const size_t slash = path.find('/', start);
    prefix = path.substr(0, slash);
    if (H5Lexists(file.getId(), prefix.c_str(), H5P_DEFAULT) <= 0) file.createGroup(prefix);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return file.openGroup(path);
}

void write_image(H5::H5File& file, const std::string& key, const std::vector<uint8_t>& px, int64_t h,
                 int64_t w) {
  const hsize_t dims[3] = {static_cast<hsize_t>(h), static_cast<hsize_t>(w), 3};
  ensure_group(file, "/" + key.substr(0, key.rfind('/')));
  H5::DataSet ds = file.createDataSet("/" + key, H5::PredType::STD_U8LE, H5::DataSpace(3, dims));
  ds.write(px.data(), H5::PredType::NATIVE_UINT8);
}

/// ROOT/CCVID/{ccvid.h5, ccvid_face.h5, train.txt, query.txt, gallery.txt}:
/// `tracklets` tracklets of `length` frames, all listed in query.txt.
Generated write_dataset(const std::string& root, int tracklets, int length) {
  const std::string dir = root + "/CCVID";
  fs::create_directories(dir);
  H5::H5File body(dir + "/ccvid.h5", H5F_ACC_TRUNC);
  H5::H5File faces(dir + "/ccvid_face.h5", H5F_ACC_TRUNC);
  std::mt19937 rng(11);
  Generated g;
  g.min_height = 1 << 30;
  std::ofstream query(dir + "/query.txt"), train(dir + "/train.txt"), gallery(dir + "/gallery.txt");
  for (int t = 0; t < tracklets; ++t) {
    char folder[64];
    std::snprintf(folder, sizeof(folder), "session1/%03d_%02d", t / 2 + 1, t % 2 + 1);
    const int64_t h = 256 + static_cast<int64_t>(rng() % 73) * 2;  // 256..400, W = H / 2
    g.min_height = std::min(g.min_height, h);
    g.max_height = std::max(g.max_height, h);
    for (int f = 0; f < length; ++f) {
      char key[96];
      std::snprintf(key, sizeof(key), "%s/%05d", folder, f + 1);
      write_image(body, key, make_frame(h, h / 2, rng), h, h / 2);
      write_image(faces, std::string(key) + "/face_0", make_frame(112, 112, rng), 112, 112);
      ++g.frames;
    }
    (t == 0 ? train : (t == 1 ? gallery : query)) << folder << "\t" << (t / 2 + 1) << "\tu0_l0_s0_c0_a0\n";
  }
  return g;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Pass {
  double seconds = 0;      // wall clock
  double cpu_seconds = 0;  // all threads of the process
  int64_t frames = 0;
};

/// One pass over `clips`.
Pass one_pass(const qme::data::DatasetSplits& splits, const std::vector<qme::data::Tracklet>& clips,
              const std::string& model, int threads, int64_t batch_size) {
  qme::data::LoaderOptions options;
  options.models = {model};
  options.num_workers = threads;
  options.batch_size = batch_size;
  Pass pass;
  const std::clock_t cpu_start = std::clock();
  const auto start = std::chrono::steady_clock::now();
  {
    qme::data::ClipLoader loader(qme::data::LoaderSource::of(splits), clips, options);
    while (auto batch = loader.next()) pass.frames += batch->masks.at(model).sum().item<int64_t>();
  }
  pass.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  pass.cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  return pass;
}

/// The 1-minute load average (the machine may be shared), or -1.
double load_average() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  in >> load;
  return load;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_loader: qme::data::ClipLoader frames per second", "bench_loader"};
  int tracklets = 32;
  int length = 64;
  int repeats = 5;
  int64_t batch_size = 1;
  std::string dir;
  std::vector<int> thread_counts{1, 2};
  std::vector<std::string> models{"cal-ccvid", "adaface"};
  app.add_option("--tracklets", tracklets, "generated tracklets")->capture_default_str();
  app.add_option("--length", length, "frames per tracklet (a multiple of 8)")->capture_default_str();
  app.add_option("--repeats", repeats, "timed passes per setting")->capture_default_str();
  app.add_option("--batch_size", batch_size, "clips per batch (upstream TEST_BATCH: 1)")
      ->capture_default_str();
  app.add_option("--threads", thread_counts, "worker thread counts")->capture_default_str();
  app.add_option("--models", models, "models to time")->capture_default_str();
  app.add_option("--dir", dir, "dataset root to write and keep (default: a temporary folder, removed after)");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  const bool temporary = dir.empty();
  if (temporary)
    dir = (fs::temp_directory_path() / ("qme_bench_loader_" + std::to_string(::getpid()))).string();
  const Generated g = write_dataset(dir, tracklets, length);
  const auto splits = qme::data::read_ccvid(dir);
  std::vector<qme::data::Tracklet> all = splits.query;
  all.insert(all.end(), splits.gallery.begin(), splits.gallery.end());
  all.insert(all.end(), splits.train.begin(), splits.train.end());
  const auto clips = qme::data::test_clips(all).clips;
  std::printf("load average %.1f (the machine may be shared)\n", load_average());
  std::printf(
      "dataset: %lld frames in %d tracklets, body %lldx%lld to %lldx%lld uint8, one 112x112 face per frame; "
      "%zu test clips of 8, batch %lld\n",
      static_cast<long long>(g.frames), tracklets, static_cast<long long>(g.min_height),
      static_cast<long long>(g.min_height / 2), static_cast<long long>(g.max_height),
      static_cast<long long>(g.max_height / 2), clips.size(), static_cast<long long>(batch_size));

  for (const std::string& model : models) {
    for (int threads : thread_counts) {
      one_pass(splits, clips, model, threads, batch_size);  // warm-up: page cache
      std::vector<double> seconds, cpu;
      int64_t frames = 0;
      for (int r = 0; r < repeats; ++r) {
        const Pass pass = one_pass(splits, clips, model, threads, batch_size);
        seconds.push_back(pass.seconds);
        cpu.push_back(pass.cpu_seconds);
        frames = pass.frames;
      }
      const double m = median(seconds);
      std::printf(
          "%-9s %s threads %d: %lld frames, median %.3f s over %d passes -> %.0f frames/s "
          "(%.0f frames per CPU-s)\n",
          model.c_str(), model == "adaface" ? "(112x112 bilinear)" : "(384x192 bicubic) ", threads,
          static_cast<long long>(frames), m, repeats, static_cast<double>(frames) / m,
          static_cast<double>(frames) / median(cpu));
    }
  }
  if (temporary) {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  } else {
    std::printf("dataset kept in %s (bench/bench_loader_upstream.py --root %s)\n", dir.c_str(), dir.c_str());
  }
  return 0;
}
