// libFuzzer target: the YAML config loaders. The first byte picks the backbone or the train
// config; the rest is the YAML text. A config that loads must also round-trip: its to_yaml
// text (what qme writes into a run folder) loads again and writes back the same text.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_input.hpp"
#include "qme/config/backbone_config.hpp"
#include "qme/config/train_config.hpp"

namespace {

template <class Parse>
void check_round_trip(const char* what, const std::string& text, Parse&& parse) {
  const std::string first = to_yaml(parse(text, "fuzz.yaml"));
  std::string second;
  try {
    second = to_yaml(parse(first, "fuzz-written.yaml"));
  } catch (const qme::Error& e) {
    std::fprintf(stderr, "%s: qme's own YAML does not load again: %s\n--- written:\n%s\n", what, e.what(),
                 first.c_str());
    std::abort();
  }
  if (first != second) {
    std::fprintf(stderr, "%s: the YAML changed in a write and read back\n--- first:\n%s\n--- second:\n%s\n",
                 what, first.c_str(), second.c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    qme::fuzz::expect_read_or_refusal("backbone config", [&] {
      check_round_trip("backbone config", text, [](const std::string& t, const std::string& source) {
        return qme::config::parse_backbone_config(t, source);
      });
    });
  } else {
    qme::fuzz::expect_read_or_refusal("train config", [&] {
      check_round_trip("train config", text, [](const std::string& t, const std::string& source) {
        return qme::config::parse_train_config(t, source);
      });
    });
  }
  return 0;
}
