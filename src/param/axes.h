// The five scaling axes of docs/design.md §1 (N, Ne, M, K, L) and a shape's values along them.
//
// Every rule in param/ is a power law in these axes, so base and target shapes are compared as
// AxisValues, never as whole ModelConfigs: the other model.* keys (vocab, d_head, ...) are the
// same for base and target by construction.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/config.h"

namespace moet::param {

enum class Axis { N, Ne, M, K, L };
constexpr int kAxes = 5;
constexpr std::array<Axis, kAxes> kAllAxes = {Axis::N, Axis::Ne, Axis::M, Axis::K, Axis::L};

inline const char* axis_name(Axis axis) {
  constexpr const char* names[kAxes] = {"N", "Ne", "M", "K", "L"};
  return names[int(axis)];
}

// The axis called `name` (exactly N, Ne, M, K or L), or nullopt. The one reading of an axis
// name: a sweep's `axes = ["M"]` and `moet coord --axis M` both mean M alone.
inline std::optional<Axis> axis_named(const std::string& name) {
  for (const Axis a : kAllAxes)
    if (name == axis_name(a)) return a;
  return std::nullopt;
}

struct AxisValues {
  std::array<int64_t, kAxes> values{};

  int64_t operator[](Axis axis) const { return values[int(axis)]; }
  int64_t& operator[](Axis axis) { return values[int(axis)]; }
  bool operator==(const AxisValues&) const = default;
};

inline AxisValues axis_values(const ModelConfig& c) { return {{c.N, c.Ne, c.M, c.K, c.L}}; }

// c with its axes replaced by those of shape (everything else kept).
inline ModelConfig with_axes(ModelConfig c, const AxisValues& shape) {
  c.N = shape[Axis::N];
  c.Ne = shape[Axis::Ne];
  c.M = shape[Axis::M];
  c.K = shape[Axis::K];
  c.L = shape[Axis::L];
  return c;
}

inline std::vector<Axis> differing_axes(const AxisValues& base, const AxisValues& target) {
  std::vector<Axis> out;
  for (const Axis a : kAllAxes)
    if (base[a] != target[a]) out.push_back(a);
  return out;
}

// "N=64 Ne=64 M=8 K=2 L=2": shape along `axes` (all five unless given), in the order given.
inline std::string shape_text(const AxisValues& shape,
                              const std::vector<Axis>& axes = {kAllAxes.begin(), kAllAxes.end()}) {
  std::string out;
  for (const Axis a : axes) {
    if (!out.empty()) out += ' ';
    out += std::string(axis_name(a)) + "=" + std::to_string(shape[a]);
  }
  return out;
}

inline std::string axis_list(const std::vector<Axis>& axes) {
  std::string out;
  for (const Axis a : axes) {
    if (!out.empty()) out += ", ";
    out += axis_name(a);
  }
  return out.empty() ? "none" : out;
}

}  // namespace moet::param
