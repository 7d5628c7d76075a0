#include "qme/train/run_log.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "qme/core/error.hpp"
#include "qme/io/text_file.hpp"

namespace qme::train {

namespace fs = std::filesystem;

RunLog::RunLog(std::string path, int64_t keep_bytes) : path_(std::move(path)) {
  if (keep_bytes >= 0) {
    std::error_code ec;
    const auto size = fs::exists(path_) ? static_cast<int64_t>(fs::file_size(path_, ec)) : -1;
    if (ec || size < keep_bytes) {
      throw InputError(path_, "",
                       "is shorter than the " + std::to_string(keep_bytes) +
                           " bytes recorded in state.json: the run folder was changed since the checkpoint");
    }
    fs::resize_file(path_, static_cast<uintmax_t>(keep_bytes), ec);
    if (ec) throw InputError(path_, "", "cannot be cut to its checkpointed length: " + ec.message());
    bytes_ = keep_bytes;
    out_.open(path_, std::ios::binary | std::ios::app);
  } else {
    out_.open(path_, std::ios::binary | std::ios::trunc);
  }
  if (!out_) throw InputError(path_, "", "cannot be opened for writing");
}

void RunLog::write(const nlohmann::json& record) {
  const std::string line = record.dump() + "\n";
  out_ << line;
  bytes_ += static_cast<int64_t>(line.size());
  if (!out_) throw InputError(path_, "", "cannot be written");
}

int64_t RunLog::flush() {
  out_.flush();
  if (!out_) throw InputError(path_, "", "cannot be written");
  return bytes_;
}

nlohmann::json to_json(const RunState& s) {
  nlohmann::json j;
  j["format"] = 1;
  j["steps_done"] = s.steps_done;
  j["log_bytes"] = s.log_bytes;
  j["trainer_state"] = s.trainer_state;
  j["evaluations"] = s.evaluations;
  j["has_best"] = s.has_best;
  j["best_overall"] = s.best_overall;
  j["best_step"] = s.best_step;
  j["best_model"] = s.best_model;
  j["best_metrics"] = s.best_metrics.is_null() ? nlohmann::json::object() : s.best_metrics;
  j["early_stop_counter"] = s.early_stop_counter;
  j["finished"] = s.finished;
  j["stop_reason"] = s.stop_reason;
  j["final_checkpoint"] = s.final_checkpoint;
  j["outputs"] = s.outputs;
  j["settings"] = s.settings;
  return j;
}

namespace {

template <typename T>
T field(const nlohmann::json& j, const char* key, const std::string& source) {
  if (!j.contains(key)) throw InputError(source, key, "is missing");
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception& e) {
    const std::string what = e.what();  // "[json.exception.type_error.302] type must be ..."
    const auto tag = what.find("] ");
    throw InputError(source, key,
                     "has the wrong type: " + what.substr(tag == std::string::npos ? 0 : tag + 2));
  }
}

}  // namespace

RunState run_state_from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw InputError(source, "", "is not a JSON object");
  if (field<int64_t>(j, "format", source) != 1) throw InputError(source, "format", "is not 1");
  RunState s;
  s.steps_done = field<int64_t>(j, "steps_done", source);
  s.log_bytes = field<int64_t>(j, "log_bytes", source);
  s.trainer_state = field<std::string>(j, "trainer_state", source);
  s.evaluations = field<int64_t>(j, "evaluations", source);
  s.has_best = field<bool>(j, "has_best", source);
  s.best_overall = field<double>(j, "best_overall", source);
  s.best_step = field<int64_t>(j, "best_step", source);
  s.best_model = field<std::string>(j, "best_model", source);
  s.best_metrics = j.contains("best_metrics") ? j.at("best_metrics") : nlohmann::json::object();
  s.early_stop_counter = field<int64_t>(j, "early_stop_counter", source);
  s.finished = field<bool>(j, "finished", source);
  s.stop_reason = field<std::string>(j, "stop_reason", source);
  s.final_checkpoint = field<std::string>(j, "final_checkpoint", source);
  s.outputs = field<std::vector<std::string>>(j, "outputs", source);
  s.settings = j.contains("settings") ? j.at("settings") : nlohmann::json::object();
  return s;
}

void write_run_state(const std::string& path, const RunState& state) {
  io::write_text_file(path, to_json(state).dump(2) + "\n");
}

RunState read_run_state(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "does not exist or cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() quotes what it read, which can be the whole file: name the place instead.
    const auto size = text.str().size();
    throw InputError(path, "",
                     e.byte > size ? "is not valid JSON: its " + std::to_string(size) + " bytes are cut short"
                                   : "is not valid JSON: it is damaged at byte " + std::to_string(e.byte));
  }
  return run_state_from_json(j, path);
}

std::string describe_settings_change(const nlohmann::json& before, const nlohmann::json& now,
                                     const std::vector<std::string>& ignored) {
  std::string out;
  auto note = [&](const std::string& key, const nlohmann::json& a, const nlohmann::json& b) {
    if (std::find(ignored.begin(), ignored.end(), key) != ignored.end() || a == b) return;
    out += (out.empty() ? "" : "; ") + key + ": was " + (a.is_null() ? "unset" : a.dump()) + ", now " +
           (b.is_null() ? "unset" : b.dump());
  };
  for (const auto& [key, value] : before.items())
    note(key, value, now.contains(key) ? now.at(key) : nlohmann::json());
  for (const auto& [key, value] : now.items()) {
    if (!before.contains(key)) note(key, nlohmann::json(), value);
  }
  return out;
}

}  // namespace qme::train
