#include "sweep/trial_outcome.h"

#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "train/run_files.h"

namespace moet::sweep {

namespace {

// Python's json module writes NaN and Infinity unless told not to; say so rather than only that
// the file does not parse.
std::string json_hint(const std::string& text) {
  return text.find("NaN") != std::string::npos || text.find("Infinity") != std::string::npos
             ? " (NaN and Infinity are not JSON; write null for a number that is not finite)"
             : "";
}

nlohmann::json parse_line(const std::string& line, const std::string& where) {
  try {
    return nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not JSON{}: {}", where, json_hint(line), e.what());
  }
}

// A number, null (NaN: not finite), or absent when not `required`; anything else is an error.
double number_field(const nlohmann::json& json, const char* key, const std::string& where,
                    bool required) {
  const auto it = json.find(key);
  if (it == json.end()) {
    if (required) fail("{}: {}: missing (a number, or null when not finite)", where, key);
    return NAN;
  }
  if (it->is_null()) return NAN;
  if (!it->is_number()) fail("{}: {}: expected a number or null (got {})", where, key, it->dump());
  return it->get<double>();
}

int64_t count_field(const nlohmann::json& json, const char* key, const std::string& where) {
  const auto it = json.find(key);
  if (it == json.end()) fail("{}: {}: missing (an integer)", where, key);
  if (!it->is_number_integer() || it->get<int64_t>() < 0)
    fail("{}: {}: expected an integer >= 0 (got {})", where, key, it->dump());
  return it->get<int64_t>();
}

// The status file, checked: null when there is none.
nlohmann::json read_checked_status(const std::string& run_dir) {
  const std::string path = run_dir + "/status.json";
  nlohmann::json status;
  try {
    status = read_status(run_dir);
  } catch (const Error& e) {
    fail("{}{}", e.what(), json_hint(read_file(path)));
  }
  if (status.is_null()) return status;
  if (!status.is_object()) fail("{}: expected a JSON object", path);
  // Absent in files written before the field existed: those are version 1.
  if (const auto v = status.find("version"); v != status.end())
    if (!v->is_number_integer() || v->get<int64_t>() != kRunFilesVersion)
      fail("{}: version: {} is not one this moet reads ({})", path, v->dump(), kRunFilesVersion);
  return status;
}

// metrics.jsonl: the loss curve, and the tokens and extra validation losses of its last lines.
void read_curve(const std::string& run_dir, TrialOutcome& outcome) {
  const std::string path = run_dir + "/metrics.jsonl";
  if (!file_exists(path)) fail("{}: missing (a finished run logs at least its last step)", path);
  std::istringstream lines(read_file(path));
  std::string line;
  for (int64_t number = 1; std::getline(lines, line); ++number) {
    if (line.empty()) continue;
    const std::string where = fmt::format("{}:{}", path, number);
    const nlohmann::json j = parse_line(line, where);
    if (!j.is_object()) fail("{}: expected a JSON object", where);
    CurvePoint p;
    p.step = count_field(j, "step", where);
    p.tokens = count_field(j, "tokens", where);
    p.loss = number_field(j, "loss", where, true);
    p.val_loss = number_field(j, "val_loss", where, false);
    p.lr = number_field(j, "lr", where, false);
    if (!outcome.curve.empty() && outcome.curve.back().step >= p.step)
      fail("{}: step: {} does not follow step {}", where, p.step, outcome.curve.back().step);
    outcome.curve.push_back(p);
    outcome.tokens = p.tokens;
    if (j.contains("val_loss")) {
      outcome.val_extra = nlohmann::json::object();
      for (const auto& [key, value] : j.items())
        if (key.rfind("val_", 0) == 0 && key != "val_loss")
          outcome.val_extra[key.substr(4)] = number_field(j, key.c_str(), where, true);
    }
  }
}

}  // namespace

std::optional<TrialOutcome> read_trial_outcome(const std::string& run_dir) {
  const nlohmann::json status = read_checked_status(run_dir);
  if (status.is_null()) return std::nullopt;
  const std::string path = run_dir + "/status.json";
  const auto name = status.find("status");
  const std::optional<RunStatus> state = name != status.end() && name->is_string()
                                             ? run_status_from(name->get<std::string>())
                                             : std::nullopt;
  if (!state || *state == RunStatus::pending || *state == RunStatus::failed)
    fail("{}: status: expected running, stopped, done or diverged (got {})", path,
         name == status.end() ? std::string("nothing") : name->dump());
  if (!is_finished(*state)) return std::nullopt;

  TrialOutcome outcome;
  outcome.status = *state;
  outcome.steps = count_field(status, "steps", path);
  outcome.train_loss = number_field(status, "train_loss", path, true);
  outcome.val_loss = number_field(status, "val_loss", path, true);
  outcome.tokens_per_s = number_field(status, "tokens_per_s", path, true);
  read_curve(run_dir, outcome);
  // A run that says done with a loss that is not finite diverged, whatever its trainer thought.
  if (outcome.status == RunStatus::done)
    for (const char* key : {"train_loss", "val_loss"})
      if (!std::isfinite(number_field(status, key, path, true))) {
        outcome.status = RunStatus::diverged;
        outcome.error = fmt::format("{}: status done, but {} is not finite", path, key);
      }
  return outcome;
}

}  // namespace moet::sweep
