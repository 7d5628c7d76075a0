// Checkpoint archives: upstream's files load, qme's files round-trip and load in Python, bad
// files fail with one message naming the file, and code-carrying files are refused.
#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include "io/pickle_bytes.hpp"
#include "qme/core/error.hpp"
#include "qme/io/checkpoint.hpp"
#include "support/test_support.hpp"
#include "support/torch_archive_writer.hpp"

using qme::io::Checkpoint;
using qme::io::StateDict;
using qme::test::TempDir;
using namespace qme::test::pickle;

namespace {

using qme::test::kFixtures;
using qme::test::kSourceDir;

using qme::test::write_archive;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string read_error(const std::string& path) {
  return qme::test::message_of<qme::InputError>([&] { qme::io::read_checkpoint(path); });
}

/// A small checkpoint with every kind of entry a training run saves.
Checkpoint sample_checkpoint() {
  Checkpoint checkpoint;
  checkpoint.model_state_dict.insert("experts.0.bn.weight", torch::tensor({1.5f, -2.25f, 123.25f}));
  checkpoint.model_state_dict.insert("experts.0.bn.num_batches_tracked", torch::tensor(129, torch::kLong));
  checkpoint.model_state_dict.insert("experts.0.score_mlp.fc1.weight",
                                     torch::arange(27, torch::kFloat).reshape({9, 3}));
  auto group = c10::impl::GenericDict(c10::StringType::get(), c10::AnyType::get());
  group.insert("lr", 1e-3);
  group.insert("betas", c10::ivalue::Tuple::create(std::vector<c10::IValue>{0.9, 0.999}));
  group.insert("amsgrad", false);
  auto params = c10::impl::GenericList(c10::AnyType::get());
  params.push_back(int64_t{0});
  params.push_back(int64_t{1});
  group.insert("params", params);
  auto groups = c10::impl::GenericList(c10::AnyType::get());
  groups.push_back(group);
  auto state = c10::impl::GenericDict(c10::IntType::get(), c10::AnyType::get());
  auto slot = c10::impl::GenericDict(c10::StringType::get(), c10::AnyType::get());
  slot.insert("step", torch::tensor(6.0f));
  slot.insert("exp_avg", torch::full({3}, 0.125f));
  state.insert(int64_t{0}, slot);
  auto optimizer = c10::impl::GenericDict(c10::StringType::get(), c10::AnyType::get());
  optimizer.insert("state", state);
  optimizer.insert("param_groups", groups);
  checkpoint.set("optimizer_state_dict", optimizer);
  checkpoint.set("step", int64_t{6000});
  checkpoint.set("rng_state", torch::arange(16, torch::kByte));
  return checkpoint;
}

/// A Python that has torch ($QME_PYTHON, python3 on the PATH, or the system's), or "".
std::string python_with_torch() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("QME_PYTHON")) candidates.push_back(env);
  candidates.insert(candidates.end(), {"python3", "/usr/bin/python3"});
  for (const auto& python : candidates) {
    if (std::system((python + " -c 'import torch' >/dev/null 2>&1").c_str()) == 0) return python;
  }
  return "";
}

/// A module with parameters, buffers and a child, like the fusion heads.
struct TinyImpl : torch::nn::Module {
  TinyImpl() {
    scale = register_parameter("scale", torch::ones({2}));
    bn = register_module("bn", torch::nn::BatchNorm1d(2));
    fc = register_module("fc", torch::nn::Linear(2, 3));
  }
  torch::Tensor scale;
  torch::nn::BatchNorm1d bn{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(Tiny);

}  // namespace

TEST_CASE("upstream checkpoints load with their keys, order, shapes and dtypes", "[parity][io]") {
  const auto qme = qme::io::read_checkpoint(kFixtures + "/model/qme_ckpt.pth");
  REQUIRE(qme.model_state_dict.size() == 24);
  CHECK(qme.model_state_dict.keys().front() == "experts.0.bn.weight");
  CHECK(qme.model_state_dict.keys()[4] == "experts.0.bn.num_batches_tracked");
  CHECK(qme.model_state_dict.keys().back() == "qe.weight_assigner.0.bias");
  CHECK(qme.model_state_dict["experts.0.bn.num_batches_tracked"].scalar_type() == torch::kLong);
  CHECK(qme.model_state_dict["experts.0.bn.num_batches_tracked"].dim() == 0);
  CHECK(qme.model_state_dict["qe.f_style_mlp.fc1.weight"].sizes() == torch::IntArrayRef({1024, 2048}));
  CHECK(qme.entries.empty());

  const auto qe = qme::io::read_checkpoint(kFixtures + "/model/qe_ckpt.pth");
  REQUIRE(qe.model_state_dict.size() == 6);
  CHECK(qe.model_state_dict.keys().front() == "f_style_mlp.fc1.weight");
  // MoNormQE_dev loads its qe from the QE checkpoint: the two files agree.
  CHECK(torch::equal(qe.model_state_dict["weight_assigner.0.weight"],
                     qme.model_state_dict["qe.weight_assigner.0.weight"]));
}

TEST_CASE("a written checkpoint reads back the same, and no temporary file is left", "[io]") {
  TempDir dir;
  const auto path = dir.path("run-ccvid-bs8-seq1-0.00-10.pth");
  const auto original = sample_checkpoint();
  qme::io::write_checkpoint(path, original);
  CHECK(dir.entries() == 1);

  const auto back = qme::io::read_checkpoint(path);
  REQUIRE(back.model_state_dict.keys() == original.model_state_dict.keys());
  for (const auto& item : original.model_state_dict) {
    INFO(item.key());
    CHECK(back.model_state_dict[item.key()].scalar_type() == item.value().scalar_type());
    CHECK(torch::equal(back.model_state_dict[item.key()], item.value()));
  }
  REQUIRE(back.entries.size() == 3);
  CHECK(back.entries[0].first == "optimizer_state_dict");
  CHECK(back.find("step")->toInt() == 6000);
  CHECK(torch::equal(back.find("rng_state")->toTensor(), torch::arange(16, torch::kByte)));
  const auto optimizer = back.find("optimizer_state_dict")->toGenericDict();
  const auto group = optimizer.at("param_groups").toListRef()[0].toGenericDict();
  CHECK(group.at("lr").toDouble() == 1e-3);
  CHECK(group.at("betas").toTupleRef().elements()[1].toDouble() == 0.999);
  CHECK(group.at("params").toListRef().size() == 2);
  const auto slot = optimizer.at("state").toGenericDict().at(int64_t{0}).toGenericDict();
  CHECK(slot.at("step").toTensor().item<float>() == 6.0f);

  // Overwriting goes through a temporary too.
  qme::io::write_checkpoint(path, original);
  CHECK(dir.entries() == 1);
}

TEST_CASE("a checkpoint that cannot be written leaves nothing behind", "[io]") {
  TempDir dir;
  CHECK_THROWS(qme::io::write_checkpoint(dir.path("missing/sub/x.pth"), sample_checkpoint()));
  CHECK(dir.entries() == 0);
}

TEST_CASE("bad checkpoint files fail with one message naming the file", "[io]") {
  TempDir dir;
  CHECK(read_error(dir.path("none.pth")) == dir.path("none.pth") + " does not exist");
  CHECK_THAT(read_error(dir.path("")), Catch::Contains("is a directory"));
  CHECK_THAT(read_error(dir.write("legacy.pth", "\x80\x02}q\x00.")),
             Catch::Contains("legacy torch.save file"));
  CHECK_THAT(read_error(dir.write("text.pth", "model_state_dict")),
             Catch::Contains("not a torch.save checkpoint"));

  const auto good = dir.path("good.pth");
  qme::io::write_checkpoint(good, sample_checkpoint());
  const auto bytes = read_file(good);
  const auto truncated = dir.path("truncated.pth");
  write_file(truncated, bytes.substr(0, bytes.size() / 2));
  CHECK_THAT(read_error(truncated), Catch::StartsWith(truncated + " is truncated or corrupt ("));

  // One flipped bit inside a stored tensor: the zip's CRC catches it.
  auto flipped = bytes;
  const float marker = 123.25f;
  const auto at = flipped.find(std::string(reinterpret_cast<const char*>(&marker), sizeof marker));
  REQUIRE(at != std::string::npos);
  flipped[at] ^= 1;
  const auto corrupt = dir.path("corrupt.pth");
  write_file(corrupt, flipped);
  CHECK_THAT(read_error(corrupt), Catch::StartsWith(corrupt) && Catch::Contains("corrupt"));
}

TEST_CASE("archives that are not state-dict checkpoints are named as such", "[io]") {
  TempDir dir;
  const auto no_model = dir.path("no_model.pth");
  write_archive(no_model, {{"data.pkl", proto() + "}(" + unicode("step") + int1(7) + "u."}});
  CHECK(read_error(no_model) == no_model + ": 'model_state_dict' is missing (the checkpoint has: step)");

  const auto no_storage = dir.path("no_storage.pth");
  const std::string pickle = proto() + "}" + unicode("model_state_dict") + "}" + unicode("w") +
                             float_tensor("0", 1, 0, int1(1) + kTuple1, int1(1) + kTuple1) + "ss.";
  write_archive(no_storage, {{"data.pkl", pickle}});
  CHECK(read_error(no_storage) == no_storage + ": 'data/0' is missing from the archive");

  const auto script = dir.path("script.pt");
  write_archive(script, {{"data.pkl", "\x80\x02N."}, {"constants.pkl", "\x80\x02)."}});
  CHECK_THAT(read_error(script), Catch::Contains("is a TorchScript archive"));
}

TEST_CASE("the records newer torch.save versions add are accepted; a big-endian file is not", "[io]") {
  // torch >= 2.x adds .format_version, .storage_alignment, byteorder and .data/serialization_id.
  TempDir dir;
  const float value = 2.5f;
  std::map<std::string, std::string> records = {
      {"data.pkl", proto() + "}" + unicode("model_state_dict") + global("collections", "OrderedDict") + ")R" +
                       unicode("w") + float_tensor("0", 1, 0, int1(1) + kTuple1, int1(1) + kTuple1) + "ss."},
      {"data/0", std::string(reinterpret_cast<const char*>(&value), sizeof value)},
      {".format_version", "1"},
      {".storage_alignment", "64"},
      {".data/serialization_id", "1234567890"},
      {"byteorder", "little"}};
  const auto newer = dir.path("newer.pth");
  write_archive(newer, records);
  CHECK(qme::io::read_checkpoint(newer).model_state_dict["w"].item<float>() == 2.5f);

  records["byteorder"] = "big";
  const auto big = dir.path("big.pth");
  write_archive(big, records);
  CHECK(read_error(big) == big + ": 'byteorder' is 'big'; qme reads little-endian files only");
}

TEST_CASE("a checkpoint whose pickle calls os.system is refused and nothing runs", "[io]") {
  // tests/fixtures/checkpoint_os_system.pth (made by make_checkpoint_os_system.py) would run
  // `touch qme_os_system_ran` under Python's pickle. This one writes a marker into a temp dir.
  TempDir dir;
  const auto marker = dir.path("ran");
  const std::string pickle = proto() + "}" + unicode("payload") + global("posix", "system") +
                             unicode("touch " + marker) + kTuple1 + "Rs.";
  const auto crafted = dir.path("crafted.pth");
  write_archive(crafted, {{"data.pkl", pickle}});
  CHECK_THAT(read_error(crafted), Catch::StartsWith(crafted + ": refuses to load global 'posix.system'"));
  CHECK_FALSE(std::filesystem::exists(marker));

  const auto committed = kSourceDir + "/tests/fixtures/checkpoint_os_system.pth";
  CHECK_THAT(read_error(committed), Catch::StartsWith(committed + ": refuses to load global 'posix.system'"));
  CHECK_FALSE(std::filesystem::exists("qme_os_system_ran"));
}

TEST_CASE("state_dict follows PyTorch's order and load_state_dict lists every difference", "[io]") {
  Tiny tiny;
  const auto own = qme::io::state_dict(*tiny);
  CHECK(own.keys() == std::vector<std::string>{"scale", "bn.weight", "bn.bias", "bn.running_mean",
                                               "bn.running_var", "bn.num_batches_tracked", "fc.weight",
                                               "fc.bias"});

  StateDict state;
  for (const auto& item : own) state.insert(item.key(), torch::full_like(item.value(), 3));
  qme::io::load_state_dict(*tiny, state, "tiny.pth");
  CHECK(tiny->fc->weight.eq(3).all().item<bool>());
  CHECK(tiny->bn->num_batches_tracked.item<int64_t>() == 3);

  StateDict partial;
  partial.insert("scale", torch::zeros({2}));
  partial.insert("extra.weight", torch::zeros({1}));
  const auto strict_error =
      qme::test::message_of<qme::InputError>([&] { qme::io::load_state_dict(*tiny, partial, "tiny.pth"); });
  CHECK_THAT(strict_error,
             Catch::StartsWith("tiny.pth: 'model_state_dict' does not match the model: missing keys: "
                               "bn.weight, bn.bias"));
  CHECK_THAT(strict_error, Catch::Contains("unexpected keys: extra.weight"));

  const auto diff = qme::io::load_state_dict(*tiny, partial, "tiny.pth", /*strict=*/false);
  CHECK(diff.missing.size() == 7);
  CHECK(diff.unexpected == std::vector<std::string>{"extra.weight"});
  CHECK(tiny->scale.eq(0).all().item<bool>());

  StateDict misshaped;
  misshaped.insert("fc.weight", torch::zeros({2, 2}));
  CHECK_THAT(qme::test::message_of<qme::InputError>(
                 [&] { qme::io::load_state_dict(*tiny, misshaped, "tiny.pth", /*strict=*/false); }),
             Catch::Contains("mis-shaped: fc.weight is [2, 2] in the file, the model expects [3, 2]"));
}

TEST_CASE("a checkpoint written by qme loads in Python with torch.load", "[io][python]") {
  const auto python = python_with_torch();
  if (python.empty()) {
    WARN(
        "no python3 with torch (Debian: python3-torch; or set QME_PYTHON): torch.load interoperability not "
        "checked");
    return;
  }
  TempDir dir;
  const auto path = dir.path("qme.pth");
  qme::io::write_checkpoint(path, sample_checkpoint());
  const auto script =
      dir.write("check.py",
                "import collections, sys, torch\n"
                "ck = torch.load(sys.argv[1], map_location='cpu')\n"
                "sd = ck['model_state_dict']\n"
                "assert isinstance(sd, collections.OrderedDict), type(sd)\n"
                "assert list(sd)[0] == 'experts.0.bn.weight'\n"
                "assert sd['experts.0.bn.weight'].tolist() == [1.5, -2.25, 123.25]\n"
                "assert sd['experts.0.bn.num_batches_tracked'].dtype == torch.int64\n"
                "assert sd['experts.0.score_mlp.fc1.weight'].shape == (9, 3)\n"
                "assert ck['step'] == 6000\n"
                "g = ck['optimizer_state_dict']['param_groups'][0]\n"
                "assert g['betas'] == (0.9, 0.999) and g['params'] == [0, 1] and g['amsgrad'] is False\n"
                "assert ck['optimizer_state_dict']['state'][0]['step'].item() == 6.0\n"
                "assert ck['rng_state'].dtype == torch.uint8\n"
                "m = torch.nn.Linear(3, 9)\n"
                "m.weight.data.zero_()\n"
                "m.load_state_dict({'weight': sd['experts.0.score_mlp.fc1.weight'], 'bias': m.bias})\n"
                "print('ok')\n");
  CHECK(std::system((python + " " + script + " " + path).c_str()) == 0);
}

TEST_CASE("a training checkpoint saved by Python's torch.save loads in qme", "[io][python]") {
  const auto python = python_with_torch();
  if (python.empty()) {
    WARN(
        "no python3 with torch (Debian: python3-torch; or set QME_PYTHON): torch.save interoperability not "
        "checked");
    return;
  }
  TempDir dir;
  const auto path = dir.path("py.pth");
  const auto script = dir.write(
      "save.py",
      "import sys, torch\n"
      "torch.manual_seed(0)\n"
      "m = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))\n"
      "opt = torch.optim.Adam(m.parameters(), lr=1e-3, weight_decay=0.01)\n"
      "sch = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=300, T_mult=2)\n"
      "m(torch.randn(4, 3)).sum().backward(); opt.step(); sch.step(0.25)\n"
      "torch.save({'model_state_dict': m.state_dict(), 'optimizer_state_dict': opt.state_dict(),\n"
      "            'scheduler_state_dict': sch.state_dict(), 'rng': torch.get_rng_state(), 'big': 2**62},\n"
      "           sys.argv[1])\n"
      "print(m[0].weight.sum().item())\n");
  REQUIRE(std::system((python + " " + script + " " + path + " > " + dir.path("sum.txt")).c_str()) == 0);
  const auto checkpoint = qme::io::read_checkpoint(path);
  CHECK(checkpoint.model_state_dict.keys() ==
        std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                 "1.running_var", "1.num_batches_tracked"});
  const double printed = std::stod(read_file(dir.path("sum.txt")));
  CHECK(checkpoint.model_state_dict["0.weight"].sum().item<double>() == Approx(printed).epsilon(1e-6));
  const auto scheduler = checkpoint.find("scheduler_state_dict")->toGenericDict();
  CHECK(scheduler.at("T_0").toInt() == 300);
  CHECK(scheduler.at("T_cur").toDouble() == 0.25);
  const auto optimizer = checkpoint.find("optimizer_state_dict")->toGenericDict();
  CHECK(optimizer.at("state").toGenericDict().size() == 4);
  CHECK(checkpoint.find("big")->toInt() == (int64_t{1} << 62));
  CHECK(checkpoint.find("rng")->toTensor().scalar_type() == torch::kByte);
}

// LibTorch's reader reads the version record whole as it opens an archive: a directory that
// declares a huge one must be refused before that allocation. A stored record's two sizes must
// agree (LibTorch's zip reader checks that when it opens the archive), so a gigabyte declared in
// one of them is refused from the directory.
TEST_CASE("a version record declaring a gigabyte is refused before LibTorch reads it", "[io]") {
  TempDir dir;
  const auto path = dir.path("version_bomb.pth");
  write_archive(path, {{"data.pkl", proto() + "}."}});
  std::string bytes = read_file(path);
  const std::string name = "/version";
  // The central directory's entry: "PK\1\2", ..., uncompressed size at +24, name at +46.
  size_t at = std::string::npos;
  for (size_t p = bytes.find("PK\x01\x02"); p != std::string::npos; p = bytes.find("PK\x01\x02", p + 4)) {
    const size_t name_length =
        static_cast<unsigned char>(bytes[p + 28]) | static_cast<unsigned char>(bytes[p + 29]) << 8;
    const std::string record = bytes.substr(p + 46, name_length);
    if (record.size() >= name.size() && record.compare(record.size() - name.size(), name.size(), name) == 0)
      at = p;
  }
  REQUIRE(at != std::string::npos);
  const uint32_t huge = uint32_t{1} << 30;
  std::memcpy(&bytes[at + 24], &huge, sizeof huge);
  write_file(path, bytes);
  CHECK(read_error(path) == path + " is corrupt (record 'archive/version' declares sizes that disagree)");
  // Both sizes a gigabyte: the record would end beyond the file.
  std::memcpy(&bytes[at + 20], &huge, sizeof huge);
  write_file(path, bytes);
  CHECK_THAT(read_error(path), Catch::Contains("record 'archive/version' ends beyond the file"));
}

// Found by the checkpoint fuzzer: without a version record where LibTorch's reader looks for it
// (under the first record's top folder), that reader refuses the archive and leaks its zip
// state; qme refuses it first, by name.
TEST_CASE("an archive without a version record is refused by name", "[io]") {
  TempDir dir;
  const auto path = dir.path("no_version.pth");
  write_archive(path, {{"data.pkl", proto() + "}."}});
  std::string bytes = read_file(path);
  for (size_t at = bytes.find("/version"); at != std::string::npos; at = bytes.find("/version", at + 1)) {
    bytes[at + 7] = 'X';  // "/versioX" in both the local header and the directory
  }
  write_file(path, bytes);
  CHECK(read_error(path) ==
        path + ": 'version' is missing from the archive (every torch.save archive has one)");
}

TEST_CASE("an archive whose records lie in two top folders is refused as corrupt", "[io]") {
  TempDir dir;
  const auto path = dir.path("two_folders.pth");
  write_archive(path, {{"data.pkl", proto() + "}."}});
  std::string bytes = read_file(path);
  const auto at = bytes.rfind("/version");  // the directory's entry, after the local header's
  REQUIRE(at != std::string::npos);
  bytes[at - 1] = 'X';
  write_file(path, bytes);
  CHECK_THAT(read_error(path),
             Catch::StartsWith(path + " is corrupt (its records lie in more than one top folder"));
}

// Found by the checkpoint fuzzer: LibTorch's reader parses the version as it opens the archive
// and leaks when that fails; qme reads and checks the record first.
TEST_CASE("a version record that is not a supported number is refused by name", "[io]") {
  TempDir dir;
  const auto path = dir.path("version.pth");
  write_archive(path, {{"data.pkl", proto() + "}."}});
  const std::string good = read_file(path);
  const auto at = good.find("/version");
  REQUIRE(at != std::string::npos);
  // The record's data follows its local header's name (the first "/version"): "3\n".
  const auto data = good.find('\n', at) - 1;
  REQUIRE(good[data] >= '1');

  std::string bytes = good;
  bytes[data] = 'x';  // the CRC now fails
  write_file(path, bytes);
  CHECK(read_error(path) == path + " is corrupt (record 'version' fails its CRC check)");
}

// Found by the checkpoint fuzzer: records LibTorch's zip reader refuses while opening the
// archive (and leaks on) are refused by qme's own reading of the zip directory first.
TEST_CASE("encrypted records and unknown compression methods are refused by name", "[io]") {
  TempDir dir;
  const auto path = dir.path("odd_record.pth");
  write_archive(path, {{"data.pkl", proto() + "}."}});
  const std::string good = read_file(path);
  const auto entry = good.rfind("PK\x01\x02");  // the directory's last entry
  REQUIRE(entry != std::string::npos);

  std::string encrypted = good;
  encrypted[entry + 8] = static_cast<char>(encrypted[entry + 8] | 1);  // general-purpose flag bit 0
  write_file(path, encrypted);
  CHECK_THAT(read_error(path), Catch::Contains("is encrypted or patched, which torch.save never writes"));

  std::string method = good;
  method[entry + 10] = 12;  // bzip2
  write_file(path, method);
  CHECK_THAT(read_error(path), Catch::Contains("uses zip compression method 12"));
}
