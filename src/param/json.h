// to_json / from_json: the resolved parameterization as stored in checkpoints and
// parameterization.json, so a reloaded run keeps exactly these numbers.
#pragma once

#include <nlohmann/json.hpp>

#include "model/config.h"
#include "param/resolve.h"

namespace moet::param {

// Every number with full precision (bit-identical on reload).
nlohmann::json to_json(const Parameterization& p);
// Rebuilds a stored parameterization for the model `config` describes; throws Error naming the
// first missing or mismatched field (never falls back to anything).
Parameterization from_json(const nlohmann::json& json, const ModelConfig& config);

}  // namespace moet::param
