// A sweep's own trainer: `[trainer] command = "python3 train.py --config {config} --out {out}"`
// runs that command for every trial instead of `moet train` (docs/trainer-protocol.md).
//
// The template is split into words the way a shell would split plain words and quotes, but no
// shell runs it: a path with spaces filled into {out} stays one argument, and shell syntax (pipes,
// redirections, variables) is refused rather than passed on as text. Placeholders are checked
// when the spec is read, so an unknown one stops the sweep before any trial runs.
//
// A trainer trial gets its inputs as files in its run directory, written by the sweep before the
// command starts: the full resolved config (TOML, the same keys `moet train` takes) and the
// per-tensor table moet resolved for it (JSON, as `moet params --json` prints it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sweep/spec.h"

namespace moet::sweep {

// The placeholders a template may use, in the order the docs list them.
inline constexpr const char* kTrainerPlaceholders[] = {"config", "table", "out", "threads", "seed"};

// The files the sweep writes into a trainer trial's run directory.
inline constexpr const char* kTrainerConfigFile = "trial-config.toml";
inline constexpr const char* kTrainerTableFile = "trial-table.json";

// Splits and checks a template; throws Error "<where>: <what>" on an empty command, an unknown
// placeholder, an unclosed brace or quote, shell syntax, or a program that cannot be found.
TrainerCommand parse_trainer_command(const std::string& text, const std::string& where);

// The trainer's argv for one trial, program first, placeholders filled. threads 0 (the count is
// not known yet: the database and --dry-run) leaves {threads} as written.
std::vector<std::string> trainer_argv(const TrainerCommand& trainer, const Trial& trial,
                                      const std::string& run_dir, int64_t threads);

// The trial's command as the database stores it and --dry-run prints it: `moet`'s argv after the
// binary (trial_command), or the trainer's whole argv with {threads} unfilled.
std::vector<std::string> stored_command(const TrainerCommand& trainer, const Trial& trial,
                                        const std::string& run_dir);

// Writes the trial's config (with train.threads when threads > 0) and its resolved table into
// run_dir, atomically; the table byte for byte as `moet params --json` prints it.
void write_trainer_inputs(const Trial& trial, const std::string& run_dir, int64_t threads);

// The executable `program` names: itself when it holds a '/', else the first match on PATH;
// "" when there is none.
std::string find_program(const std::string& program);

}  // namespace moet::sweep
