// The files of a run directory other than checkpoints: metrics.jsonl (one JSON object per
// line: training lines carry "loss", validation lines "val_loss"), status.json (what state the
// run is in, for sweeps and scripts), config.toml and parameterization.json.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <string>

#include "train/run_status.h"

namespace moet {

// Appends lines; each line is flushed so a killed run keeps what it logged.
class MetricsLog {
 public:
  // Keeps the lines of steps <= keep_through_step (resume: lines past the checkpoint will be
  // written again) and appends after them; keep_through_step < 0 starts empty.
  MetricsLog(const std::string& path, int64_t keep_through_step);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  void write(const nlohmann::json& line);

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

// The version of the run files' schema (docs/trainer-protocol.md), written into status.json: a
// sweep's own trainer writes the same files, and a reader refuses a version it does not know.
inline constexpr int kRunFilesVersion = 1;

// status: running | stopped | done | diverged
void write_status(const std::string& run_dir, RunStatus status, const nlohmann::json& details);
// The status file's JSON, or null when there is none.
nlohmann::json read_status(const std::string& run_dir);

}  // namespace moet
