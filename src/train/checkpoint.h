// Checkpoints: everything needed to continue a run bit for bit.
//
// A run directory holds versioned checkpoint directories ckpt-<step>/ (model.safetensors with
// the config and the resolved parameterization in its metadata, optimizer.safetensors with the
// Adam moments, state.json with the step, data position and divergence tracker) and a file
// `latest` naming the newest complete one. A checkpoint is written and flushed under a temporary
// name (ckpt-<step>.tmp.<pid>), renamed to ckpt-<step>, then `latest` is atomically replaced to
// point at it, and only then is the previous one removed, so a run killed at any moment — even
// mid-write — leaves a complete checkpoint that `latest` names.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "model/layout.h"

namespace moet {

struct Checkpoint {
  int64_t step = 0;                                // optimizer steps done
  std::string config_toml;                         // the full config of the run
  nlohmann::json parameterization;                 // param::to_json of the resolved table
  std::vector<float> params;                       // flat, model_tensors() order
  std::vector<float> first_moment, second_moment;  // optimizer state (second empty for SGD)
  int64_t optimizer_steps = 0;
  nlohmann::json state;  // loader position, divergence tracker, ...
};

void save_checkpoint(const std::string& run_dir, const std::vector<TensorInfo>& tensors,
                     const Checkpoint& checkpoint);
bool has_checkpoint(const std::string& run_dir);
// Removes every ckpt-* directory but the one `latest` names (all of them when there is none):
// what a run killed between publishing a checkpoint and removing the previous one left.
void remove_stale_checkpoints(const std::string& run_dir);
// Throws Error naming the file when anything is missing, corrupt or does not match `tensors`.
Checkpoint load_checkpoint(const std::string& run_dir, const std::vector<TensorInfo>& tensors);
// Only the metadata (config and parameterization), for tools that inspect a run.
Checkpoint load_checkpoint_metadata(const std::string& run_dir);

}  // namespace moet
