#include "param/guards.h"

#include <algorithm>

#include "core/error.h"

namespace moet::param {

namespace {

bool starts_at_zero(const TensorPlan& t) {
  return t.init == InitKind::zero || (t.init == InitKind::normal && t.init_std == 0);
}

}  // namespace

void reject_routing_collapse(const ModelConfig& target, const Parameterization& p) {
  if (target.K >= target.M) return;  // soft routing: no selection, nothing to collapse
  bool router_zero = false, bias_zero = false;
  for (size_t i = 0; i < p.tensors.size(); ++i) {
    if (p.tensors[i].role == Role::router) router_zero |= starts_at_zero(p.plan.tensors[i]);
    if (p.tensors[i].role == Role::route_bias) bias_zero |= starts_at_zero(p.plan.tensors[i]);
  }
  if (router_zero && bias_zero)
    fail("preset {}{}: router and route_bias both start at zero under top-K routing (K {} < M "
         "{}): every token would pick the same experts and routing collapses; give route_bias a "
         "random init (a std cell) or the router a non-zero std",
         p.preset, p.regime.empty() ? "" : " (regime " + p.regime + ")", target.K, target.M);
}

void add_ladder_warnings(const ModelConfig& target, const AxisValues& base,
                         std::vector<std::string>& warnings) {
  const AxisValues t = axis_values(target);
  if (target.has_moe() && base[Axis::K] * t[Axis::M] != t[Axis::K] * base[Axis::M])
    warnings.push_back(fmt::format(
        "kappa = K/M differs between base ({}/{} = {:.4g}) and target ({}/{} = {:.4g}): "
        "hyperparameters are not expected to transfer across kappa; keep K/M fixed along a "
        "ladder (paper 1 §3.2; docs/sources.md [P1-KAPPA])",
        base[Axis::K], base[Axis::M], double(base[Axis::K]) / double(base[Axis::M]), t[Axis::K],
        t[Axis::M], double(t[Axis::K]) / double(t[Axis::M])));
  bool has_dense = false;
  for (int64_t l = 0; l < target.L; ++l) has_dense |= !target.is_moe_block(l);
  if (has_dense && target.dense_Nf > 0 && base[Axis::N] != t[Axis::N])
    warnings.push_back(fmt::format(
        "model.dense_Nf is fixed at {} while N differs from the base ({} -> {}): the dense_* "
        "rules scale the dense width with N (leave model.dense_Nf = 0 for 4 N)",
        target.dense_Nf, base[Axis::N], t[Axis::N]));
  if (target.has_moe() && target.shared_experts > 0 && target.shared_Ne > 0 &&
      base[Axis::Ne] != t[Axis::Ne])
    warnings.push_back(fmt::format(
        "model.shared_Ne is fixed at {} while Ne differs from the base ({} -> {}): the shared_* "
        "rules scale the shared width with Ne (leave model.shared_Ne = 0 for Ne)",
        target.shared_Ne, base[Axis::Ne], t[Axis::Ne]));
}

void reject_unmet_requirements(const Preset& preset, const Config& config) {
  for (const auto& [key, value] : preset.required_settings) {
    const auto& schema = config.schema();
    const bool known = std::any_of(schema.begin(), schema.end(),
                                   [&](const KeySpec& spec) { return spec.key == key; });
    if (!known)
      fail("{}: requires {} = {}, a model feature moet does not implement; this preset cannot be "
           "trained as its source specifies",
           preset.origin, key, value);
    if (config.get_text(key) != value)
      fail("{}: requires {} = {} (the architecture its rules were derived for), but the config "
           "has {}; set --set {}={}",
           preset.origin, key, value, config.get_text(key), key, value);
  }
}

}  // namespace moet::param
