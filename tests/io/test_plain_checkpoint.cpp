// The torch-free state-dict reader (qme_tables' QME weights) against read_checkpoint, the
// reader of record: the same tensors where it reads a file, a refusal wherever
// read_checkpoint refuses, and a refusal of deflated records, which it leaves to LibTorch.
#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "io/pickle_bytes.hpp"
#include "qme/core/error.hpp"
#include "qme/io/checkpoint.hpp"
#include "qme/io/plain_checkpoint.hpp"
#include "support/test_support.hpp"
#include "support/torch_archive_writer.hpp"

using qme::test::TempDir;
using namespace qme::test::pickle;

namespace {

using qme::test::kFixtures;
using qme::test::kSourceDir;

using qme::test::write_archive;

std::string plain_error(const std::string& path) {
  return qme::test::message_of<qme::InputError>([&] { qme::io::read_plain_state_dict(path); });
}

/// Both readers give the same names in the same order, the same element types and shapes, and
/// for float32 the same bits.
void check_same_as_read_checkpoint(const std::string& path) {
  INFO(path);
  const auto plain = qme::io::read_plain_state_dict(path);
  const auto reference = qme::io::read_checkpoint(path).model_state_dict;
  REQUIRE(plain.size() == reference.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    const auto& [name, tensor] = plain[i];
    INFO(name);
    CHECK(name == reference[i].key());
    const auto& expected = reference[i].value();
    CHECK(tensor.sizes == expected.sizes().vec());
    CHECK((tensor.element == qme::io::StorageElement::kFloat) == (expected.scalar_type() == torch::kFloat));
    if (expected.scalar_type() != torch::kFloat) continue;
    const auto contiguous = expected.contiguous();
    REQUIRE(tensor.values.size() == static_cast<size_t>(contiguous.numel()));
    CHECK(std::memcmp(tensor.values.data(), contiguous.data_ptr<float>(), tensor.values.size() * 4) == 0);
  }
}

std::string float_bytes(std::initializer_list<float> values) {
  std::string out;
  for (const float v : values) out.append(reinterpret_cast<const char*>(&v), sizeof v);
  return out;
}

/// {"model_state_dict": {"w": <tensor>}} with the tensor given as pickle bytes.
std::string state_pickle(const std::string& tensor) {
  return proto() + "}" + unicode("model_state_dict") + "}" + unicode("w") + tensor + "ss.";
}

const qme::io::WantedEntry kNothingWanted = [](const std::string&) { return false; };

/// Wanting no values gives the same names and shapes, every value left out.
void check_shapes_only_read(const std::string& path) {
  const auto full = qme::io::read_plain_state_dict(path);
  const auto shapes = qme::io::read_plain_state_dict(path, kNothingWanted);
  REQUIRE(shapes.size() == full.size());
  for (size_t i = 0; i < full.size(); ++i) {
    CHECK(shapes[i].first == full[i].first);
    CHECK(shapes[i].second.sizes == full[i].second.sizes);
    CHECK(shapes[i].second.element == full[i].second.element);
    CHECK(shapes[i].second.values.empty());
  }
}

}  // namespace

TEST_CASE("the torch-free reader reads upstream's checkpoints as read_checkpoint does", "[parity][io]") {
  check_same_as_read_checkpoint(kFixtures + "/model/qme_ckpt.pth");
  check_same_as_read_checkpoint(kFixtures + "/model/qe_ckpt.pth");

  // qme_tables wants the head, not the quality estimator: the head's values, the rest's shapes.
  const auto path = kFixtures + "/model/qme_ckpt.pth";
  const auto full = qme::io::read_plain_state_dict(path);
  const auto head =
      qme::io::read_plain_state_dict(path, [](const std::string& name) { return name.rfind("qe.", 0) != 0; });
  REQUIRE(head.size() == full.size());
  int kept = 0, left_out = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    INFO(full[i].first);
    const bool quality_estimator = full[i].first.rfind("qe.", 0) == 0;
    CHECK(head[i].second.sizes == full[i].second.sizes);
    CHECK(head[i].second.values == (quality_estimator ? std::vector<float>{} : full[i].second.values));
    ++(quality_estimator ? left_out : kept);
  }
  CHECK(kept > 0);
  CHECK(left_out > 0);
}

TEST_CASE("the torch-free reader checks the records it does not keep", "[io]") {
  // One bit flipped inside the quality estimator's largest storage: refused whether or not its
  // values are wanted.
  TempDir dir;
  const auto source = kFixtures + "/model/qme_ckpt.pth";
  std::ifstream in(source, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto flipped = dir.path("flipped.pth");
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x10);
  std::ofstream(flipped, std::ios::binary) << bytes;
  CHECK_THAT(plain_error(flipped), Catch::Contains("fails its CRC check"));
  const auto message = qme::test::message_of<qme::InputError>(
      [&] { qme::io::read_plain_state_dict(flipped, kNothingWanted); });
  CHECK_THAT(message, Catch::Contains("fails its CRC check"));
}

TEST_CASE("both readers refuse an archive split over several files, as LibTorch's zip reader does", "[io]") {
  // The fuzzer found a zip64 end record whose "records on this disk" disagreed with its total:
  // LibTorch (miniz) refuses such a file when it opens it, so the torch-free reader must too.
  TempDir dir;
  std::ifstream in(kSourceDir + "/tests/fuzz/corpus/checkpoint/torch_shared_storage.pth", std::ios::binary);
  const std::string intact((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t zip64_end = intact.rfind("PK\x06\x06");
  const size_t zip64_locator = intact.rfind("PK\x06\x07");
  const size_t first_record = intact.find("PK\x01\x02");
  REQUIRE(zip64_end != std::string::npos);
  REQUIRE(zip64_locator != std::string::npos);
  REQUIRE(first_record != std::string::npos);
  const std::vector<std::pair<std::string, std::pair<size_t, char>>> damages = {
      {"records on this disk", {zip64_end + 24, '\x07'}},
      {"this disk's number", {zip64_end + 16, '\x02'}},
      {"the locator's disk count", {zip64_locator + 16, '\x02'}},
      {"a record's disk", {first_record + 34, '\x05'}},
      {"a masked local header", {first_record + 9, '\x20'}},
  };
  for (const auto& [what, damage] : damages) {
    INFO(what);
    std::string bytes = intact;
    bytes[damage.first] = damage.second;
    const auto path = dir.path("split.pth");
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    CHECK_THROWS_AS(qme::io::read_plain_state_dict(path), qme::InputError);
    CHECK_THROWS_AS(qme::io::read_checkpoint(path), qme::InputError);
  }
}

TEST_CASE("the torch-free reader reads every corpus checkpoint read_checkpoint reads, and refuses the rest",
          "[io]") {
  // The fuzzer's seeds and findings: torch.save's own files (full training state, shared
  // storages), qme's, and the crafted archives either reader must refuse.
  int read = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(kSourceDir + "/tests/fuzz/corpus/checkpoint")) {
    const auto path = entry.path().string();
    INFO(path);
    bool reference_reads = true;
    try {
      qme::io::read_checkpoint(path);
    } catch (const qme::InputError&) {
      reference_reads = false;
    }
    if (reference_reads) {
      check_same_as_read_checkpoint(path);
      check_shapes_only_read(path);
      ++read;
    } else {
      CHECK_THROWS_AS(qme::io::read_plain_state_dict(path), qme::InputError);
      // Records it does not keep are checked all the same.
      CHECK_THROWS_AS(qme::io::read_plain_state_dict(path, kNothingWanted), qme::InputError);
    }
  }
  CHECK(read >= 4);
}

TEST_CASE("the torch-free reader gathers strided views and refuses what it leaves to LibTorch", "[io]") {
  TempDir dir;
  // A 2x2 view with strides (1, 2) at offset 1 of a 5-element storage: the transpose of
  // [[1, 2], [3, 4]] stored after one unused element.
  const auto strided = dir.path("strided.pth");
  write_archive(strided, {{"data.pkl", state_pickle(float_tensor("0", 5, 1, int1(2) + int1(2) + kTuple2,
                                                                 int1(1) + int1(2) + kTuple2))},
                          {"data/0", float_bytes({9, 1, 2, 3, 4})}});
  const auto state = qme::io::read_plain_state_dict(strided);
  REQUIRE(state.size() == 1);
  CHECK(state[0].second.values == std::vector<float>{1, 3, 2, 4});
  check_same_as_read_checkpoint(strided);

  // torch.save never deflates, but a re-zipped file may be: read_checkpoint inflates it.
  const auto deflated = dir.path("deflated.pth");
  write_archive(deflated,
                {{"data.pkl", state_pickle(float_tensor("0", 255, 0, int1(1) + kTuple1, int1(1) + kTuple1))},
                 {"data/0", std::string(255 * 4, '\0')}},
                /*deflate=*/true);
  CHECK(qme::io::read_checkpoint(deflated).model_state_dict.size() == 1);
  CHECK_THAT(plain_error(deflated), Catch::StartsWith(deflated) && Catch::Contains("is compressed"));

  const auto int_key = dir.path("int_key.pth");
  write_archive(int_key, {{"data.pkl", proto() + "}" + int1(3) + int1(4) + "s."}});
  CHECK(plain_error(int_key) == int_key + " has a top-level key that is not a string");

  const auto no_model = dir.path("no_model.pth");
  write_archive(no_model, {{"data.pkl", proto() + "}" + unicode("step") + int1(7) + "s."}});
  CHECK(plain_error(no_model) == no_model + ": 'model_state_dict' is missing");

  const auto not_tensor = dir.path("not_tensor.pth");
  write_archive(not_tensor, {{"data.pkl", state_pickle(int1(5))}});
  CHECK(plain_error(not_tensor) == not_tensor + ": 'model_state_dict/w' is a int, not a tensor");
}
