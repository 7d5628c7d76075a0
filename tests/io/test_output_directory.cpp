#include "qme/io/output_directory.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "qme/core/error.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using qme::io::check_output_directory;
using qme::io::check_output_file;
using qme::test::TempDir;

namespace {

std::string refusal(const std::function<void()>& f) {
  return qme::test::message_of<qme::InputError>(f);
}

}  // namespace

TEST_CASE("check_output_directory accepts what can be written and creates nothing", "[io]") {
  TempDir dir;
  check_output_directory(dir.path(""));
  const auto nested = dir.path("a/b/c");
  check_output_directory(nested);
  check_output_directory("");  // the working directory
  CHECK_FALSE(fs::exists(dir.path("a")));
  CHECK(fs::is_empty(dir.path("")));  // the probe folder is gone
}

TEST_CASE("check_output_directory names the folder and why it cannot be written", "[io]") {
  TempDir dir;
  const auto file = dir.path("a_file");
  std::ofstream(file) << "x";
  CHECK(refusal([&] { check_output_directory(file + "/out"); }) ==
        file + "/out cannot be created as an output folder: " + file + " is not a folder");
  CHECK(refusal([&] { check_output_directory(file); }) ==
        file + " is not a folder (an output folder was expected)");
  CHECK(refusal([&] { check_output_directory("/proc/qme_no_such/out"); }) ==
        "/proc/qme_no_such/out cannot be created as an output folder: /proc is not writable (No such file or "
        "directory)");
}

TEST_CASE("check_output_file refuses a folder, a missing folder and an unwritable one", "[io]") {
  TempDir dir;
  const auto json = dir.path("report.json");
  check_output_file(json);
  check_output_file("");  // no output
  check_output_file(dir.path("new/s.h5"), /*create_folder=*/true);
  CHECK_FALSE(fs::exists(json));
  CHECK_FALSE(fs::exists(dir.path("new")));
  CHECK(refusal([&] { check_output_file(dir.path("")); }).find("is a folder, not a file") !=
        std::string::npos);
  CHECK(refusal([&] { check_output_file(dir.path("none/r.json")); }) ==
        dir.path("none/r.json") + " cannot be written: its folder " + dir.path("none") + " does not exist");
  CHECK(refusal([&] { check_output_file("/proc/qme_no_such/s.h5", true); }) ==
        "/proc/qme_no_such/s.h5 cannot be written: its folder /proc/qme_no_such cannot be created: /proc is "
        "not "
        "writable (No such file or directory)");
}
