#include "sweep/trial_outcome.h"

#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "train/run_files.h"

namespace moet::sweep {

namespace {

double number_or_nan(const nlohmann::json& json, const char* key) {
  const auto it = json.find(key);
  return it != json.end() && it->is_number() ? it->get<double>() : NAN;
}

}  // namespace

std::optional<TrialOutcome> read_trial_outcome(const std::string& run_dir) {
  nlohmann::json status;
  try {
    status = read_status(run_dir);
  } catch (const Error&) {
    return std::nullopt;  // a torn status cannot happen (atomic writes), but a foreign file can
  }
  if (!status.is_object()) return std::nullopt;
  const std::optional<RunStatus> state = run_status_from(status.value("status", ""));
  if (!state || !is_finished(*state)) return std::nullopt;

  TrialOutcome outcome;

  outcome.steps = status.value("steps", int64_t(0));
  outcome.train_loss = number_or_nan(status, "train_loss");
  outcome.val_loss = number_or_nan(status, "val_loss");
  outcome.tokens_per_s = number_or_nan(status, "tokens_per_s");

  const std::string metrics_path = run_dir + "/metrics.jsonl";
  if (file_exists(metrics_path)) {
    std::istringstream lines(read_file(metrics_path));
    std::string line;
    while (std::getline(lines, line)) {
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception&) {
        continue;  // a line cut short by a kill
      }
      if (!j.is_object() || !j.contains("step")) continue;
      CurvePoint p;
      p.step = j.value("step", int64_t(0));
      p.tokens = j.value("tokens", int64_t(0));
      p.loss = number_or_nan(j, "loss");
      p.val_loss = number_or_nan(j, "val_loss");
      p.lr = number_or_nan(j, "lr");
      if (!outcome.curve.empty() && outcome.curve.back().step >= p.step) continue;
      outcome.curve.push_back(p);
      outcome.tokens = p.tokens;
      if (j.contains("val_loss")) {
        outcome.val_extra = nlohmann::json::object();
        for (const auto& [key, value] : j.items())
          if (key.rfind("val_", 0) == 0 && key != "val_loss" && value.is_number())
            outcome.val_extra[key.substr(4)] = value;
      }
    }
  }
  outcome.status = *state;
  return outcome;
}

}  // namespace moet::sweep
