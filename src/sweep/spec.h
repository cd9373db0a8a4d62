// The sweep spec: a TOML file naming the base shape and fixed settings, the ladders, the presets,
// the grids of global hyperparameters, the seeds and the token budget (docs/sweeps.md).
//
//   [config]                     any `moet train` keys; its model.* shape is the base
//   [budget] tokens = 400_000    optional: train.steps = tokens / (batch x accum x seq)
//   [grid]   lr_log2 = { from = -10, to = -4, step = 1 }   (or lr = [...]), init_std, seeds
//   [[preset]] name = "sp"       optional lr_log2 / lr / init_std and [preset.config] per preset
//   [[ladder]] name = "width", axes = ["N", "Ne"], scales = [1, 2, 4]   optional [ladder.config]
//              axes may also be "1/Ne" (shrinks as the scale grows), "tokens" or "batch"
//              (sweep/ladder_axis.h)
//   ranks = 2                    optional: every trial trains data parallel on 2 MPI ranks
//
// expand_sweep turns it into trials: every preset x ladder x scale x init_std x LR x seed, each
// a complete `moet train` config with param.base.* pinned to the base shape so every scale
// resolves relative to it. A config that several ladders share (the base itself, usually) is one
// trial standing on several ladder points, trained once. Bad input is one line naming the spec
// and the field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "param/axes.h"
#include "sweep/ladder_axis.h"

namespace moet::sweep {

struct PresetSpec {
  std::string name;               // param.preset: a built-in name or a path
  std::vector<double> lrs;        // empty: the [grid] LRs
  std::vector<double> init_stds;  // empty: the [grid] init stds
  std::vector<std::string> sets;  // [preset.config] as key=value
};

struct LadderSpec {
  std::string name;
  std::vector<LadderAxis> axes;   // multiplied (1/Ne: divided) together by each scale
  std::vector<double> scales;     // multipliers of the base's values along the axes
  std::vector<int64_t> seeds;     // replaces [grid] seeds on this ladder when not empty
  std::vector<std::string> sets;  // [ladder.config] as key=value
};

// [trainer] command: the program that trains each trial instead of `moet train`
// (sweep/trainer_command.h).
struct TrainerCommand {
  std::string text;                // the template as written; empty: `moet train`
  std::vector<std::string> words;  // split; placeholders unfilled, "{{" and "}}" kept
  bool empty() const { return text.empty(); }
};

struct SweepSpec {
  std::string source;  // the file (for messages)
  std::string text;    // the spec as written (stored in the results database)
  std::string name;
  std::vector<std::string> base_sets;  // [config] as key=value (train.threads removed)
  int64_t threads = 0;                 // [config] train.threads, the runner's default if given
  int64_t tokens = 0;                  // [budget] tokens per trial; 0: train.steps as configured
  int ranks = 1;                       // top-level ranks: data-parallel ranks of every trial
  std::vector<double> lrs;             // [grid]
  std::vector<double> init_stds;       // [grid]; empty: param.init_std as configured
  std::vector<int64_t> seeds;          // [grid]; default {1}
  std::vector<PresetSpec> presets;
  std::vector<LadderSpec> ladders;
  TrainerCommand trainer;  // [trainer]; empty: trials run `moet train`
};

SweepSpec parse_sweep_spec(const std::string& toml_text, const std::string& source);
SweepSpec load_sweep_spec(const std::string& path);

struct LadderPoint {
  std::string ladder;
  std::string axes;  // "N,Ne" (ladder_axes_text)
  double scale = 1;
};

struct Trial {
  int64_t index = 0;  // position in the expansion: `moet sweep SPEC --trial index`
  std::string key;    // readable and unique: preset, shape, LR, seed and a hash of the config
  std::string preset;
  double lr = 0;
  double init_std = 0;  // param.init_std of the trial (0: the preset's default)
  int64_t seed = 1;
  param::AxisValues shape;
  std::vector<std::string> sets;  // the whole trial config as --set assignments
  std::string config_toml;        // the full resolved config: the trial's identity
  double flops = 0;               // training FLOPs, to start the longest trials first
  std::vector<LadderPoint> points;
};

struct Expansion {
  param::AxisValues base;
  std::vector<Trial> trials;
  std::string hash;  // of every trial key in order: equal expansions, equal hashes
};

// Validates every (preset, ladder, scale) config by resolving its parameterization and by
// splitting its train.batch over the spec's ranks; presets with regime rules get param.regime
// from the ladder's axes when the spec leaves it auto.
Expansion expand_sweep(const SweepSpec& spec);

// The argv after the binary for one trial: train --quiet --out RUN_DIR --set k=v ...
std::vector<std::string> trial_command(const Trial& trial, const std::string& run_dir,
                                       int64_t threads);
// "a b 'c d'": argv quoted for a POSIX shell.
std::string shell_quote(const std::vector<std::string>& argv);

// FNV-1a 64 of bytes, as 16 hex digits: names trials and expansions, not a security hash.
std::string fnv1a_hex(const std::string& bytes);

}  // namespace moet::sweep
