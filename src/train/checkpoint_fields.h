// The fields a checkpoint's files hold, validated as they are read: every value taken from
// model.safetensors' metadata and from state.json is checked for presence, type and range, and a
// bad one is reported as "<file>: field <name>: <what is wrong>" (the tensors themselves are
// checked by the safetensors reader and against the model's layout).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>

#include "param/resolve.h"
#include "train/checkpoint.h"

namespace moet {

// A decimal integer stored as a metadata string ("step": "1200"), within [0, INT64_MAX].
int64_t metadata_integer(const std::map<std::string, std::string>& metadata, const std::string& key,
                         const std::string& path);

// The fields of state.json that a resumed run reads back: first_loss, smoothed_loss and the
// training loader's position (data/dataset.h, BatchLoader::State). Throws Error naming the file
// and the first bad field.
void validate_checkpoint_state(const nlohmann::json& state, const std::string& path);

// The parameterization stored in a checkpoint's metadata, rebuilt for `model` (param/resolve.h,
// from_json); a bad field is an Error naming the run as well as the field.
param::Parameterization stored_parameterization(const Checkpoint& checkpoint,
                                                const ModelConfig& model,
                                                const std::string& run_dir);

}  // namespace moet
