#include "param/resolve.h"

#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "model/init.h"
#include "param/guards.h"
#include "param/preset.h"
#include "param/regime.h"

namespace moet::param {

namespace {

using param::Axis;
using param::AxisValues;
using param::Rule;
using param::RuleScope;
using param::RuleSet;
using param::Symbol;

// One tensor's cells: its role's row (regime cells included) times the depth factors when the
// tensor sits inside a block. lr is the column of the optimizer in use; under Muon that is
// muon_lr for the roles that have one (orthogonalised), adam_lr (AdamW) for the others.
struct Cells {
  param::InitRule init;
  bool tied = false;
  bool orthogonalised = false, norm_preserved = false;
  Rule mult, lr, eps, wd;
};

const char* lr_column_name(bool sgd, bool orthogonalised) {
  return sgd ? "sgd_lr" : orthogonalised ? "muon_lr" : "adam_lr";
}

Cells cells_for(const RuleSet& rules, const RuleSet& depth, const TensorInfo& t,
                OptimizerKind optimizer, const std::string& origin) {
  const auto row_it = rules.roles.find(t.role);
  if (row_it == rules.roles.end())
    fail("{}: no row for role {}, which this model uses ({})", origin, role_name(t.role), t.name);
  const param::RoleRules& row = row_it->second;
  if (!row.init) fail("{}: role {}: no std cell", origin, role_name(t.role));
  if (row.sphere.value_or(false) && !row.muon_lr)
    fail("{}: role {}, field sphere: only matrices Muon updates keep their norm, and the role has "
         "no muon_lr cell (sphere = true); add a muon_lr cell or remove this one",
         origin, role_name(t.role));
  const bool sgd = optimizer == OptimizerKind::sgd;
  const bool orthogonalised = optimizer == OptimizerKind::muon && row.muon_lr.has_value();
  const std::optional<Rule>& lr = sgd ? row.sgd_lr : orthogonalised ? row.muon_lr : row.adam_lr;
  if (!lr)
    fail("{}: role {}: no {} cell (needed for optim.name = {})", origin, role_name(t.role),
         lr_column_name(sgd, orthogonalised),
         sgd ? "sgd" : "adam|adamw, and muon for roles without muon_lr");
  Cells c{*row.init,
          row.tied.value_or(false),
          orthogonalised,
          orthogonalised && row.sphere.value_or(false),
          row.mult.value_or(Rule(1)),
          *lr,
          row.eps.value_or(Rule(1)),
          row.wd.value_or(Rule(1))};
  const auto factor_it = depth.roles.find(t.role);
  if (t.layer < 0 || factor_it == depth.roles.end()) return c;
  const param::RoleRules& f = factor_it->second;
  const std::optional<Rule>& lr_factor = sgd ? f.sgd_lr : orthogonalised ? f.muon_lr : f.adam_lr;
  if (f.init && c.init.kind == InitKind::normal) c.init.std = c.init.std * f.init->std;
  if (f.mult) c.mult = c.mult * *f.mult;
  if (lr_factor) c.lr = c.lr * *lr_factor;
  if (f.eps) c.eps = c.eps * *f.eps;
  if (f.wd) c.wd = c.wd * *f.wd;
  return c;
}

// H_act: the widths every token passes through, routed (K Ne) and shared.
double active_width(const ModelConfig& c) {
  return double(c.K * c.Ne + c.shared_experts * c.shared_width());
}

bool uses_run_symbols(const Rule& rule) { return rule.uses(Symbol::D) || rule.uses(Symbol::B); }

bool uses_run_symbols(const Cells& c) {
  return uses_run_symbols(c.init.std) || uses_run_symbols(c.mult) || uses_run_symbols(c.lr) ||
         uses_run_symbols(c.eps) || uses_run_symbols(c.wd);
}

bool uses_run_symbols(const param::BlockRules& b) {
  for (const std::optional<Rule>* cell : {&b.residual, &b.attn_scale, &b.aggregation, &b.readout})
    if (*cell && uses_run_symbols(**cell)) return true;
  return false;
}

// A rule scope of the target against the base: shape and run ratios; no tensor.
RuleScope target_scope(const Parameterization& p, const ModelConfig& target) {
  RuleScope scope{p.target, p.base, target.d_head};
  scope.active_width = active_width(target);
  scope.tokens_ratio = double(p.target_run.tokens) / double(p.base_run.tokens);
  scope.batch_ratio = double(p.target_run.batch) / double(p.base_run.batch);
  return scope;
}

double checked(double value, const std::string& what) {
  if (!std::isfinite(value)) fail("parameterization: {} evaluates to {}", what, value);
  return value;
}

double block_value(const std::optional<Rule>& cell, const std::optional<Rule>& depth_factor,
                   const char* default_rule, const RuleScope& scope, const char* what) {
  Rule rule = cell ? *cell : Rule::parse(default_rule);
  if (depth_factor) rule = rule * *depth_factor;
  return checked(rule.eval(scope), fmt::format("block {} '{}'", what, rule.text()));
}

param::Preset load_named_preset(const std::string& name) {
  try {
    return param::load_preset(name);
  } catch (const Error& e) {
    fail("param.preset: {}", e.what());
  }
}

// The preset's rules, with the regime's cells laid over them when the preset has regimes (the
// regime is param.regime, or inferred from the ladder and recorded with its warnings in p).
RuleSet rules_in_regime(const param::Preset& preset, const std::string& regime_setting,
                        Parameterization& p) {
  RuleSet rules = preset.rules;
  if (!preset.regimes.empty()) {
    p.regime = param::choose_regime(regime_setting, preset.name, p.base, p.target, p.warnings);
    if (const auto it = preset.regimes.find(p.regime); it != preset.regimes.end())
      param::overlay(rules, it->second);
  } else {
    require_choice("param.regime", regime_setting, param::regime_settings());
  }
  return rules;
}

std::string cell_text(const TensorInfo& t, const char* field, const Rule& rule) {
  return fmt::format("{} {} '{}'", t.name, field, rule.text());
}

// The tensor's init (a normal whose std evaluates to 0 becomes zero) and forward multiplier.
TensorPlan tensor_plan(const TensorInfo& t, const Cells& c, const RuleScope& at, double init_std) {
  TensorPlan plan;
  plan.init = c.init.kind;
  plan.init_std = 0;
  if (plan.init == InitKind::normal) {
    plan.init_std = checked(init_std * c.init.std.eval(at), cell_text(t, "std", c.init.std));
    if (plan.init_std == 0) plan.init = InitKind::zero;
  }
  plan.tied_across_experts = c.tied && t.experts > 0 && plan.init == InitKind::normal;
  plan.multiplier = checked(c.mult.eval(at), cell_text(t, "mult", c.mult));
  return plan;
}

// The tensor's LR, eps and wd. route_bias (not trainable) gets the balancing rule's LR and no
// eps or decay, an orthogonalised tensor no eps. A wd cell that uses lr sees the LR's ratio to
// its value at the base.
TensorHyper tensor_hyper(const TensorInfo& t, const Cells& c, RuleScope at,
                         const RuleScope& at_base, const ParamGlobals& globals, bool sgd,
                         const std::string& origin) {
  TensorHyper h;
  const double lr_factor = checked(c.lr.eval(at), cell_text(t, "lr", c.lr));
  h.lr = (t.trainable ? globals.lr : globals.bias_lr) * lr_factor;
  if (!t.trainable) return h;
  h.orthogonalised = c.orthogonalised;
  h.norm_preserved = c.norm_preserved;
  if (!sgd && !c.orthogonalised)
    h.eps = globals.eps * checked(c.eps.eval(at), cell_text(t, "eps", c.eps));
  if (c.wd.uses(Symbol::lr)) {
    const double base_lr_factor = c.lr.eval(at_base);
    if (!(lr_factor > 0 && base_lr_factor > 0))
      fail("{}: role {}: wd '{}' divides by the LR, which is 0", origin, role_name(t.role),
           c.wd.text());
    at.lr_ratio = lr_factor / base_lr_factor;
  }
  h.wd = globals.wd * checked(c.wd.eval(at), cell_text(t, "wd", c.wd));
  return h;
}

// The block scalars: each [block] cell (or its default) times its depth factor.
BlockPlan block_plan(const param::BlockRules& block, const param::BlockRules& block_factor,
                     const RuleScope& block_scope) {
  BlockPlan out;
  out.residual_mult =
      block_value(block.residual, block_factor.residual, "1", block_scope, "residual");
  out.attn_logit_scale = block_value(block.attn_scale, block_factor.attn_scale, "d_head^-1/2",
                                     block_scope, "attn_scale");
  out.aggregation_mult = block_value(block.aggregation, block_factor.aggregation, "abs(K)^-1",
                                     block_scope, "aggregation");
  out.readout_mult = block_value(block.readout, block_factor.readout, "1", block_scope, "readout");
  return out;
}

// A SwiGLU up projection stores its gate and up matrices side by side ([in, 2 hidden]).
int swiglu_column_blocks(const ModelConfig& target, Role role) {
  const bool up = role == Role::expert_up || role == Role::shared_up || role == Role::dense_up;
  return up && target.act == Activation::swiglu ? 2 : 1;
}

// Muon on a table without muon_lr cells would silently be AdamW everywhere.
void require_orthogonalised_tensors(const Parameterization& p, const std::string& origin) {
  if (p.optimizer != OptimizerKind::muon) return;
  for (const TensorHyper& h : p.hyper)
    if (h.orthogonalised) return;
  fail("{}: optim.name = muon, but no role this model uses has a muon_lr cell, so nothing would "
       "be orthogonalised (presets with Muon rules: mup, hyperp; or add muon_lr cells)",
       origin);
}

}  // namespace

Parameterization resolve_parameterization(const Config& config) {
  const ModelConfig target = model_config_from(config);
  const param::ParamSettings settings = param::param_settings_from(config, target);
  Parameterization p;
  p.preset = settings.preset;
  p.base = settings.base;
  p.target = param::axis_values(target);
  p.base_run = settings.base_run;
  p.target_run = settings.run;

  const param::Preset preset = load_named_preset(settings.preset);
  param::reject_unmet_requirements(preset, config);
  p.source = preset.source;
  const RuleSet rules = rules_in_regime(preset, settings.regime, p);
  p.depth = settings.depth.value_or(preset.depth);
  const param::DepthRule depth = param::load_depth_rule(p.depth);

  p.optimizer = optimizer_kind_from("optim.name", config.get_string("optim.name"));
  const bool sgd = p.optimizer == OptimizerKind::sgd;
  p.globals.init_std = settings.init_std > 0 ? settings.init_std : preset.init_std;
  p.globals.lr = config.get_float("optim.lr");
  p.globals.eps = config.get_float("optim.eps");
  p.globals.wd = config.get_float("optim.wd");
  p.globals.bias_lr = target.bias_lr;

  p.tensors = model_tensors(target);
  // The base model at the target's depth lines up tensor by tensor with the target (depth never
  // changes a tensor's fans), so absolute cells can be evaluated at the base too.
  AxisValues base_at_target_depth = p.base;
  base_at_target_depth[Axis::L] = target.L;
  const std::vector<TensorInfo> base_tensors =
      model_tensors(param::with_axes(target, base_at_target_depth));
  MOET_CHECK(base_tensors.size() == p.tensors.size());

  p.plan.tensors.resize(p.tensors.size());
  p.hyper.resize(p.tensors.size());
  for (size_t i = 0; i < p.tensors.size(); ++i) {
    const TensorInfo& t = p.tensors[i];
    const Cells c = cells_for(rules, depth.factors, t, p.optimizer, preset.origin);
    RuleScope at = target_scope(p, target);
    at.fan_in = t.fan_in, at.fan_out = t.fan_out;
    RuleScope at_base{p.base, p.base, target.d_head, base_tensors[i].fan_in,
                      base_tensors[i].fan_out};
    at_base.active_width = active_width(param::with_axes(target, base_at_target_depth));
    p.run_rules_used = p.run_rules_used || uses_run_symbols(c);
    p.plan.tensors[i] = tensor_plan(t, c, at, p.globals.init_std);
    p.hyper[i] = tensor_hyper(t, c, at, at_base, p.globals, sgd, preset.origin);
    if (c.orthogonalised) p.hyper[i].column_blocks = swiglu_column_blocks(target, t.role);
  }
  require_orthogonalised_tensors(p, preset.origin);
  p.plan.block = block_plan(rules.block, depth.factors.block, target_scope(p, target));
  p.run_rules_used =
      p.run_rules_used || uses_run_symbols(rules.block) || uses_run_symbols(depth.factors.block);

  param::add_ladder_warnings(target, p.base, p.warnings);
  if (preset.regimes.empty())  // regime presets: choose_regime already warned
    param::add_regime_range_warning(preset.derived_for_regimes, preset.name, p.base, p.target,
                                    p.warnings);
  param::reject_routing_collapse(target, p);
  validate_plan(p.tensors, p.plan);
  for (const auto& warning : p.warnings)
    std::fprintf(stderr, "moet: warning: %s\n", warning.c_str());
  return p;
}

}  // namespace moet::param
