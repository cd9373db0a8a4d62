// RunStatus: where a training run or a sweep trial stands, one list for the trainer
// (status.json), the sweep's database (trials.status) and the CLI. The text form exists only
// where those files are written and read.
#pragma once

#include <optional>
#include <string_view>

#include "core/enum_names.h"

namespace moet {

enum class RunStatus {
  pending,  // a sweep trial not started, or stopped by its sweep (not a result)
  running,
  stopped,  // --stop-after: checkpointed, continues with --resume
  done,
  diverged,
  failed,  // a sweep trial whose process failed; a run never writes it itself
};

inline constexpr EnumName<RunStatus> kRunStatuses[] = {
    {RunStatus::pending, "pending"},   {RunStatus::running, "running"},
    {RunStatus::stopped, "stopped"},   {RunStatus::done, "done"},
    {RunStatus::diverged, "diverged"}, {RunStatus::failed, "failed"}};

inline const char* name_of(RunStatus status) { return enum_name(status, kRunStatuses); }
inline std::optional<RunStatus> run_status_from(std::string_view name) {
  return enum_from_name(name, kRunStatuses);
}

// A finished run has its result and is not trained again.
inline bool is_finished(RunStatus status) {
  return status == RunStatus::done || status == RunStatus::diverged;
}

}  // namespace moet
