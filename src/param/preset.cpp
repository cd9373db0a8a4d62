#include "param/preset.h"

#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>

#include "core/config.h"
#include "core/error.h"
#include "core/files.h"
#include "param/embedded.h"
#include "param/regime.h"

namespace moet::param {

namespace {

// The embedded file that holds the depth rules rather than a preset.
constexpr const char* kDepthTables = "depth";
constexpr int kMaxExtends = 8;

enum class TableKind { preset, depth };

std::string role_list() {
  std::vector<std::string> names;
  for (const Role r : all_roles()) names.push_back(role_name(r));
  return join(names, ", ");
}

// Roles whose tensors can carry a leading expert axis, so "tied" means something.
bool may_have_experts(Role role) {
  return role == Role::expert_up || role == Role::expert_down || role == Role::shared_up ||
         role == Role::shared_down || role == Role::bias;
}

// The rule cells of a row and of [block], by name: parsing and overlaying walk these lists.
template <typename Rules>
struct RuleField {
  const char* name;
  std::optional<Rule> Rules::*cell;
};
constexpr RuleField<RoleRules> kRoleRuleFields[] = {
    {"mult", &RoleRules::mult},     {"adam_lr", &RoleRules::adam_lr},
    {"sgd_lr", &RoleRules::sgd_lr}, {"muon_lr", &RoleRules::muon_lr},
    {"eps", &RoleRules::eps},       {"wd", &RoleRules::wd}};

constexpr RuleField<BlockRules> kBlockRuleFields[] = {{"residual", &BlockRules::residual},
                                                      {"attn_scale", &BlockRules::attn_scale},
                                                      {"aggregation", &BlockRules::aggregation},
                                                      {"readout", &BlockRules::readout}};

// The optimizer cells a role without optimizer updates (route_bias) cannot honour: its LR cells
// scale eta_bias, but the balancing rule has no epsilon and no decay.
void reject_optimizer_only_cells(const RoleRules& row, Role role, const std::string& where) {
  if (optimizer_trains(role)) return;
  const auto reject = [&](const std::optional<Rule>& cell, const char* field, const char* what) {
    if (cell)
      fail("{}, field {}: {} is moved by the balancing rule (balance.bias_lr), not by the "
           "optimizer, so it has no {} ({} = \"{}\"); remove the cell",
           where, field, role_name(role), what, field, cell->text());
  };
  reject(row.eps, "eps", "Adam epsilon");
  reject(row.wd, "wd", "weight decay");
}

// Muon cells on a role whose tensors are not hidden matrices.
void reject_muon_cells(const RoleRules& row, Role role, const std::string& where) {
  if (muon_may_update(role)) return;
  if (row.muon_lr)
    fail("{}, field muon_lr: Muon orthogonalises hidden matrices only; {} stays on AdamW "
         "(adam_lr) under optim.name = muon (muon_lr = \"{}\"); remove the cell",
         where, role_name(role), row.muon_lr->text());
  if (row.sphere)
    fail("{}, field sphere: only matrices Muon updates keep their norm; {} stays on AdamW "
         "(sphere = {}); remove the cell",
         where, role_name(role), *row.sphere);
}

toml::table parse_toml(const std::string& text, const std::string& origin) {
  try {
    return toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    fail("{}:{}:{}: invalid TOML: {}", origin, at.line, at.column, e.description());
  }
}

std::string key_text(const toml::key& key) { return std::string(key.str()); }

const toml::table& as_table(const toml::node& node, const std::string& where) {
  const toml::table* table = node.as_table();
  if (!table) fail("{}: expected a table", where);
  return *table;
}

std::string as_string(const toml::node& node, const std::string& where) {
  const auto* s = node.as_string();
  if (!s) fail("{}: expected a string", where);
  return s->get();
}

// What a cell may refer to beyond the shape: a tensor's cells its fan_in and fan_out, of which
// block cells have none; weight-decay cells also lr.
enum class CellKind { block, tensor, weight_decay };

// A cell: a rule string, or a plain non-negative number.
Rule parse_cell(const toml::node& node, const std::string& where, CellKind kind) {
  Rule rule;
  if (const auto* s = node.as_string()) {
    try {
      rule = Rule::parse(s->get());
    } catch (const Error& e) {
      fail("{}: {}", where, e.what());
    }
  } else if (node.is_number()) {
    const double value = node.value<double>().value();
    if (!(value >= 0)) fail("{}: {} is negative; rules must be non-negative", where, value);
    rule = Rule(value);
  } else {
    fail("{}: expected a rule such as \"N^-1\" or a number", where);
  }
  if (rule.uses(Symbol::lr) && kind != CellKind::weight_decay)
    fail("{}: '{}' uses lr, which only weight-decay cells (wd) may use", where, rule.text());
  if (rule.uses_tensor_symbols() && kind == CellKind::block)
    fail("{}: '{}' uses fan_in/fan_out, which block rules cannot (they belong to no tensor)", where,
         rule.text());
  return rule;
}

RoleRules parse_row(const toml::table& row, Role role, const std::string& where, TableKind kind) {
  RoleRules out;
  for (const auto& [key, node] : row) {
    const std::string field = key_text(key);
    const std::string at = fmt::format("{}, field {}", where, field);
    if (field == "std") {
      const auto* s = node.as_string();
      const std::string text = s ? s->get() : "";
      if (kind == TableKind::preset && (text == "zero" || text == "one")) {
        out.init = InitRule{text == "zero" ? InitKind::zero : InitKind::one, Rule()};
      } else {
        out.init = InitRule{InitKind::normal, parse_cell(node, at, CellKind::tensor)};
      }
    } else if (field == "sphere") {
      if (kind == TableKind::depth) fail("{}: depth rules hold factors, not sphere flags", at);
      if (!node.is_boolean()) fail("{}: expected true or false", at);
      out.sphere = node.value<bool>().value();
    } else if (field == "tied") {
      if (kind == TableKind::depth) fail("{}: depth rules hold factors, not tied inits", at);
      if (!node.is_boolean()) fail("{}: expected true or false", at);
      out.tied = node.value<bool>().value();
      if (!may_have_experts(role))
        fail("{}: role {} has no expert axis to tie across (tied = {}); remove the cell", at,
             role_name(role), *out.tied);
    } else {
      const auto it = std::find_if(std::begin(kRoleRuleFields), std::end(kRoleRuleFields),
                                   [&](const RuleField<RoleRules>& f) { return field == f.name; });
      if (it == std::end(kRoleRuleFields))
        fail("{}: unknown field (fields: {})", at, join(role_field_names(), ", "));
      out.*(it->cell) =
          parse_cell(node, at, field == "wd" ? CellKind::weight_decay : CellKind::tensor);
    }
  }
  reject_optimizer_only_cells(out, role, where);
  reject_muon_cells(out, role, where);
  return out;
}

BlockRules parse_block(const toml::table& block, const std::string& where) {
  BlockRules out;
  for (const auto& [key, node] : block) {
    const std::string field = key_text(key);
    const std::string at = fmt::format("{}, field {}", where, field);
    const auto it = std::find_if(std::begin(kBlockRuleFields), std::end(kBlockRuleFields),
                                 [&](const RuleField<BlockRules>& f) { return field == f.name; });
    if (it == std::end(kBlockRuleFields))
      fail("{}: unknown field (fields: {})", at, join(block_field_names(), ", "));
    out.*(it->cell) = parse_cell(node, at, CellKind::block);
  }
  return out;
}

// Reads `block` and `roles` of a rule table; returns false for any other key.
bool parse_rule_key(RuleSet& rules, const std::string& key, const toml::node& node,
                    const std::string& where, TableKind kind) {
  if (key == "block") {
    rules.block = parse_block(as_table(node, where + "block"), where + "block");
    return true;
  }
  if (key != "roles") return false;
  for (const auto& [name, row] : as_table(node, where + "roles")) {
    const auto role = role_from_name(key_text(name));
    if (!role) fail("{}roles: unknown role '{}' (roles: {})", where, key_text(name), role_list());
    const std::string at = fmt::format("{}role {}", where, key_text(name));
    rules.roles[*role] = parse_row(as_table(row, at), *role, at, kind);
  }
  return true;
}

// [requires]: model.* settings, each a string, boolean or number, kept as `--set` text.
std::map<std::string, std::string> parse_requires(const toml::table& table,
                                                  const std::string& where) {
  std::map<std::string, std::string> out;
  for (const auto& [key_node, node] : table) {
    const std::string key = key_text(key_node);
    const std::string at = where + key;
    if (!key.starts_with("model."))
      fail("{}: a preset may require model.* settings only (quote the key: \"model.x\" = ...)", at);
    if (const auto* s = node.as_string()) {
      out[key] = s->get();
    } else if (const auto* b = node.as_boolean()) {
      out[key] = b->get() ? "true" : "false";
    } else if (node.is_number()) {
      out[key] = fmt::format("{}", node.value<double>().value());
    } else {
      fail("{}: expected a string, boolean or number", at);
    }
  }
  return out;
}

bool is_path(const std::string& name_or_path) {
  return name_or_path.find('/') != std::string::npos ||
         (name_or_path.size() > 5 && name_or_path.ends_with(".toml"));
}

Preset load_preset_at(const std::string& name_or_path, int depth);

Preset parse_preset_at(const std::string& text, const std::string& origin, int depth) {
  const toml::table table = parse_toml(text, origin);
  const std::string where = origin + ": ";
  Preset own;
  own.origin = origin;
  own.name = std::filesystem::path(origin).stem().string();
  std::optional<std::string> extends, source, depth_rule;
  std::optional<std::vector<std::string>> derived_for;
  std::optional<double> init_std;
  for (const auto& [key_node, node] : table) {
    const std::string key = key_text(key_node);
    if (parse_rule_key(own.rules, key, node, where, TableKind::preset)) continue;
    if (key == "name") {
      own.name = as_string(node, where + key);
    } else if (key == "source") {
      source = as_string(node, where + key);
    } else if (key == "extends") {
      extends = as_string(node, where + key);
    } else if (key == "depth") {
      depth_rule = as_string(node, where + key);
      require_choice(where + key, *depth_rule, depth_rule_names());
    } else if (key == "init_std") {
      init_std = node.value<double>();
      if (!init_std || !(*init_std > 0)) fail("{}init_std: expected a positive number", where);
    } else if (key == "derived_for_regimes") {
      const toml::array* list = node.as_array();
      if (!list) fail("{}{}: expected a list such as [\"I\", \"II\"]", where, key);
      derived_for.emplace();
      for (const auto& item : *list)
        derived_for->push_back(
            require_choice(where + key, as_string(item, where + key), regime_names()));
    } else if (key == "requires") {
      own.required_settings = parse_requires(as_table(node, where + key), where + "requires ");
    } else if (key == "regime") {
      for (const auto& [regime_key, regime_node] : as_table(node, where + key)) {
        const std::string regime = key_text(regime_key);
        require_choice(where + "regime", regime, regime_names());
        const std::string at = fmt::format("{}regime {}, ", where, regime);
        for (const auto& [sub_key, sub_node] : as_table(regime_node, at))
          if (!parse_rule_key(own.regimes[regime], key_text(sub_key), sub_node, at,
                              TableKind::preset))
            fail("{}{}: unknown key (a regime holds block and roles)", at, key_text(sub_key));
      }
    } else {
      fail("{}{}: unknown key (keys: name, source, extends, init_std, depth, block, roles, "
           "regime, derived_for_regimes, requires)",
           where, key);
    }
  }

  Preset out;
  if (extends) {
    if (depth >= kMaxExtends) fail("{}extends: more than {} levels (a cycle?)", where, kMaxExtends);
    // A relative path extends from beside the file that names it.
    std::string target = *extends;
    if (is_path(target) && std::filesystem::path(target).is_relative() && is_path(origin))
      target = (std::filesystem::path(origin).parent_path() / target).string();
    try {
      out = load_preset_at(target, depth + 1);
    } catch (const Error& e) {
      fail("{}extends: {}", where, e.what());
    }
  }
  out.name = own.name;
  out.origin = own.origin;
  if (source) out.source = *source;
  if (init_std) out.init_std = *init_std;
  if (depth_rule) out.depth = *depth_rule;
  if (derived_for) out.derived_for_regimes = *derived_for;
  overlay(out.rules, own.rules);
  for (const auto& [key, value] : own.required_settings) out.required_settings[key] = value;
  for (const auto& [regime, rules] : own.regimes) overlay(out.regimes[regime], rules);
  return out;
}

Preset load_preset_at(const std::string& name_or_path, int depth) {
  if (is_path(name_or_path)) return parse_preset_at(read_file(name_or_path), name_or_path, depth);
  const auto& embedded = embedded_presets();
  const auto it = embedded.find(name_or_path);
  if (it == embedded.end() || name_or_path == kDepthTables)
    fail("unknown preset '{}' (built-in presets: {}; or a path to a .toml file)", name_or_path,
         join(preset_names(), ", "));
  return parse_preset_at(it->second, "presets/" + name_or_path + ".toml", depth);
}

std::map<std::string, DepthRule> parse_depth_rules() {
  const std::string origin = std::string("presets/") + kDepthTables + ".toml";
  const toml::table table = parse_toml(embedded_presets().at(kDepthTables), origin);
  std::map<std::string, DepthRule> out;
  for (const auto& [name_key, node] : table) {
    DepthRule rule;
    rule.name = key_text(name_key);
    const std::string where = fmt::format("{}: depth {}, ", origin, rule.name);
    for (const auto& [key, sub] : as_table(node, where)) {
      if (parse_rule_key(rule.factors, key_text(key), sub, where, TableKind::depth)) continue;
      if (key_text(key) != "source")
        fail("{}{}: unknown key (keys: source, block, roles)", where, key_text(key));
      rule.source = as_string(sub, where + "source");
    }
    out[rule.name] = std::move(rule);
  }
  return out;
}

const std::map<std::string, DepthRule>& depth_rules() {
  static const std::map<std::string, DepthRule> rules = parse_depth_rules();
  return rules;
}

template <typename T>
void overlay_cell(std::optional<T>& base, const std::optional<T>& over) {
  if (over) base = over;
}

}  // namespace

void overlay(RuleSet& base, const RuleSet& over) {
  for (const auto& [role, row] : over.roles) {
    RoleRules& into = base.roles[role];
    overlay_cell(into.init, row.init);
    overlay_cell(into.tied, row.tied);
    overlay_cell(into.sphere, row.sphere);
    for (const auto& f : kRoleRuleFields) overlay_cell(into.*(f.cell), row.*(f.cell));
  }
  for (const auto& f : kBlockRuleFields) overlay_cell(base.block.*(f.cell), over.block.*(f.cell));
}

bool muon_may_update(Role role) {
  switch (role) {
    case Role::attn_qk:
    case Role::attn_v:
    case Role::attn_o:
    case Role::router:
    case Role::expert_up:
    case Role::expert_down:
    case Role::shared_up:
    case Role::shared_down:
    case Role::dense_up:
    case Role::dense_down: return true;
    default: return false;
  }
}

const std::vector<std::string>& role_field_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out = {"std", "tied", "sphere"};
    for (const auto& f : kRoleRuleFields) out.push_back(f.name);
    return out;
  }();
  return names;
}

const std::vector<std::string>& block_field_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& f : kBlockRuleFields) out.push_back(f.name);
    return out;
  }();
  return names;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& [name, text] : embedded_presets())
    if (name != kDepthTables) names.push_back(name);
  return names;
}

Preset load_preset(const std::string& name_or_path) { return load_preset_at(name_or_path, 0); }

Preset parse_preset(const std::string& toml_text, const std::string& origin) {
  return parse_preset_at(toml_text, origin, 0);
}

std::vector<std::string> depth_rule_names() {
  std::vector<std::string> names;
  for (const auto& [name, rule] : depth_rules()) names.push_back(name);
  return names;
}

DepthRule load_depth_rule(const std::string& name) {
  const auto it = depth_rules().find(name);
  if (it == depth_rules().end())
    fail("unknown depth rule '{}' (depth rules: {})", name, join(depth_rule_names(), ", "));
  return it->second;
}

}  // namespace moet::param
