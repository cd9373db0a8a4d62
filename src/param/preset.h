// Preset and depth-rule tables: parameterizations written as data, parsed and checked here.
//
// A preset (src/param/presets/<name>.toml, or a user's file given as param.preset = "path.toml")
// has one row per role; each cell is a Rule (param/rule.h), multiplied at resolution by the
// matching global (sigma0, eta, eps0, wd0):
//
//   name = "mup-moe"
//   source = "paper 2 ..."
//   init_std = 1.0            # default sigma0 when param.init_std = 0
//   depth = "none"            # default depth rule when param.depth = preset
//   extends = "other"         # optional: start from another preset's rows (name or path)
//   [block]                   # residual, attn_scale, aggregation, readout
//   [roles]                   # role = { std, tied, sphere, mult, adam_lr, sgd_lr, muon_lr, eps, wd
//   } [regime.II.roles]         # optional regime-specific cells, replacing the [roles] ones
//
// Depth rules (presets/depth.toml, chosen by param.depth) are tables of *factors* with the same
// [<name>.block] / [<name>.roles] shape; they multiply the preset's cells of tensors inside
// blocks, so any depth rule composes with any preset. Every error is one line naming the file,
// the role and the field.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/plan.h"
#include "model/roles.h"
#include "param/rule.h"

namespace moet::param {

struct InitRule {
  InitKind kind = InitKind::normal;  // zero and one ignore std
  Rule std;
};

// One row. Absent cells come from the preset it extends or its regime rows; at resolution the
// remaining ones default (mult, eps, wd: 1; tied: false) or are reported missing (std, lr).
struct RoleRules {
  std::optional<InitRule> init;
  std::optional<bool> tied;    // all experts start from the same draw
  std::optional<bool> sphere;  // Muon keeps each matrix's Frobenius norm (HyperP)
  // muon_lr: the role's LR under optim.name = muon, which then orthogonalises its updates;
  // roles without it stay on AdamW (adam_lr) under Muon.
  std::optional<Rule> mult, adam_lr, sgd_lr, muon_lr, eps, wd;
};

struct BlockRules {
  std::optional<Rule> residual, attn_scale, aggregation, readout;
};

struct RuleSet {
  std::map<Role, RoleRules> roles;
  BlockRules block;
};

// Cells present in `over` replace those in `base`.
void overlay(RuleSet& base, const RuleSet& over);

// The roles whose matrices Muon may orthogonalise (a muon_lr or sphere cell elsewhere is
// rejected): the hidden matrices. Embeddings, the readout, norm gains and biases stay on AdamW.
bool muon_may_update(Role role);

// The fields a [roles] row may hold (std, tied, sphere, then the rule cells) and those of
// [block], in
// table order. The parser reads exactly these; tests/param/cell_effect_test.cpp sets every one
// of them, for every role, and checks that training changes or the table is rejected.
const std::vector<std::string>& role_field_names();
const std::vector<std::string>& block_field_names();

struct Preset {
  std::string name;
  std::string source;  // the papers and sections it transcribes
  std::string origin;  // the file it was read from (built-ins: presets/<name>.toml)
  double init_std = 1.0;
  std::string depth = "none";
  RuleSet rules;
  std::map<std::string, RuleSet> regimes;  // I, II, III; empty for regime-free presets
  // model.* key -> the value (as `--set key=` text) the preset's rules were derived for.
  std::map<std::string, std::string> required_settings;
  // The regimes (I, II, III) the rules were derived on, for presets whose rows hold on those
  // ladders only; another ladder gets a warning. Empty: no such limit.
  std::vector<std::string> derived_for_regimes;
};

struct DepthRule {
  std::string name;
  std::string source;
  RuleSet factors;
};

// Built-in preset names, sorted.
std::vector<std::string> preset_names();
// A built-in name, or a path (anything containing '/' or ending in .toml).
Preset load_preset(const std::string& name_or_path);
// Parses preset text; `origin` names it in errors and anchors a relative `extends` path.
Preset parse_preset(const std::string& toml_text, const std::string& origin);

std::vector<std::string> depth_rule_names();
DepthRule load_depth_rule(const std::string& name);

}  // namespace moet::param
