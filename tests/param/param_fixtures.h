// Shared helpers for the parameterization tests: configs built through the real schema, a model
// that has every role, and base/target ladders along each axis.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "../support/error_of.h"
#include "core/config.h"
#include "core/error.h"
#include "core/files.h"
#include "param/axes.h"
#include "param/json.h"
#include "param/resolve.h"
#include "param/table.h"
#include "train/schema.h"

namespace moet::testing {

using param::Axis;
using param::AxisValues;
using param::Parameterization;
using param::resolve_parameterization;

// Every role appears: learned positions, untied readout, linear biases, one dense and one MoE
// block per pair of blocks, one shared expert.
inline std::map<std::string, std::string> all_roles_model() {
  return {{"model.vocab", "128"},        {"model.seq", "64"},           {"model.d_head", "16"},
          {"model.tied_embed", "false"}, {"model.linear_bias", "true"}, {"model.moe_every", "2"},
          {"model.shared_experts", "1"}, {"optim.eps", "1e-8"},         {"optim.wd", "0.1"},
          {"optim.lr", "0.01"}};
}

constexpr AxisValues kBase = {{64, 64, 8, 2, 2}};  // N Ne M K L

inline Config make_config(const std::map<std::string, std::string>& sets) {
  Config config(full_config_schema());
  for (const auto& [key, value] : sets) config.set(key, value);
  return config;
}

// Resolves `preset` for the model with axes `target`, against the base shape `base`.
inline Parameterization resolve_for(const std::string& preset, const std::string& optimizer,
                                    const AxisValues& base, const AxisValues& target,
                                    std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> sets = all_roles_model();
  sets["param.preset"] = preset;
  sets["optim.name"] = optimizer;
  for (const Axis a : param::kAllAxes) {
    sets[std::string("model.") + param::axis_name(a)] = std::to_string(target[a]);
    sets[std::string("param.base.") + param::axis_name(a)] = std::to_string(base[a]);
  }
  for (const auto& [key, value] : extra) sets[key] = value;
  return resolve_parameterization(make_config(sets));
}

inline AxisValues scaled(AxisValues shape, const std::vector<Axis>& axes, int64_t factor) {
  for (const Axis a : axes) shape[a] *= factor;
  return shape;
}

struct Ladder {
  std::string name;
  AxisValues base, target;
};

// One ladder per axis (x4), M with K/M fixed; K alone changes kappa on purpose.
inline std::vector<Ladder> single_axis_ladders() {
  return {{"N", kBase, scaled(kBase, {Axis::N}, 4)},
          {"Ne", kBase, scaled(kBase, {Axis::Ne}, 4)},
          {"M at fixed K/M", kBase, scaled(kBase, {Axis::M, Axis::K}, 4)},
          {"K", kBase, scaled(kBase, {Axis::K}, 4)},
          {"L", kBase, scaled(kBase, {Axis::L}, 4)}};
}

inline Ladder regime_ladder(const std::string& regime) {
  if (regime == "I") return {"regime I", kBase, scaled(kBase, {Axis::N, Axis::Ne}, 4)};
  if (regime == "II") return {"regime II", kBase, scaled(kBase, {Axis::N, Axis::M, Axis::K}, 4)};
  return {"regime III", kBase, scaled(kBase, {Axis::N, Axis::Ne, Axis::M, Axis::K}, 4)};
}

// Index of the first tensor with `role`, inside blocks or not; -1 if none.
inline int first_tensor(const Parameterization& p, Role role, bool in_block) {
  for (size_t i = 0; i < p.tensors.size(); ++i)
    if (p.tensors[i].role == role && (p.tensors[i].layer >= 0) == in_block) return int(i);
  return -1;
}

// A scratch directory for user tables, removed with everything in it.
class TempDir {
 public:
  TempDir()
      : path_(std::filesystem::temp_directory_path() /
              ("moet_param_test_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string file = (path_ / name).string();
    write_file_atomic(file, text);
    return file;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace moet::testing
