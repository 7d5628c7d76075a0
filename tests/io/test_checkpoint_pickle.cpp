// The restricted unpickler and the pickler, on hand-written pickle streams: what a state dict
// needs decodes, everything else is refused by name, and nothing is ever called.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>

#include "io/pickle_bytes.hpp"
#include "qme/core/error.hpp"
#include "qme/io/checkpoint_pickle.hpp"
#include "support/test_support.hpp"

using qme::io::PickledStorage;
using qme::io::PickleOptions;
using qme::io::StorageLoader;
using qme::io::unpickle_restricted;
using namespace qme::test::pickle;

namespace {

/// A storage loader that serves `numel` float elements 0, 1, 2, ... for any key and counts calls.
struct CountingLoader {
  int calls = 0;
  StorageLoader loader() {
    return [this](const std::string&, c10::ScalarType dtype, int64_t numel) {
      ++calls;
      return torch::arange(numel, torch::TensorOptions().dtype(dtype));
    };
  }
};

c10::IValue decode(const std::string& bytes) {
  CountingLoader loader;
  return unpickle_restricted(bytes, loader.loader(), "test.pth");
}

std::string error_of(const std::string& bytes) {
  return qme::test::message_of<qme::InputError>([&] { decode(bytes); });
}

}  // namespace

TEST_CASE("the unpickler decodes a torch.save-style OrderedDict of tensors", "[io]") {
  // {'w': tensor (2, 3) from storage '0', 'n': 7}, as torch.save lays it out.
  const std::string bytes =
      proto() + "}" + "(" + unicode("w") +
      float_tensor("0", 6, 0, int1(2) + int1(3) + kTuple2, int1(3) + int1(1) + kTuple2) + unicode("n") +
      int1(7) + "u" + ".";
  const auto value = decode(bytes);
  REQUIRE(value.isGenericDict());
  const auto dict = value.toGenericDict();
  REQUIRE(dict.size() == 2);
  const auto w = dict.at("w").toTensor();
  CHECK(w.sizes() == torch::IntArrayRef({2, 3}));
  CHECK(w.scalar_type() == torch::kFloat);
  CHECK(torch::equal(w, torch::arange(6, torch::kFloat).reshape({2, 3})));
  CHECK(dict.at("n").toInt() == 7);
}

TEST_CASE("the unpickler keeps insertion order, the memo and views into one storage", "[io]") {
  // OrderedDict with 'b' before 'a'; both tensors view storage '0' (offsets 0 and 2); the
  // storage persistent id is memoised and fetched again with BINGET, as torch.save does.
  const std::string storage_pid = "(" + unicode("storage") + global("torch", "FloatStorage") + unicode("0") +
                                  unicode("cpu") + int1(4) + "t" + "q\x01";
  const std::string t1 = global("torch._utils", "_rebuild_tensor_v2") + "q\x02(" + storage_pid + "Q" +
                         int1(0) + int1(2) + kTuple1 + int1(1) + kTuple1 + "\x89" + "N" + "tR";
  const std::string t2 =
      "h\x02(h\x01Q" + int1(2) + int1(2) + kTuple1 + int1(1) + kTuple1 + "\x89" + "N" + "tR";
  const std::string bytes =
      proto() + global("collections", "OrderedDict") + ")R(" + unicode("b") + t1 + unicode("a") + t2 + "u.";
  CountingLoader loader;
  const auto value = unpickle_restricted(bytes, loader.loader(), "test.pth");
  CHECK(loader.calls == 1);  // one storage record read for two tensors
  const auto dict = value.toGenericDict();
  std::vector<std::string> keys;
  for (const auto& kv : dict) keys.push_back(kv.key().toStringRef());
  CHECK(keys == std::vector<std::string>{"b", "a"});
  CHECK(dict.at("b").toTensor()[1].item<float>() == 1.0f);
  CHECK(dict.at("a").toTensor()[0].item<float>() == 2.0f);
}

TEST_CASE("the unpickler decodes the scalars and containers of optimiser state", "[io]") {
  // {'lr': 1e-3, 'betas': (0.9, 0.999), 'big': 2**40, 'neg': -5, 'on': True, 'x': None, 'ids': [0, 1]}
  std::string binfloat_1e3 = "G";
  const double v = 1e-3;
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  for (int i = 7; i >= 0; --i) binfloat_1e3 += static_cast<char>((bits >> (8 * i)) & 0xff);
  const std::string bytes = proto() + "}(" + unicode("lr") + binfloat_1e3 + unicode("betas") +
                            "G\x3f\xec\xcc\xcc\xcc\xcc\xcc\xcd" + "G\x3f\xef\xf7\xce\xd9\x16\x87\x2b" +
                            kTuple2 + unicode("big") + std::string("\x8a\x06\x00\x00\x00\x00\x00\x01", 8) +
                            unicode("neg") + "J\xfb\xff\xff\xff" + unicode("on") + "\x88" + unicode("x") +
                            "N" + unicode("ids") + "](" + int1(0) + int1(1) + "e" + "u.";
  const auto dict = decode(bytes).toGenericDict();
  CHECK(dict.at("lr").toDouble() == 1e-3);
  const auto betas = dict.at("betas").toTupleRef().elements();
  CHECK(betas[0].toDouble() == 0.9);
  CHECK(betas[1].toDouble() == 0.999);
  CHECK(dict.at("big").toInt() == (int64_t{1} << 40));
  CHECK(dict.at("neg").toInt() == -5);
  CHECK(dict.at("on").toBool());
  CHECK(dict.at("x").isNone());
  CHECK(dict.at("ids").toListRef().size() == 2);
}

TEST_CASE("the unpickler refuses os.system and runs nothing", "[io]") {
  qme::test::TempDir dir;
  const auto marker = dir.path("ran");
  const std::string bytes = proto() + global("posix", "system") + unicode("touch " + marker) + kTuple1 + "R.";
  const auto message = error_of(bytes);
  CHECK(message ==
        "test.pth: refuses to load global 'posix.system': a checkpoint may hold only tensors, numbers, "
        "strings and containers of them, and this one asks to import code");
  CHECK_FALSE(std::filesystem::exists(marker));
}

TEST_CASE("the unpickler refuses every global outside the allow-list, however it is spelled", "[io]") {
  CHECK_THAT(error_of(proto() + global("builtins", "eval") + unicode("1") + kTuple1 + "R."),
             Catch::Contains("refuses to load global 'builtins.eval'"));
  CHECK_THAT(error_of(proto() + global("__builtin__", "getattr") + "."),
             Catch::Contains("refuses to load global '__builtin__.getattr'"));
  // Protocol 4's STACK_GLOBAL takes module and name from the stack.
  CHECK_THAT(error_of(proto() + unicode("subprocess") + unicode("Popen") + "\x93."),
             Catch::Contains("refuses to load global 'subprocess.Popen'"));
  // Close relatives of allowed names are still refused.
  CHECK_THAT(error_of(proto() + global("torch._utils", "_rebuild_device_tensor_from_numpy") + "."),
             Catch::Contains("refuses to load global 'torch._utils._rebuild_device_tensor_from_numpy'"));
  CHECK_THAT(error_of(proto() + global("torch", "load") + "."),
             Catch::Contains("refuses to load global 'torch.load'"));
  CHECK_THAT(error_of(proto() + global("torch.nn.modules.linear", "Linear") + "."),
             Catch::Contains("refuses to load global 'torch.nn.modules.linear.Linear'"));
}

TEST_CASE("the unpickler refuses opcodes that instantiate objects", "[io]") {
  // INST ('i') and OBJ ('o') create instances of arbitrary classes.
  CHECK_THAT(error_of(proto() + "(iposix\nsystem\n."), Catch::Contains("unsupported pickle opcode 0x69"));
  CHECK_THAT(error_of(proto() + "(o."), Catch::Contains("unsupported pickle opcode 0x6f"));
  // An allowed global may not survive into the result as a bare class.
  CHECK_THAT(error_of(proto() + global("torch", "FloatStorage") + "."),
             Catch::Contains("bare reference to torch.FloatStorage"));
}

TEST_CASE("the unpickler rejects truncated and malformed streams with the file's name", "[io]") {
  const std::string full = proto() + "}(" + unicode("key") + int1(1) + "u.";
  CHECK_THAT(error_of(full.substr(0, full.size() - 4)), Catch::StartsWith("test.pth: data.pkl (byte"));
  CHECK_THAT(error_of(full.substr(0, full.size() - 4)), Catch::Contains("truncated"));
  CHECK_THAT(error_of(proto() + "u."), Catch::Contains("no MARK"));
  CHECK_THAT(error_of(proto() + "h\x05."), Catch::Contains("memo entry 5 is not defined"));
  CHECK_THAT(error_of(proto() + "a."), Catch::Contains("stack underflow"));
  CHECK_THAT(error_of(proto() + int1(1) + "]" + int1(2) + "s."), Catch::Contains("not a dict"));
}

TEST_CASE("the unpickler keeps tensor views inside their storage", "[io]") {
  // Storage of 4 elements; a (3,) view at offset 2 would read past its end.
  const std::string past_end = proto() + float_tensor("0", 4, 2, int1(3) + kTuple1, int1(1) + kTuple1) + ".";
  CHECK_THAT(error_of(past_end), Catch::Contains("extends past its storage"));
  const std::string huge_stride =
      proto() + float_tensor("0", 4, 0, int1(2) + kTuple1, "J\xff\xff\xff\x7f" + kTuple1) + ".";
  CHECK_THAT(error_of(huge_stride), Catch::Contains("extends past its storage"));
  const std::string bad_key = proto() + global("torch._utils", "_rebuild_tensor_v2") + "((" +
                              unicode("storage") + global("torch", "FloatStorage") + unicode("../x") +
                              unicode("cpu") + int1(1) + "tQ" + int1(0) + ")" + ")" + "\x89N" + "tR.";
  CHECK_THAT(error_of(bad_key), Catch::Contains("storage key is not a plain name"));
}

TEST_CASE("pickle_for_torch output decodes back to the same values", "[io]") {
  auto inner = c10::impl::GenericDict(c10::StringType::get(), c10::AnyType::get());
  inner.insert("lr", 0.5);
  inner.insert("betas", c10::ivalue::Tuple::create(std::vector<c10::IValue>{0.9, 0.999}));
  auto list = c10::impl::GenericList(c10::AnyType::get());
  list.push_back(int64_t{0});
  list.push_back(int64_t{-70000});
  list.push_back(int64_t{1} << 40);
  list.push_back(std::numeric_limits<int64_t>::min());
  auto top = c10::impl::GenericDict(c10::StringType::get(), c10::AnyType::get());
  top.insert("group", inner);
  top.insert("ints", list);
  top.insert("w", torch::arange(6, torch::kFloat).reshape({2, 3}).t());  // non-contiguous: saved contiguous
  top.insert("steps", torch::tensor({3}, torch::kLong));
  top.insert("flag", false);
  top.insert("none", c10::IValue());
  top.insert("long tuple", c10::ivalue::Tuple::create(
                               std::vector<c10::IValue>{int64_t{1}, int64_t{2}, int64_t{3}, int64_t{4}}));

  std::vector<PickledStorage> storages;
  const auto bytes = qme::io::pickle_for_torch(c10::IValue(top), PickleOptions{}, &storages);
  REQUIRE(storages.size() == 2);
  const StorageLoader loader = [&](const std::string& key, c10::ScalarType dtype, int64_t numel) {
    const auto& s = storages.at(std::stoul(key));
    REQUIRE(s.data.scalar_type() == dtype);
    REQUIRE(s.data.numel() == numel);
    return s.data.reshape({-1});
  };
  const auto back = unpickle_restricted(bytes, loader, "round-trip").toGenericDict();
  CHECK(back.at("group").toGenericDict().at("lr").toDouble() == 0.5);
  CHECK(back.at("group").toGenericDict().at("betas").toTupleRef().elements()[1].toDouble() == 0.999);
  const auto ints = back.at("ints").toListRef();
  CHECK(ints[1].toInt() == -70000);
  CHECK(ints[2].toInt() == (int64_t{1} << 40));
  CHECK(ints[3].toInt() == std::numeric_limits<int64_t>::min());
  CHECK(torch::equal(back.at("w").toTensor(), torch::arange(6, torch::kFloat).reshape({2, 3}).t()));
  CHECK(back.at("steps").toTensor().scalar_type() == torch::kLong);
  CHECK_FALSE(back.at("flag").toBool());
  CHECK(back.at("none").isNone());
  CHECK(back.at("long tuple").toTupleRef().elements().size() == 4);
}

TEST_CASE("the unpickler refuses recursive structures and deep nesting, and walks shared ones once", "[io]") {
  using namespace std::string_literals;  // the streams hold NUL bytes
  // A list that contains itself (EMPTY_LIST, BINPUT 0, BINGET 0, APPEND): torch.load reads it, but
  // a state dict never holds one, and a walk without a visited set would never end.
  CHECK_THAT(error_of(proto() + "]q\x00h\x00"s + "a."), Catch::Contains("contains itself"));
  // A longer cycle: B = [A]; then A.append(B).
  CHECK_THAT(error_of(proto() + "]q\x00"s + "]q\x01h\x00"s + "ah\x00h\x01"s + "a0."),
             Catch::Contains("changed after it was put inside another container"));
  // The same through a dict: d = {}; d['self'] = d.
  CHECK_THAT(error_of(proto() + "}q\x00"s + unicode("self") + "h\x00"s + "s."),
             Catch::Contains("contains itself"));

  // Nesting: 100 levels decode, 101 are refused, and a million (a ~2 KB stream whose recursive
  // destruction would overflow the stack) fail at once.
  const auto nested_lists = [](int depth) {
    return proto() + std::string(depth, ']') + std::string(depth - 1, 'a') + ".";
  };
  CHECK(decode(nested_lists(100)).isList());
  CHECK_THAT(error_of(nested_lists(101)), Catch::Contains("nested deeper than 100 levels"));
  CHECK_THAT(error_of(nested_lists(1000000)), Catch::Contains("nested deeper than 100 levels"));
  const auto nested_tuples = proto() + "N" + std::string(1000000, '\x85') + ".";
  CHECK_THAT(error_of(nested_tuples), Catch::Contains("nested deeper than 100 levels"));
  std::string nested_dicts = proto();
  for (int i = 0; i < 200000; ++i) nested_dicts += "}" + int1(0);
  nested_dicts += "N" + std::string(200000, 's') + ".";
  CHECK_THAT(error_of(nested_dicts), Catch::Contains("nested deeper than 100 levels"));

  // 64 levels of (x, x): 2^64 paths through 64 tuples. The global check visits each tuple once.
  std::string bomb = proto() + "N";
  for (int i = 0; i < 64; ++i) bomb += "q\x00h\x00\x86"s;
  bomb += ".";
  CHECK(decode(bomb).isTuple());
  // ... and still finds a bare global at the bottom of a shared structure.
  std::string hidden = proto() + global("torch", "FloatStorage");
  for (int i = 0; i < 64; ++i) hidden += "q\x00h\x00\x86"s;
  hidden += ".";
  CHECK_THAT(error_of(hidden), Catch::Contains("bare reference to torch.FloatStorage"));
}
