#include <hdf5.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "qme/core/error.hpp"
#include "qme/io/hdf5_file.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using qme::io::AtomicH5Writer;
using qme::io::H5Reader;
using qme::io::Shape;
using qme::test::TempDir;

namespace {

std::string tmp_name_of(const std::string& path) {
  return path + ".tmp-" + std::to_string(::getpid());
}

/// Writes a file at `path` holding one float32 dataset, committed.
void write_committed(const std::string& path, const std::string& name, const std::vector<float>& values,
                     const Shape& shape) {
  AtomicH5Writer w(path);
  w.write_float32(name, values.data(), shape);
  w.commit();
}

}  // namespace

TEST_CASE("H5Reader on a missing file throws InputError naming the file", "[io]") {
  TempDir dir;
  const auto path = dir.path("absent.h5");
  CHECK_THROWS_AS(H5Reader(path), qme::InputError);
  CHECK_THROWS_WITH(H5Reader(path), Contains(path));
}

TEST_CASE("H5Reader on a file that is not HDF5 throws InputError naming the file", "[io]") {
  TempDir dir;
  const auto path = dir.path("text.h5");
  std::ofstream(path) << "this is not an HDF5 file\n";
  CHECK_THROWS_AS(H5Reader(path), qme::InputError);
  CHECK_THROWS_WITH(H5Reader(path), Contains(path));
  CHECK_THROWS_AS(H5Reader(dir.path("")), qme::InputError);  // a directory
}

TEST_CASE("reading a missing dataset names the file and the dataset", "[io]") {
  TempDir dir;
  const auto path = dir.path("one.h5");
  write_committed(path, "present", {1, 2}, {2});
  const H5Reader r(path);
  CHECK_THROWS_AS(r.read_float32("absent"), qme::InputError);
  CHECK_THROWS_WITH(r.read_float32("absent"), Contains(path) && Contains("absent"));
  CHECK_THROWS_WITH(r.read_int64("group/absent"), Contains("group/absent"));
  CHECK_THROWS_AS(r.shape("absent"), qme::InputError);
  CHECK_FALSE(r.has_dataset("absent"));
  CHECK_FALSE(r.has_dataset("no/such/group"));  // missing groups on the way: just absent
}

TEST_CASE("datasets round-trip with their shapes and convert between numeric types", "[io]") {
  TempDir dir;
  const auto path = dir.path("data.h5");
  {
    AtomicH5Writer w(path);
    const std::vector<float> m = {1.5f, -2.0f, 0.25f, 4.0f, 5.0f, 6.0f};
    w.write_float32("matrix", m.data(), {2, 3});
    const std::vector<int64_t> ids = {7, -3, 9007199254740993LL};
    w.write_int64("ids", ids.data(), {3});
    w.write_string_attribute("qme_note", "hello");
    w.write_int_attribute("qme_format", 1);
    w.commit();
  }
  const H5Reader r(path);
  Shape shape;
  CHECK(r.read_float32("matrix", &shape) == std::vector<float>{1.5f, -2.0f, 0.25f, 4.0f, 5.0f, 6.0f});
  CHECK(shape == Shape{2, 3});
  CHECK(r.shape("matrix") == Shape{2, 3});
  CHECK(r.read_float64("matrix") == std::vector<double>{1.5, -2.0, 0.25, 4.0, 5.0, 6.0});
  CHECK(r.read_float32("ids") == std::vector<float>{7.0f, -3.0f, 9007199254740992.0f});
  CHECK(r.read_float64("ids", &shape)[1] == -3.0);
  CHECK(shape == Shape{3});
}

TEST_CASE("read_int64 converts float32 ids and rejects fractions", "[io]") {
  // Upstream stores ids as float32.
  TempDir dir;
  const auto path = dir.path("ids.h5");
  {
    AtomicH5Writer w(path);
    const float ids[4] = {0.0f, 12.0f, -1.0f, 16777216.0f};
    w.write_float32("pids", ids, {4});
    const float bad[2] = {3.0f, 1.5f};
    w.write_float32("bad", bad, {2});
    w.commit();
  }
  const H5Reader r(path);
  CHECK(r.read_int64("pids") == std::vector<int64_t>{0, 12, -1, 16777216});
  CHECK_THROWS_AS(r.read_int64("bad"), qme::InputError);
  CHECK_THROWS_WITH(r.read_int64("bad"), Contains("bad") && Contains("1.5"));
}

TEST_CASE("AtomicH5Writer: the file appears only after commit", "[io]") {
  TempDir dir;
  const auto path = dir.path("out.h5");
  {
    AtomicH5Writer w(path);
    const float x[1] = {1.0f};
    w.write_float32("x", x, {1});
    CHECK_FALSE(fs::exists(path));
    CHECK(fs::exists(tmp_name_of(path)));
    w.commit();
    CHECK(fs::exists(path));
    CHECK_FALSE(fs::exists(tmp_name_of(path)));
  }
  CHECK(fs::exists(path));
  CHECK(H5Reader(path).read_float32("x") == std::vector<float>{1.0f});
}

TEST_CASE("AtomicH5Writer destroyed without commit leaves neither file nor temporary", "[io]") {
  TempDir dir;
  const auto path = dir.path("out.h5");
  {
    AtomicH5Writer w(path);
    const float x[1] = {1.0f};
    w.write_float32("x", x, {1});
  }
  CHECK_FALSE(fs::exists(path));
  CHECK_FALSE(fs::exists(tmp_name_of(path)));
  CHECK(dir.entries() == 0);
}

TEST_CASE("AtomicH5Writer interrupted by an exception keeps the previous file", "[io]") {
  TempDir dir;
  const auto path = dir.path("out.h5");
  write_committed(path, "x", {1.0f}, {1});
  try {
    AtomicH5Writer w(path);
    const float y[1] = {2.0f};
    w.write_float32("x", y, {1});
    throw std::runtime_error("interrupted");
  } catch (const std::runtime_error&) {
  }
  CHECK(H5Reader(path).read_float32("x") == std::vector<float>{1.0f});
  CHECK(dir.entries() == 1);
}

TEST_CASE("AtomicH5Writer commit replaces an existing file", "[io]") {
  TempDir dir;
  const auto path = dir.path("out.h5");
  for (float v : {1.0f, 2.0f}) {
    AtomicH5Writer w(path);
    w.write_float32("x", &v, {1});
    w.commit();
  }
  CHECK(H5Reader(path).read_float32("x") == std::vector<float>{2.0f});
}

TEST_CASE("nested dataset names create their groups", "[io]") {
  TempDir dir;
  const auto path = dir.path("nested/deeper/out.h5");  // parent folders are created too
  {
    AtomicH5Writer w(path);
    const float x[2] = {1, 2};
    w.write_float32("adaface/score_mat", x, {1, 2});
    w.write_float32("a/b/c", x, {2});
    w.write_float32("a/b/d", x, {2});
    w.commit();
  }
  const H5Reader r(path);
  CHECK(r.has_group("adaface"));
  CHECK(r.has_dataset("adaface/score_mat"));
  CHECK_FALSE(r.has_group("adaface/score_mat"));
  CHECK_FALSE(r.has_dataset("adaface"));
  CHECK(r.has_group("a/b"));
  CHECK(r.list_group("a/b") == std::vector<std::string>{"c", "d"});
  CHECK(r.list_group("/") == std::vector<std::string>{"a", "adaface"});
  CHECK_THROWS_AS(r.list_group("missing"), qme::InputError);
}

TEST_CASE("the same data written twice gives the same bytes (no creation times)", "[io]") {
  TempDir dir;
  const auto write = [&](const std::string& name) {
    AtomicH5Writer w(dir.path(name));
    const float x[3] = {1, 2, 3};
    w.write_float32("group/scores", x, {3});
    w.write_strings("group/names", {"a", "bc"});
    w.commit();
    std::ifstream in(dir.path(name), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const auto first = write("first.h5");
  ::sleep(1);  // HDF5's object times have one-second resolution
  CHECK(write("second.h5") == first);
}

TEST_CASE("H5Reader can be moved", "[io]") {
  TempDir dir;
  const auto path = dir.path("m.h5");
  write_committed(path, "x", {3.0f}, {1});
  H5Reader a(path);
  H5Reader b(std::move(a));
  CHECK(b.path() == path);
  CHECK(b.read_float32("x") == std::vector<float>{3.0f});
}

TEST_CASE("many and long strings, spread over several heap collections, read back whole", "[io]") {
  // read_strings walks each global-heap collection the strings point into before libhdf5 reads
  // them (damaged heaps make libhdf5 loop forever): intact ones of every size must pass.
  TempDir dir;
  const auto path = dir.path("many_strings.h5");
  std::vector<std::string> keys;
  for (int i = 0; i < 6000; ++i) {
    keys.push_back("session" + std::to_string(i % 7) + "/" + std::to_string(i) + "/" +
                   std::string(static_cast<size_t>((i * 37) % 9000 < 100 ? 5000 : i % 40), 'x'));
  }
  keys.push_back("");
  {
    AtomicH5Writer w(path);
    w.write_strings("frame_keys", keys);
    w.commit();
  }
  CHECK(H5Reader(path).read_strings("frame_keys") == keys);
}

TEST_CASE("string datasets, uint8 datasets and integer attributes round-trip", "[io]") {
  TempDir dir;
  const auto path = dir.path("strings.h5");
  {
    AtomicH5Writer w(path);
    w.write_strings("keys", {"session1/001_01/00001", "", "ü"});
    w.write_strings("group/none", {});
    const std::vector<uint8_t> flags{0, 1, 1};
    w.write_uint8("flags", flags.data(), {3});
    w.write_int_attribute("qme_format", 1);
    w.write_string_attribute("note", "text");
    w.commit();
  }
  const H5Reader r(path);
  CHECK(r.read_strings("keys") == std::vector<std::string>{"session1/001_01/00001", "", "ü"});
  CHECK(r.read_strings("group/none").empty());
  CHECK(r.read_uint8("flags") == std::vector<uint8_t>{0, 1, 1});
  CHECK(r.read_int_attribute("qme_format") == 1);
  CHECK_FALSE(r.read_int_attribute("absent"));
  CHECK_THROWS_WITH(r.read_int_attribute("note"), Contains(path) && Contains("note"));
  CHECK_THROWS_WITH(r.read_strings("flags"), Contains(path) && Contains("flags") && Contains("strings"));
  CHECK_THROWS_WITH(r.read_strings("absent"), Contains("absent"));
}

namespace {

/// A dataset that declares `count` elements of `type` and stores none (its chunks are never
/// written): a few KB on disk that would read as gigabytes of fill values.
void write_unstored(const std::string& path, const std::string& name, hsize_t count, hid_t type,
                    bool chunked) {
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hid_t space = H5Screate_simple(1, &count, nullptr);
  const hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
  if (chunked) {
    const hsize_t chunk = count < 1024 ? count : 1024;
    H5Pset_chunk(plist, 1, &chunk);
  } else {
    H5Pset_alloc_time(plist, H5D_ALLOC_TIME_LATE);
  }
  const hid_t dataset = H5Dcreate2(file, name.c_str(), type, space, H5P_DEFAULT, plist, H5P_DEFAULT);
  REQUIRE(dataset >= 0);
  H5Dclose(dataset);
  H5Pclose(plist);
  H5Sclose(space);
  H5Fclose(file);
}

template <typename T>
void write_typed(const std::string& path, const std::string& name, const std::vector<T>& values,
                 hid_t file_type, hid_t memory_type) {
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t count = values.size();
  const hid_t space = H5Screate_simple(1, &count, nullptr);
  const hid_t dataset =
      H5Dcreate2(file, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  H5Dclose(dataset);
  H5Sclose(space);
  H5Fclose(file);
}

}  // namespace

TEST_CASE("a dataset that declares more than it stores is refused before allocation", "[io]") {
  TempDir dir;
  for (const bool chunked : {true, false}) {
    const auto path = dir.path(chunked ? "chunked.h5" : "late.h5");
    write_unstored(path, "q_pids", hsize_t{1} << 27, H5T_IEEE_F32LE, chunked);
    CHECK(fs::file_size(path) < 64 * 1024);
    const H5Reader r(path);
    CHECK(r.id_count("q_pids") == (uint64_t{1} << 27));  // the shape alone is fine to know
    CHECK(qme::test::message_of<qme::InputError>([&] { r.read_ids("q_pids"); }) ==
          path +
              ": 'q_pids' declares 134217728 values (536870912 bytes) but stores only 0 bytes: the file is "
              "truncated or was not written by h5py or qme");
    CHECK_THROWS_WITH(r.read_float32("q_pids"), Contains("stores only 0 bytes"));
  }
  // Small unwritten datasets are harmless and read as their fill value, as h5py reads them.
  const auto small = dir.path("small.h5");
  write_unstored(small, "x", 16, H5T_IEEE_F32LE, true);
  CHECK(H5Reader(small).read_float32("x") == std::vector<float>(16, 0.0f));
}

TEST_CASE("ids are read in their stored type and must be int64 values", "[io]") {
  TempDir dir;
  const auto u64 = dir.path("u64.h5");
  write_typed<uint64_t>(u64, "ids", {1, 2, uint64_t{1} << 63}, H5T_STD_U64LE, H5T_NATIVE_UINT64);
  CHECK(qme::test::message_of<qme::InputError>([&] { H5Reader(u64).read_ids("ids"); }) ==
        u64 + ": 'ids' entry 2 is 9223372036854775808, beyond int64");
  const auto big = dir.path("big.h5");
  write_typed<int64_t>(big, "ids", {std::numeric_limits<int64_t>::max(), -5}, H5T_STD_I64LE,
                       H5T_NATIVE_INT64);
  CHECK(H5Reader(big).read_ids("ids") == std::vector<int64_t>{std::numeric_limits<int64_t>::max(), -5});
  const auto small = dir.path("u8.h5");
  write_typed<uint8_t>(small, "ids", {0, 255}, H5T_STD_U8LE, H5T_NATIVE_UINT8);
  CHECK(H5Reader(small).read_ids("ids") == std::vector<int64_t>{0, 255});
  // 1e19 and -1e19 as floats lie outside int64: a cast would be undefined and could merge ids.
  for (const double outside : {1e19, -1e19, 9223372036854775808.0}) {
    const auto path = dir.path("f64.h5");
    write_typed<double>(path, "ids", {3.0, outside}, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE);
    CHECK_THAT(qme::test::message_of<qme::InputError>([&] { H5Reader(path).read_ids("ids"); }),
               Contains("'ids' entry 1 is") && Contains("not a whole number within int64"));
  }
  const auto edge = dir.path("edge.h5");
  write_typed<double>(edge, "ids", {-9223372036854775808.0, 4.0}, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE);
  CHECK(H5Reader(edge).read_ids("ids") == std::vector<int64_t>{std::numeric_limits<int64_t>::min(), 4});
}

TEST_CASE("read_ids with an expected count names both sides and reads nothing on a mismatch", "[io]") {
  TempDir dir;
  const auto path = dir.path("ids.h5");
  write_committed(path, "q_pids", {1, 2, 3}, {3, 1});
  const H5Reader r(path);
  CHECK(r.read_ids("q_pids", 3, "score_mat has 3 rows") == std::vector<int64_t>{1, 2, 3});
  CHECK(qme::test::message_of<qme::InputError>([&] { r.read_ids("q_pids", 4, "score_mat has 4 rows"); }) ==
        path + ": 'q_pids' has 3 entries but score_mat has 4 rows");
  const auto square = dir.path("square.h5");
  write_committed(square, "q_pids", {1, 2, 3, 4}, {2, 2});
  CHECK(qme::test::message_of<qme::InputError>([&] { H5Reader(square).read_ids("q_pids"); }) ==
        square + ": 'q_pids' must be one-dimensional, got 2x2");
}
