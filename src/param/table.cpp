// format_table: the resolved parameterization as a human table (`moet params`, start of training).
#include <fmt/format.h>

#include <algorithm>

#include "param/table.h"

namespace moet::param {

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out;
  for (const int64_t d : shape) {
    if (!out.empty()) out += 'x';
    out += std::to_string(d);
  }
  return out;
}

std::string axes_text(const param::AxisValues& a) {
  std::string out;
  for (const auto axis : param::kAllAxes)
    out += fmt::format("{} {:<6}", param::axis_name(axis), a[axis]);
  return out + fmt::format("kappa {:.4g}", double(a[param::Axis::K]) / double(a[param::Axis::M]));
}

std::string run_text(const RunHorizon& r) {
  return fmt::format("   tokens {}   batch {}", r.tokens, r.batch);
}

std::string init_text(const TensorPlan& t) {
  switch (t.init) {
    case InitKind::zero: return "zero";
    case InitKind::one: return "one";
    case InitKind::normal: break;
  }
  return fmt::format("{} {:.4g}", t.tied_across_experts ? "tied" : "normal", t.init_std);
}

// Muon runs add a column: how each tensor moves.
std::string update_text(const TensorInfo& t, const TensorHyper& h) {
  if (!t.trainable) return "-";
  if (!h.orthogonalised) return "adamw";
  return h.norm_preserved ? "muon-sphere" : "muon";
}

}  // namespace

std::string format_table(const Parameterization& p) {
  const bool sgd = p.optimizer == OptimizerKind::sgd;
  std::string out;
  out += fmt::format("preset     {}\n", p.preset);
  if (!p.source.empty()) out += fmt::format("source     {}\n", p.source);
  out += fmt::format("regime     {}   depth {}   optimizer {}\n", p.regime.empty() ? "-" : p.regime,
                     p.depth, name_of(p.optimizer));
  // The run columns appear where they matter: a rule in D or B, or a run unlike its base.
  const bool run = p.run_rules_used || p.base_run != p.target_run;
  out += fmt::format("base       {}{}\n", axes_text(p.base), run ? run_text(p.base_run) : "");
  out += fmt::format("target     {}{}\n", axes_text(p.target), run ? run_text(p.target_run) : "");
  out +=
      fmt::format("globals    sigma0 {:.4g}   eta {:.4g}   eps0 {:.4g}   wd0 {:.4g}   "
                  "eta_bias {:.4g}\n",
                  p.globals.init_std, p.globals.lr, p.globals.eps, p.globals.wd, p.globals.bias_lr);
  const BlockPlan& b = p.plan.block;
  out += fmt::format("block      residual {:.4g}   attn_logit_scale {:.4g}   aggregation {:.4g}   "
                     "readout {:.4g}\n\n",
                     b.residual_mult, b.attn_logit_scale, b.aggregation_mult, b.readout_mult);

  size_t name_width = 6;
  for (const auto& t : p.tensors) name_width = std::max(name_width, t.name.size());
  const bool muon = p.optimizer == OptimizerKind::muon;
  const auto row = [&](const std::string& name, const std::string& role, const std::string& shape,
                       const std::string& init, const std::string& mult, const std::string& lr,
                       const std::string& eps, const std::string& wd, const std::string& update) {
    if (muon)
      return fmt::format("{:<{}}  {:<11}  {:<12}  {:<17}  {:<6}  {:<10}  {:<10}  {:<10}  {}\n",
                         name, name_width, role, shape, init, mult, lr, eps, wd, update);
    return fmt::format("{:<{}}  {:<11}  {:<12}  {:<17}  {:<6}  {:<10}  {:<10}  {}\n", name,
                       name_width, role, shape, init, mult, lr, eps, wd);
  };
  out += row("tensor", "role", "shape", "init", "mult", "lr", "eps", "wd", "update");
  bool has_route_bias = false;
  for (size_t i = 0; i < p.tensors.size(); ++i) {
    const TensorInfo& t = p.tensors[i];
    const TensorPlan& plan = p.plan.tensors[i];
    const TensorHyper& h = p.hyper[i];
    has_route_bias |= !t.trainable;
    out += row(t.name, role_name(t.role), shape_text(t.shape), init_text(plan),
               fmt::format("{:.4g}", plan.multiplier),
               fmt::format("{:.4g}{}", h.lr, t.trainable ? "" : "*"),
               sgd || !t.trainable || h.orthogonalised ? "-" : fmt::format("{:.4g}", h.eps),
               t.trainable ? fmt::format("{:.4g}", h.wd) : "-", update_text(t, h));
  }
  if (has_route_bias)
    out += "* route_bias is moved by the balancing rule, not the optimizer: its lr is eta_bias, "
           "constant (the LR schedule does not scale it)\n";
  for (const auto& w : p.warnings) out += fmt::format("warning: {}\n", w);
  return out;
}

}  // namespace moet::param
