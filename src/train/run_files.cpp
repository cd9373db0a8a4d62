#include "train/run_files.h"

#include <cerrno>
#include <cstring>
#include <sstream>

#include "core/error.h"
#include "core/fault.h"
#include "core/files.h"

namespace moet {

MetricsLog::MetricsLog(const std::string& path, int64_t keep_through_step) : path_(path) {
  std::string kept;
  if (keep_through_step >= 0 && file_exists(path)) {
    std::istringstream in(read_file(path));
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      try {
        const auto json = nlohmann::json::parse(line);
        if (json.value("step", int64_t(-1)) <= keep_through_step) kept += line + "\n";
      } catch (const nlohmann::json::exception&) {
        // A line cut short by a kill: dropped, the step will be logged again.
      }
    }
  }
  write_file_atomic(path, kept);
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) fail("{}: cannot open for appending ({})", path, std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::write(const nlohmann::json& line) {
  const std::string text = line.dump() + "\n";
  if (fault_due("metrics.torn")) {  // test hook: a kill in the middle of a line
    std::fwrite(text.data(), 1, text.size() / 2, file_);
    std::fflush(file_);
    fault_kill("metrics.torn");
  }
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0)
    fail("{}: write failed ({})", path_, std::strerror(errno));
}

void write_status(const std::string& run_dir, RunStatus status, const nlohmann::json& details) {
  nlohmann::json json = details;
  json["status"] = name_of(status);
  json["version"] = kRunFilesVersion;
  write_file_atomic(run_dir + "/status.json", json.dump(1) + "\n");
}

nlohmann::json read_status(const std::string& run_dir) {
  const std::string path = run_dir + "/status.json";
  if (!file_exists(path)) return nullptr;
  try {
    return nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: corrupt ({})", path, e.what());
  }
}

}  // namespace moet
