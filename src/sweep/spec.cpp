#include "sweep/spec.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "dist/batch_split.h"
#include "model/config.h"
#include "model/flops.h"
#include "param/preset.h"
#include "param/regime.h"
#include "param/resolve.h"
#include "param/run_horizon.h"
#include "sweep/run_shape.h"
#include "sweep/trainer_command.h"
#include "train/schema.h"
#include "train/train_config.h"

namespace moet::sweep {

namespace {

using param::Axis;

// Throws "<source>: <where>: <what>".
struct Where {
  const std::string& source;
  std::string place;
  template <typename... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) const {
    moet::fail("{}: {}: {}", source, place, fmt::format(format, std::forward<Args>(args)...));
  }
};

void check_keys(const toml::table& table, const std::vector<std::string>& allowed,
                const Where& where) {
  for (const auto& [name, node] : table) {
    const std::string key(name.str());
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      where.fail("unknown key '{}' (expected one of: {})", key, join(allowed, ", "));
  }
}

double number(const toml::node& node, const Where& where, const std::string& what) {
  if (const auto* i = node.as_integer()) return double(i->get());
  if (const auto* f = node.as_floating_point()) return f->get();
  where.fail("{}: expected a number", what);
}

// "name = [values]" or "name_log2 = [exponents]" or "name_log2 = { from, to, step = 1 }".
std::vector<double> read_grid(const toml::table& table, const std::string& name,
                              const Where& where) {
  const toml::node* plain = table.get(name);
  const toml::node* log2 = table.get(name + "_log2");
  if (plain && log2) where.fail("give {} or {}_log2, not both", name, name);
  std::vector<double> values;
  if (plain) {
    const auto* array = plain->as_array();
    if (!array) where.fail("{}: expected an array of numbers", name);
    for (const auto& v : *array) values.push_back(number(v, where, name));
  } else if (log2) {
    const std::string what = name + "_log2";
    if (const auto* array = log2->as_array()) {
      for (const auto& v : *array) values.push_back(std::exp2(number(v, where, what)));
    } else if (const auto* range = log2->as_table()) {
      check_keys(*range, {"from", "to", "step"}, Where{where.source, where.place + ": " + what});
      if (!range->get("from") || !range->get("to"))
        where.fail("{}: a range needs from and to, e.g. {{ from = -10, to = -4, step = 1 }}", what);
      const double from = number(*range->get("from"), where, what + ".from");
      const double to = number(*range->get("to"), where, what + ".to");
      const double step =
          range->get("step") ? number(*range->get("step"), where, what + ".step") : 1;
      if (!(step > 0)) where.fail("{}.step: must be positive (got {})", what, step);
      if (to < from) where.fail("{}: to ({}) is below from ({})", what, to, from);
      // Counted in double: a range like { from = 0, to = 1e300 } must not reach an int cast.
      const double count_exact = std::floor((to - from) / step + 1e-9) + 1;
      if (!(count_exact <= 1000))
        where.fail("{}: {:g} values; that is not a grid but a typo", what, count_exact);
      const int64_t count = int64_t(count_exact);
      for (int64_t i = 0; i < count; ++i) values.push_back(std::exp2(from + double(i) * step));
    } else {
      where.fail("{}: expected an array of exponents or a table {{ from, to, step }}", what);
    }
  } else {
    return values;
  }
  if (values.empty()) where.fail("{}: empty", name);
  std::set<double> seen;
  for (const double v : values) {
    if (!(v > 0) || !std::isfinite(v)) where.fail("{}: values must be positive (got {})", name, v);
    if (!seen.insert(v).second) where.fail("{}: {} appears twice", name, v);
  }
  return values;
}

// "seeds = [1, 2, 3]": distinct integers.
std::vector<int64_t> read_seeds(const toml::table& table, const Where& where) {
  const auto* array = table.get("seeds")->as_array();
  if (!array || array->empty()) where.fail("seeds: expected a non-empty array of integers");
  std::vector<int64_t> seeds;
  for (const auto& s : *array) {
    if (!s.is_integer()) where.fail("seeds: expected integers");
    const int64_t seed = s.as_integer()->get();
    if (std::find(seeds.begin(), seeds.end(), seed) != seeds.end())
      where.fail("seeds: {} appears twice", seed);
    seeds.push_back(seed);
  }
  return seeds;
}

// A [config]-style table (any `moet train` keys, nested or dotted) as key=value assignments,
// checked against the full schema so a typo is caught before any trial runs.
std::vector<std::string> read_config_table(const toml::node* node, const Where& where) {
  if (!node) return {};
  const auto* table = node->as_table();
  if (!table) where.fail("expected a table of `moet train` keys");
  std::ostringstream text;
  text << *table;
  const Config config =
      Config::parse(full_config_schema(), text.str(), where.source + ": " + where.place);
  std::vector<std::string> sets;
  for (const KeySpec& spec : config.schema())
    if (config.is_given(spec.key)) sets.push_back(spec.key + "=" + config.get_text(spec.key));
  return sets;
}

std::string read_name(const toml::table& table, const Where& where) {
  const auto name = table["name"].value<std::string>();
  if (!name || name->empty()) where.fail("needs a name = \"...\"");
  return *name;
}

bool is_key(const std::string& assignment, const std::string& key) {
  return assignment.rfind(key + "=", 0) == 0;
}

// Drops assignments that a later one overrides, so a trial's command line names each key once.
std::vector<std::string> last_wins(const std::vector<std::string>& sets) {
  std::vector<std::string> out;
  for (size_t i = 0; i < sets.size(); ++i) {
    const std::string key = sets[i].substr(0, sets[i].find('=') + 1);
    bool overridden = false;
    for (size_t j = i + 1; j < sets.size() && !overridden; ++j)
      overridden = sets[j].rfind(key, 0) == 0;
    if (!overridden) out.push_back(sets[i]);
  }
  return out;
}

toml::table parse_toml(const std::string& toml_text, const std::string& source) {
  try {
    return toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    fail("{}:{}:{}: invalid TOML: {}", source, e.source().begin.line, e.source().begin.column,
         e.description());
  }
}

// [config]: the base shape and fixed settings; train.threads goes to the runner, not the trials.
void read_base_config(const toml::table& root, SweepSpec& spec) {
  for (std::string& set : read_config_table(root.get("config"), {spec.source, "[config]"})) {
    if (is_key(set, "train.threads"))
      spec.threads = std::stoll(set.substr(14));
    else
      spec.base_sets.push_back(std::move(set));
  }
}

// [budget] tokens: each trial's steps follow from it, so [config] must not fix train.steps too.
void read_budget(const toml::table& root, SweepSpec& spec) {
  const toml::node* budget = root.get("budget");
  if (!budget) return;
  const Where where{spec.source, "[budget]"};
  if (!budget->is_table()) where.fail("expected a table");
  check_keys(*budget->as_table(), {"tokens"}, where);
  if (const toml::node* tokens = budget->as_table()->get("tokens")) {
    if (!tokens->is_integer() || tokens->as_integer()->get() <= 0)
      where.fail("tokens: expected a positive integer (tokens per trial)");
    spec.tokens = tokens->as_integer()->get();
    for (const auto& set : spec.base_sets)
      if (is_key(set, "train.steps"))
        where.fail("tokens: [config] also sets train.steps; give one of them");
  }
}

// ranks = R: every trial trains data parallel on R ranks; how many cores that takes is the
// runner's to check (resources.h), whether each batch splits is expand_sweep's.
void read_ranks(const toml::table& root, SweepSpec& spec) {
  const toml::node* ranks = root.get("ranks");
  if (!ranks) return;
  constexpr int64_t kMaxRanks = 1 << 16;
  if (!ranks->is_integer() || ranks->as_integer()->get() < 1 ||
      ranks->as_integer()->get() > kMaxRanks)
    fail("{}: ranks: expected a whole number of ranks per trial from 1 to {}", spec.source,
         kMaxRanks);
  spec.ranks = int(ranks->as_integer()->get());
}

// [grid]: the LRs, init stds and seeds every preset and ladder takes unless it gives its own.
void read_shared_grid(const toml::table& root, SweepSpec& spec) {
  spec.seeds = {1};
  const toml::node* grid = root.get("grid");
  if (!grid) return;
  const Where where{spec.source, "[grid]"};
  if (!grid->is_table()) where.fail("expected a table");
  const toml::table& t = *grid->as_table();
  check_keys(t, {"lr", "lr_log2", "init_std", "init_std_log2", "seeds"}, where);
  spec.lrs = read_grid(t, "lr", where);
  spec.init_stds = read_grid(t, "init_std", where);
  if (t.get("seeds")) spec.seeds = read_seeds(t, where);
}

// The [[key]] tables, at least one; `hint` says what an empty list should have held.
const toml::array& tables_of(const toml::table& root, const std::string& key,
                             const std::string& source, const char* hint) {
  const auto* array = root.get(key) ? root.get(key)->as_array() : nullptr;
  if (root.get(key) && (!array || !array->is_array_of_tables()))
    fail("{}: {}: write each as a [[{}]] table", source, key, key);
  if (!array || array->empty()) fail("{}: no [[{}]]: {}", source, key, hint);
  return *array;
}

// [[preset]] number `i` (from 0), checked against the presets read before it.
PresetSpec read_preset(const toml::table& t, size_t i, const SweepSpec& spec) {
  Where where{spec.source, fmt::format("[[preset]] #{}", i + 1)};
  PresetSpec p;
  p.name = read_name(t, where);
  where.place = fmt::format("preset '{}'", p.name);
  check_keys(t, {"name", "lr", "lr_log2", "init_std", "init_std_log2", "config"}, where);
  for (const auto& other : spec.presets)
    if (other.name == p.name) where.fail("named twice");
  p.lrs = read_grid(t, "lr", where);
  p.init_stds = read_grid(t, "init_std", where);
  p.sets = read_config_table(t.get("config"), {spec.source, where.place + ": config"});
  for (const auto& set : p.sets)
    if (is_key(set, "param.preset")) where.fail("config: param.preset is the preset's name");
  if (p.lrs.empty() && spec.lrs.empty())
    where.fail("no LR grid: give [grid] lr_log2 (or lr), or lr_log2 in the preset");
  return p;
}

// A ladder's axes = ["N", "Ne"]: known axis names (sweep/ladder_axis.h), each quantity once.
std::vector<LadderAxis> read_axes(const toml::table& t, const Where& where) {
  const auto* axes = t.get("axes") ? t.get("axes")->as_array() : nullptr;
  if (!axes || axes->empty())
    where.fail("axes: expected a non-empty array of axis names ({})", ladder_axis_choices());
  std::vector<LadderAxis> out;
  for (const auto& a : *axes) {
    const auto name = a.value<std::string>();
    const std::optional<LadderAxis> found = name ? ladder_axis_named(*name) : std::nullopt;
    if (!found)
      where.fail("axes: '{}' is not one of {}", name.value_or("?"), ladder_axis_choices());
    for (const LadderAxis& other : out)
      if (same_quantity(other, *found)) where.fail("axes: {} appears twice", quantity_name(*found));
    out.push_back(*found);
  }
  return out;
}

// [[ladder]] number `i` (from 0), checked against the ladders read before it.
LadderSpec read_ladder(const toml::table& t, size_t i, const SweepSpec& spec) {
  Where where{spec.source, fmt::format("[[ladder]] #{}", i + 1)};
  LadderSpec l;
  l.name = read_name(t, where);
  where.place = fmt::format("ladder '{}'", l.name);
  check_keys(t, {"name", "axes", "scales", "seeds", "config"}, where);
  for (const char c : l.name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
      where.fail("name: use letters, digits, - and _ only");
  for (const auto& other : spec.ladders)
    if (other.name == l.name) where.fail("named twice");
  l.axes = read_axes(t, where);
  l.scales = read_grid(t, "scales", where);
  if (l.scales.empty()) where.fail("scales: expected an array, e.g. scales = [1, 2, 4]");
  std::sort(l.scales.begin(), l.scales.end());
  if (t.get("seeds")) l.seeds = read_seeds(t, where);
  l.sets = read_config_table(t.get("config"), {spec.source, where.place + ": config"});
  return l;
}

// [trainer] command = "...": the program that trains each trial instead of `moet train`.
TrainerCommand read_trainer(const toml::table& root, const std::string& source) {
  const toml::node* node = root.get("trainer");
  if (!node) return {};
  const Where where{source, "[trainer]"};
  if (!node->is_table()) where.fail("expected a table with command = \"...\"");
  check_keys(*node->as_table(), {"command"}, where);
  const auto command = (*node->as_table())["command"].value<std::string>();
  if (!command)
    where.fail("command: expected a string, e.g. command = \"python3 train.py --config {{config}} "
               "--out {{out}}\"");
  return parse_trainer_command(*command, source + ": [trainer] command");
}

}  // namespace

SweepSpec parse_sweep_spec(const std::string& toml_text, const std::string& source) {
  const toml::table root = parse_toml(toml_text, source);
  SweepSpec spec;
  spec.source = source;
  spec.text = toml_text;
  check_keys(root, {"name", "ranks", "config", "budget", "grid", "preset", "ladder", "trainer"},
             {source, "top level"});
  spec.name = root["name"].value_or(std::string());
  read_ranks(root, spec);
  read_base_config(root, spec);
  read_budget(root, spec);
  read_shared_grid(root, spec);
  const toml::array& presets = tables_of(
      root, "preset", source, "name at least one parameterization to sweep (e.g. name = \"sp\")");
  for (size_t i = 0; i < presets.size(); ++i)
    spec.presets.push_back(read_preset(*presets.get(i)->as_table(), i, spec));
  const toml::array& ladders = tables_of(root, "ladder", source,
                                         "name at least one, e.g. name = \"width\", "
                                         "axes = [\"N\", \"Ne\"], scales = [1, 2, 4]");
  for (size_t i = 0; i < ladders.size(); ++i)
    spec.ladders.push_back(read_ladder(*ladders.get(i)->as_table(), i, spec));
  spec.trainer = read_trainer(root, source);
  // Several ranks means `moet train` under a launcher; another trainer starts its own workers.
  if (!spec.trainer.empty() && spec.ranks > 1)
    fail("{}: ranks = {} with a [trainer] command: several ranks per trial are for moet train; "
         "a trainer of its own starts its own processes (leave ranks out)",
         source, spec.ranks);
  return spec;
}

SweepSpec load_sweep_spec(const std::string& path) {
  return parse_sweep_spec(read_file(path), path);
}

std::string fnv1a_hex(const std::string& bytes) {
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  return fmt::format("{:016x}", h);
}

namespace {

std::string preset_stem(const std::string& preset) {
  std::string stem = preset.substr(preset.find_last_of('/') + 1);
  if (stem.size() > 5 && stem.ends_with(".toml")) stem.resize(stem.size() - 5);
  for (char& c : stem)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  return stem;
}

std::string number_text(double v) {
  // Trims float noise from exponents like log2(2^-7.5) without hiding real differences.
  return fmt::format("{:g}", std::round(v * 1e6) / 1e6);
}

// Loads `moet train` configs from --set assignments, against the full schema built once.
struct ConfigLoader {
  std::vector<KeySpec> schema = full_config_schema();
  Config operator()(const std::vector<std::string>& sets) const {
    return Config::load(schema, "", sets);
  }
};

// The base shape times `scale` along the ladder's shape axes (divided by it along 1/Ne-style
// axes); every value must be a whole size.
param::AxisValues scaled_shape(const param::AxisValues& base, const std::vector<LadderAxis>& axes,
                               double scale, const std::string& place) {
  param::AxisValues shape = base;
  for (const LadderAxis& axis : axes) {
    if (axis.kind != LadderAxis::Kind::shape) continue;
    const Axis a = axis.shape;
    const double v = axis.exponent < 0 ? double(base[a]) / scale : double(base[a]) * scale;
    const char* op = axis.exponent < 0 ? "/" : "x";
    if (std::abs(v - std::round(v)) > 1e-9 || std::round(v) < 1)
      fail("{}: scale {}: {} = {} {} {} is not a positive integer", place, number_text(scale),
           param::axis_name(a), base[a], op, number_text(scale));
    if (v > double(kMaxDimension))
      fail("{}: scale {}: {} = {} {} {} is more than {}", place, number_text(scale),
           param::axis_name(a), base[a], op, number_text(scale), kMaxDimension);
    shape[a] = int64_t(std::round(v));
  }
  return shape;
}

// What one scale of a ladder trains besides its shape: the token budget (0: train.steps as
// configured), train.batch (0: as configured), and what the trial key adds to say so.
struct RunSize {
  int64_t tokens = 0;
  int64_t batch = 0;
  std::string key_suffix;  // "-t2048000", "-b32": scaled run axes only
  // The base run (scale 1) of a ladder along run axes, for the rules in D and B.
  std::optional<param::RunHorizon> base_run;
};

// Run axes (sweep/ladder_axis.h) scale the token budget, [budget] tokens or else the base's
// train.steps x tokens per step, and train.batch at that budget; a ladder without them trains
// the [budget] as every trial does.
RunSize run_size(const SweepSpec& spec, const LadderSpec& ladder, const Config& fixed, double scale,
                 const std::string& place) {
  RunSize run;
  run.tokens = spec.tokens;
  if (!has_run_axis(ladder.axes)) return run;
  try {
    if (run.tokens == 0) run.tokens = run_shape_of(fixed).tokens;
  } catch (const Error& e) {
    fail("{}: {}", place, e.what());
  }
  if (has_kind(ladder.axes, LadderAxis::Kind::tokens)) {
    run.tokens = std::llround(double(run.tokens) * scale);
    if (scale != 1) run.key_suffix += fmt::format("-t{}", run.tokens);
  }
  if (has_kind(ladder.axes, LadderAxis::Kind::batch)) {
    const int64_t base_batch = fixed.get_int("train.batch");
    const double batch = double(base_batch) * scale;
    if (std::abs(batch - std::round(batch)) > 1e-9 || std::round(batch) < 1 || batch > 1e9)
      fail("{}: train.batch = {} x {} is not a positive integer", place, base_batch,
           number_text(scale));
    run.batch = std::llround(batch);
    if (scale != 1) run.key_suffix += fmt::format("-b{}", run.batch);
  }
  return run;
}

// param.base.tokens and .batch where the trial's run differs from the ladder's base run (where it
// does not, the absent base is the run's own, and the trial stays the one other ladders share).
void add_base_run_sets(const param::RunHorizon& base, const param::RunHorizon& run,
                       std::vector<std::string>& sets) {
  if (run.tokens != base.tokens) sets.push_back(fmt::format("param.base.tokens={}", base.tokens));
  if (run.batch != base.batch) sets.push_back(fmt::format("param.base.batch={}", base.batch));
}

// One scale of a ladder: the trial config minus its grid values, and its training cost.
struct ScaleConfig {
  param::AxisValues shape;
  std::vector<std::string> sets;
  std::string key_suffix;
  double flops = 0;
};

// `fixed` plus the scaled shape and batch, train.save off unless given and train.steps from the
// token budget; checked by resolving its parameterization and splitting its batch over `ranks`,
// so a bad scale fails before any trial runs.
ScaleConfig scale_config(const ConfigLoader& load, const std::vector<std::string>& fixed,
                         const param::AxisValues& shape, const RunSize& run, int ranks,
                         const std::string& place) {
  ScaleConfig at{shape, fixed, run.key_suffix};
  for (const Axis a : param::kAllAxes)
    at.sets.push_back(fmt::format("model.{}={}", param::axis_name(a), shape[a]));
  if (run.batch > 0) at.sets.push_back(fmt::format("train.batch={}", run.batch));
  Config config = load({});
  try {
    config = load(at.sets);
    if (!config.is_given("train.save")) at.sets.push_back("train.save=false");
    if (run.tokens > 0) {
      const int64_t per_step =
          train_config_from(config).tokens_per_step(config.get_int("model.seq"));
      const int64_t steps = (run.tokens + per_step / 2) / per_step;
      if (steps < 1)
        fail("[budget] tokens = {} is less than one step ({} tokens)", run.tokens, per_step);
      at.sets.push_back(fmt::format("train.steps={}", steps));
    }
    config = load(at.sets);
    if (run.base_run) {
      add_base_run_sets(*run.base_run, param::run_horizon_of(config), at.sets);
      config = load(at.sets);
    }
    param::resolve_parameterization(config);
    try {
      dist::batch_rows(config.get_int("train.batch"), 0, ranks);
    } catch (const Error& e) {
      fail("ranks = {}: {}", ranks, e.what());
    }
  } catch (const Error& e) {
    fail("{}: {}", place, e.what());
  }
  const ModelConfig model = model_config_from(config);
  const TrainConfig train = train_config_from(config);
  at.flops = training_flops(model, train.steps * train.tokens_per_step(model.seq));
  return at;
}

// A ladder along the token budget or the batch pins the base run (scale 1) of the rules in D
// and B as it pins the base shape: its token budget and tokens per step. Ladders without run
// axes train one run at every scale: none.
std::optional<param::RunHorizon> ladder_base_run(const ConfigLoader& load, const SweepSpec& spec,
                                                 const LadderSpec& ladder,
                                                 const Config& fixed_config,
                                                 const std::vector<std::string>& fixed,
                                                 const param::AxisValues& base,
                                                 const std::string& place) {
  if (!has_run_axis(ladder.axes)) return std::nullopt;
  const ScaleConfig at =
      scale_config(load, fixed, base, run_size(spec, ladder, fixed_config, 1, place), spec.ranks,
                   fmt::format("{}, scale 1 (the base run)", place));
  return param::run_horizon_of(load(at.sets));
}

// What a preset sweeps on a ladder at every scale.
struct TrialGrid {
  std::vector<double> init_stds;
  bool init_swept = false;  // false: init_stds holds the configured param.init_std alone
  std::vector<double> lrs;
  std::vector<int64_t> seeds;
};

// The preset's grid where it gives one, else [grid]; the ladder's seeds where it gives them.
TrialGrid trial_grid(const SweepSpec& spec, const PresetSpec& preset, const LadderSpec& ladder,
                     const Config& fixed_config) {
  TrialGrid grid;
  grid.lrs = preset.lrs.empty() ? spec.lrs : preset.lrs;
  grid.init_stds = preset.init_stds.empty() ? spec.init_stds : preset.init_stds;
  grid.init_swept = !grid.init_stds.empty();
  if (!grid.init_swept) grid.init_stds = {fixed_config.get_float("param.init_std")};
  grid.seeds = ladder.seeds.empty() ? spec.seeds : ladder.seeds;
  return grid;
}

// "sp-N64-Ne64-M8-K2-L2-lr-7-s1-<config hash>": readable, and unique through the hash;
// run_suffix ("-t2048000") names a scaled token budget or batch. Another trainer is another
// experiment: its command template is part of what the hash covers.
std::string trial_key(const Trial& trial, bool init_swept, const std::string& run_suffix,
                      const TrainerCommand& trainer) {
  const std::string identity =
      trainer.empty() ? trial.config_toml
                      : trial.config_toml + "\n[trainer]\ncommand = " + trainer.text + "\n";
  const param::AxisValues& shape = trial.shape;
  return fmt::format("{}-N{}-Ne{}-M{}-K{}-L{}{}-lr{}{}-s{}-{}", preset_stem(trial.preset),
                     shape[Axis::N], shape[Axis::Ne], shape[Axis::M], shape[Axis::K],
                     shape[Axis::L], run_suffix, number_text(std::log2(trial.lr)),
                     init_swept ? "-std" + number_text(trial.init_std) : std::string(), trial.seed,
                     fnv1a_hex(identity).substr(0, 8));
}

// One trial per init std x LR x seed at one ladder point. A config expanded before (the base
// that several ladders share) gains the point instead of becoming a second trial.
void add_trials(const ConfigLoader& load, const std::string& preset, const ScaleConfig& at,
                const TrialGrid& grid, const LadderPoint& point, const TrainerCommand& trainer,
                std::map<std::string, size_t>& by_config, Expansion& out) {
  for (const double init_std : grid.init_stds) {
    for (const double lr : grid.lrs) {
      for (const int64_t seed : grid.seeds) {
        Trial trial;
        trial.preset = preset;
        trial.lr = lr;
        trial.init_std = init_std;
        trial.seed = seed;
        trial.shape = at.shape;
        trial.flops = at.flops;
        trial.sets = at.sets;
        if (grid.init_swept) trial.sets.push_back(fmt::format("param.init_std={}", init_std));
        trial.sets.push_back(fmt::format("optim.lr={}", lr));
        trial.sets.push_back(fmt::format("train.seed={}", seed));
        trial.sets = last_wins(trial.sets);
        trial.config_toml = load(trial.sets).to_toml();
        if (const auto it = by_config.find(trial.config_toml); it != by_config.end()) {
          out.trials[it->second].points.push_back(point);
          continue;
        }
        trial.points.push_back(point);
        trial.key = trial_key(trial, grid.init_swept, at.key_suffix, trainer);
        by_config.emplace(trial.config_toml, out.trials.size());
        trial.index = int64_t(out.trials.size());
        out.trials.push_back(std::move(trial));
      }
    }
  }
}

// The param.regime a preset with regime rules needs at every scale, the base included (where no
// axis differs, so it cannot be inferred there): taken from the ladder's largest step, its shape
// axes alone; "" when the preset has none or the spec sets one. A ladder that scales no width
// (tokens, batch, L) must be given one: its run axes never choose a regime.
std::string ladder_regime(const PresetSpec& preset, const LadderSpec& ladder,
                          const Config& fixed_config, const param::AxisValues& base,
                          const param::AxisValues& largest, const std::string& place) {
  param::Preset loaded;
  try {
    loaded = param::load_preset(preset.name);
  } catch (const Error& e) {
    fail("{}: param.preset: {}", place, e.what());
  }
  if (loaded.regimes.empty() || fixed_config.get_string("param.regime") != "auto") return "";
  if (has_run_axis(ladder.axes) && param::differing_axes(base, largest).empty())
    fail("{}: param.regime = auto: ladder axes {} change no width, so they imply no regime of "
         "preset {}; set param.regime = I|II|III in [preset.config] or [ladder.config]",
         place, ladder_axes_text(ladder.axes), loaded.name);
  try {
    std::vector<std::string> warnings;
    return param::choose_regime("auto", loaded.name, base, largest, warnings);
  } catch (const Error& e) {
    fail("{}: {}", place, e.what());
  }
}

// Of every trial key and ladder point in order: equal expansions, equal hashes.
std::string expansion_hash(const std::vector<Trial>& trials) {
  std::string identity;
  for (const Trial& t : trials) {
    identity += t.key;
    for (const LadderPoint& p : t.points) identity += fmt::format(" {}:{}", p.ladder, p.scale);
    identity += "\n";
  }
  return fnv1a_hex(identity);
}

}  // namespace

Expansion expand_sweep(const SweepSpec& spec) {
  const ConfigLoader load;
  Expansion out;
  try {
    out.base = param::axis_values(model_config_from(load(spec.base_sets)));
  } catch (const Error& e) {
    fail("{}: [config]: {}", spec.source, e.what());
  }

  std::map<std::string, size_t> by_config;  // config TOML -> trial position
  for (const LadderSpec& ladder : spec.ladders) {
    for (const PresetSpec& preset : spec.presets) {
      const std::string place =
          fmt::format("{}: ladder '{}', preset '{}'", spec.source, ladder.name, preset.name);
      std::vector<std::string> fixed = spec.base_sets;
      fixed.insert(fixed.end(), preset.sets.begin(), preset.sets.end());
      fixed.insert(fixed.end(), ladder.sets.begin(), ladder.sets.end());
      fixed.push_back("param.preset=" + preset.name);
      param::AxisValues base;
      Config fixed_config = load({});
      try {
        fixed_config = load(fixed);
        base = param::axis_values(model_config_from(fixed_config));
      } catch (const Error& e) {
        fail("{}: {}", place, e.what());
      }
      for (const Axis a : param::kAllAxes)
        fixed.push_back(fmt::format("param.base.{}={}", param::axis_name(a), base[a]));
      if (!spec.init_stds.empty() || !preset.init_stds.empty())
        for (const auto& set : fixed)
          if (is_key(set, "param.init_std"))
            fail("{}: param.init_std is both fixed and swept", place);

      const auto scaled = [&](double scale) {
        return scaled_shape(base, ladder.axes, scale, place);
      };

      if (const std::string regime = ladder_regime(preset, ladder, fixed_config, base,
                                                   scaled(ladder.scales.back()), place);
          !regime.empty())
        fixed.push_back("param.regime=" + regime);
      const std::optional<param::RunHorizon> base_run =
          ladder_base_run(load, spec, ladder, fixed_config, fixed, base, place);

      const TrialGrid grid = trial_grid(spec, preset, ladder, fixed_config);
      for (const double scale : ladder.scales) {
        const std::string at_place = fmt::format("{}, scale {}", place, number_text(scale));
        RunSize run = run_size(spec, ladder, fixed_config, scale, at_place);
        run.base_run = base_run;
        const ScaleConfig at = scale_config(load, fixed, scaled(scale), run, spec.ranks, at_place);
        const LadderPoint point{ladder.name, ladder_axes_text(ladder.axes), scale};
        add_trials(load, preset.name, at, grid, point, spec.trainer, by_config, out);
      }
    }
  }
  out.hash = expansion_hash(out.trials);
  return out;
}

std::vector<std::string> trial_command(const Trial& trial, const std::string& run_dir,
                                       int64_t threads) {
  std::vector<std::string> argv = {"train", "--quiet", "--out", run_dir, "--set"};
  argv.insert(argv.end(), trial.sets.begin(), trial.sets.end());
  if (threads > 0) argv.push_back(fmt::format("train.threads={}", threads));
  return argv;
}

std::string shell_quote(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& arg : argv) {
    if (!out.empty()) out += ' ';
    const bool plain = !arg.empty() && std::all_of(arg.begin(), arg.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("_./=:,+-@%^", c);
    });
    if (plain) {
      out += arg;
    } else {
      out += '\'';
      for (const char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
      out += '\'';
    }
  }
  return out;
}

}  // namespace moet::sweep
