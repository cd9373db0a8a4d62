// moet transfer: from a sweep database to a target model's training config. Prints the global
// hyperparameters tuned at the base (optimal LR, init std when swept), the resolved per-tensor
// table at the target shape, how far the target lies beyond the ladders along each axis (warned
// past one doubling), and writes a ready `moet train` config. --target-tokens / --target-batch
// read the LR off the power law of a tokens (batch) ladder instead of the base's optimum.
//
// The written config is the sweep's base trial (every setting the LR was tuned under) with the
// target's own keys laid over it, except the parameterization (param.*) and optim.lr, which come
// from the sweep: they are what makes the tuned numbers mean the same thing at the target.
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <optional>

#include "analysis/run_axis_lr.h"
#include "analysis/sweep_panels.h"
#include "analysis/transfer_reach.h"
#include "analysis/tuned_globals.h"
#include "cli/command.h"
#include "core/error.h"
#include "core/files.h"
#include "model/config.h"
#include "param/resolve.h"
#include "param/run_horizon.h"
#include "param/settings.h"
#include "param/table.h"
#include "sweep/results_store.h"
#include "sweep/run_shape.h"
#include "train/schema.h"
#include "train/train_config.h"

namespace moet::cli {
namespace {

bool sweep_owns(const std::string& key) { return key.rfind("param.", 0) == 0 || key == "optim.lr"; }

// Settings whose change makes the tuned LR a different quantity (the axes are what may change).
bool lr_sensitive(const std::string& key) {
  for (const char* axis : {"model.N", "model.Ne", "model.M", "model.K", "model.L"})
    if (key == axis) return false;
  return key.rfind("model.", 0) == 0 || key.rfind("optim.", 0) == 0 ||
         key.rfind("balance.", 0) == 0 || key == "train.batch" || key == "train.accum";
}

// The sweep's base trial with the target's keys laid over it, except those the sweep owns and
// the per-run ones (threads, save), which go back to their defaults. A note names each given key
// that is replaced or that changes what the tuned LR means.
Config laid_over(const Config& swept, const Config& given, const std::vector<KeySpec>& schema,
                 std::vector<std::string>& notes) {
  Config config = swept;
  for (const char* key : {"train.threads", "train.save"})
    for (const KeySpec& spec : schema)
      if (spec.key == key) config.set(key, spec.default_value);
  for (const KeySpec& spec : schema) {
    if (!given.is_given(spec.key)) continue;
    const std::string value = given.get_text(spec.key), tuned_value = swept.get_text(spec.key);
    if (sweep_owns(spec.key)) {
      if (value != tuned_value)
        notes.push_back(fmt::format("{}: the target's {} is replaced by the sweep's {}", spec.key,
                                    value, tuned_value));
      continue;
    }
    if (lr_sensitive(spec.key) && value != tuned_value)
      notes.push_back(fmt::format(
          "{}: the target has {}, the sweep tuned with {}; the tuned LR may not carry over",
          spec.key, value, tuned_value));
    config.set(spec.key, value);
  }
  return config;
}

// Along every axis where the target differs from the base (shape, tokens, batch), how far it
// lies beyond what the preset's ladders checked.
std::vector<analysis::AxisReach> target_reach(const std::vector<analysis::Panel>& panels,
                                              const std::string& preset,
                                              const param::AxisValues& base,
                                              const param::AxisValues& target,
                                              const sweep::RunShape& base_run,
                                              const sweep::RunShape& target_run) {
  using Kind = sweep::LadderAxis::Kind;
  const std::vector<analysis::LadderExtent> extents = analysis::ladder_extents(panels, preset);
  std::vector<analysis::AxisReach> out;
  for (const param::Axis a : param::differing_axes(base, target))
    out.push_back(
        analysis::reach_along({Kind::shape, a}, double(target[a]) / double(base[a]), extents));
  if (target_run.tokens != base_run.tokens)
    out.push_back(analysis::reach_along(
        {Kind::tokens}, double(target_run.tokens) / double(base_run.tokens), extents));
  if (target_run.batch != base_run.batch)
    out.push_back(analysis::reach_along(
        {Kind::batch}, double(target_run.batch) / double(base_run.batch), extents));
  return out;
}

// The reach, one line per axis, and a warning per axis past one doubling or on no ladder.
std::vector<std::string> print_reach(const std::vector<analysis::AxisReach>& reach,
                                     const std::string& preset) {
  std::vector<std::string> warnings;
  if (reach.empty()) return warnings;
  fmt::print("reach: the target against the ladders of {} (doublings beyond the rungs checked):\n",
             preset);
  for (const analysis::AxisReach& r : reach) {
    fmt::print("  {}\n", analysis::reach_text(r));
    if (r.untested())
      warnings.push_back(fmt::format("the target differs from the base along {} ({}), which no "
                                     "ladder of the sweep scaled: the tuned LR is untested there",
                                     r.axis, analysis::scale_label(r.ratio)));
    else if (r.warns())
      warnings.push_back(fmt::format(
          "along {} the target ({}) lies {:.1f} doublings beyond the largest rung checked (ladder "
          "{}, {}): the LR is extrapolated, not checked",
          r.axis, analysis::scale_label(r.ratio), r.doublings_beyond, r.ladder,
          analysis::scale_label(r.ratio > r.high ? r.high : r.low)));
  }
  fmt::print("\n");
  return warnings;
}

// A note when the target trains on another token budget than the base while the sweep has a
// tokens ladder of the preset whose power law --target-tokens would read instead.
std::optional<std::string> horizon_hint(const std::vector<analysis::Panel>& panels,
                                        const std::string& preset, const sweep::RunShape& base_run,
                                        const sweep::RunShape& target_run) {
  if (target_run.tokens == base_run.tokens) return std::nullopt;
  const std::vector<sweep::LadderAxis> tokens_alone = {{sweep::LadderAxis::Kind::tokens}};
  for (const analysis::Panel& p : panels)
    if (p.preset == preset && sweep::parse_ladder_axes(p.axes) == tokens_alone)
      return fmt::format("the target trains on {} tokens ({} the base's) at the base's optimal LR; "
                         "--target-tokens {} reads the LR off the power law of ladder {} instead",
                         target_run.tokens,
                         analysis::scale_label(double(target_run.tokens) / double(base_run.tokens)),
                         target_run.tokens, p.ladder);
  return std::nullopt;
}

// What the sweep tuned, where and how sure: the LR, the init std and the ladder's verdict.
void print_tuned(const analysis::TunedGlobals& tuned, double lr, const param::AxisValues& base,
                 const std::string& db, const std::string& metric) {
  fmt::print("tuned on the base {} by {} (preset {}, ladder {}, {} loss):\n",
             param::shape_text(base), db, tuned.preset, tuned.ladder, metric);
  fmt::print("  optim.lr        = {:.6g}  (2^{:.2f}, {} estimate at x{:g}; loss there {:.4f})\n",
             lr, tuned.log2_lr, analysis::optimum_kind_name(tuned.kind), tuned.base_scale,
             tuned.base_loss);
  fmt::print("  param.init_std  = {}\n",
             tuned.init_swept     ? fmt::format("{:g} (best of the swept values)", tuned.init_std)
             : tuned.init_std > 0 ? fmt::format("{:g} (fixed in the sweep)", tuned.init_std)
                                  : std::string("the preset's default (not swept)"));
  fmt::print("  ladder check    : {}\n\n", tuned.verdict);
}

// The LR the target config gets and where it comes from: the base's optimum, or the power law
// along the run axes at the target's token budget and batch.
struct TargetLr {
  double log2_lr = NAN;
  double lr = NAN;  // rounded to six significant digits
  std::optional<analysis::RunAxisLr> predicted;
};

// Six significant digits: more than any sweep resolves, fewer than float noise shows.
double six_digits(double v) { return std::stod(fmt::format("{:.6g}", v)); }

void print_predicted(const analysis::RunAxisLr& predicted, double lr) {
  fmt::print("predicted for the target's run:\n");
  for (const std::string& line : predicted.lines) fmt::print("  {}\n", line);
  fmt::print("  optim.lr        = {:.6g}  (2^{:.2f}: {})\n\n", lr, predicted.log2_lr,
             predicted.source);
}

// The target's config under a header saying where its LR comes from and what it was not checked
// for; out_path empty: in the current directory as <target name>.transfer.toml.
void write_target_config(const Config& config, const analysis::TunedGlobals& tuned,
                         const TargetLr& lr, const param::AxisValues& base,
                         const std::vector<std::string>& run_rules,
                         const std::vector<std::string>& warnings, const std::string& db,
                         const std::string& target_path, std::string out_path) {
  if (out_path.empty())
    out_path = std::filesystem::path(target_path).stem().string() + ".transfer.toml";
  const std::string base_text = fmt::format("preset {} at the base {} (ladder {})", tuned.preset,
                                            param::shape_text(base), tuned.ladder);
  std::string source = fmt::format("2^{:.2f}: the optimum of {}", tuned.log2_lr, base_text);
  if (lr.predicted)
    source = fmt::format("2^{:.2f}: {} (±{:.2f} octaves, 95%); the optimum of {} is 2^{:.2f}",
                         lr.log2_lr, lr.predicted->source, lr.predicted->half_width, base_text,
                         tuned.log2_lr);
  std::string header =
      fmt::format("# Written by `moet transfer --db {} --target {}`.\n# optim.lr = {}.\n# {}\n", db,
                  target_path, source, tuned.verdict);
  for (const std::string& r : run_rules) header += "# run rule: " + r + "\n";
  for (const std::string& w : warnings) header += "# warning: " + w + "\n";
  header += fmt::format("# Train with: moet train --config {} --out runs/<name>\n\n", out_path);
  write_file_atomic(out_path, header + config.to_toml());
  fmt::print("wrote {}: moet train --config {} --out runs/<name>\n", out_path, out_path);
}

// A run axis of the preset's own rules: D (token budget) or B (tokens per step).
struct RunRuleAxis {
  const char* name;    // tokens | batch
  const char* symbol;  // D | B
  const char* key;     // param.base.tokens | param.base.batch
  int64_t param::RunHorizon::*field;
  std::string fitted_ladder;  // the ladder whose power law predicts the LR along it, if any
};

// Whether the trials of `ladder` ran the preset's rule along `axis`: a trial away from scale 1
// whose base run differs from its own run there.
bool ladder_ran_rule(const std::vector<sweep::TrialRecord>& trials, const std::string& ladder,
                     const RunRuleAxis& axis, const std::string& db) {
  for (const sweep::TrialRecord& t : trials)
    for (const sweep::LadderPoint& point : t.points)
      if (point.ladder == ladder && point.scale != 1) {
        const Config c = Config::parse(full_config_schema(), t.config_toml,
                                       fmt::format("{}: trial {}", db, t.key));
        const param::ParamSettings s = param::param_settings_from(c, model_config_from(c));
        return s.base_run.*axis.field != s.run.*axis.field;
      }
  return false;
}

// The base run the target's rules in D and B read (param.base.tokens, .batch), so that the
// preset's rule and a fitted power law never both count one change: the base trial's run, where
// eta was tuned, except along an axis whose power law was fitted to trials that ran without the
// rule (it holds the whole change: the rule is held at 1 there). One line per axis says which
// applies; none when the preset has no such rule (the keys are then left out).
std::vector<std::string> settle_run_rules(const std::vector<sweep::TrialRecord>& trials,
                                          const std::optional<analysis::RunAxisLr>& predicted,
                                          const Config& swept, const std::string& db,
                                          Config& config) {
  const param::RunHorizon base = param::run_horizon_of(swept),
                          target = param::run_horizon_of(config);
  std::vector<RunRuleAxis> axes = {
      {"tokens", "D", "param.base.tokens", &param::RunHorizon::tokens, ""},
      {"batch", "B", "param.base.batch", &param::RunHorizon::batch, ""}};
  if (predicted) axes[0].fitted_ladder = predicted->tokens_ladder;
  if (predicted) axes[1].fitted_ladder = predicted->batch_ladder;
  std::vector<std::string> lines;
  for (const RunRuleAxis& a : axes) {
    const double ratio = double(target.*a.field) / double(base.*a.field);
    if (a.fitted_ladder.empty() || ladder_ran_rule(trials, a.fitted_ladder, a, db)) {
      config.set(a.key, std::to_string(base.*a.field));
      if (!a.fitted_ladder.empty())
        lines.push_back(fmt::format(
            "{}: ladder {} ran the preset's rule in {}, so its power law is of eta alone: the "
            "prediction sets eta and the rule scales it ({} = {:.4g}; {} = {})",
            a.name, a.fitted_ladder, a.symbol, a.symbol, ratio, a.key, base.*a.field));
      else if (ratio != 1)
        lines.push_back(fmt::format("{}: the preset's rule in {} scales the base's optimum from "
                                    "the base run's {} to the target's {} ({} = {:.4g}; {} = {})",
                                    a.name, a.symbol, base.*a.field, target.*a.field, a.symbol,
                                    ratio, a.key, base.*a.field));
    } else {
      config.set(a.key, std::to_string(target.*a.field));
      lines.push_back(fmt::format(
          "{}: ladder {} ran without the preset's rule in {}, so its power law holds the whole "
          "change: the rule is held at {} = 1 ({} = the target's {})",
          a.name, a.fitted_ladder, a.symbol, a.symbol, a.key, target.*a.field));
    }
  }
  return lines;
}

// Unsets what settle_run_rules set when the preset has no rule in D or B.
void drop_unused_run_rules(const param::Parameterization& p, Config& config,
                           std::vector<std::string>& lines) {
  if (p.run_rules_used) return;
  for (const char* key : {"param.base.tokens", "param.base.batch"}) config.set(key, "0");
  lines.clear();
}

struct TransferArgs {
  std::string db;
  ConfigArgs target;
  std::string preset, ladder, out, metric = "val";
  int64_t target_tokens = 0, target_batch = 0;  // when given
  bool target_tokens_given = false, target_batch_given = false;
};

// --target-batch and --target-tokens laid onto the target config: the batch as given, the steps
// from the token budget at the target's tokens per step.
void apply_run_targets(const TransferArgs& args, const Config& given, Config& config) {
  if (args.target_batch > 0) {
    if (given.is_given("train.batch"))
      fail("--target-batch: the target config sets train.batch too; give one of them");
    config.set("train.batch", std::to_string(args.target_batch));
  }
  if (args.target_tokens > 0) {
    if (given.is_given("train.steps"))
      fail("--target-tokens: the target config sets train.steps too; give one of them");
    const int64_t per_step = train_config_from(config).tokens_per_step(config.get_int("model.seq"));
    const int64_t steps = (args.target_tokens + per_step / 2) / per_step;
    if (steps < 1)
      fail("--target-tokens: {} is less than one step ({} tokens)", args.target_tokens, per_step);
    config.set("train.steps", std::to_string(steps));
  }
}

// The target's LR: the power law's prediction when a token budget or batch was asked for, else
// the base's optimum.
TargetLr target_lr(const TransferArgs& args, const std::vector<analysis::Panel>& panels,
                   const analysis::TunedGlobals& tuned, const sweep::RunShape& base_run) {
  TargetLr out;
  out.log2_lr = tuned.log2_lr;
  analysis::RunTargets targets;
  if (args.target_tokens > 0)
    targets.tokens_ratio = double(args.target_tokens) / double(base_run.tokens);
  if (args.target_batch > 0)
    targets.batch_ratio = double(args.target_batch) / double(base_run.batch);
  if (args.target_tokens > 0 || args.target_batch > 0) {
    out.predicted = analysis::predict_run_axis_lr(panels, tuned.preset, tuned.init_std, targets);
    out.log2_lr = out.predicted->log2_lr;
  }
  out.lr = six_digits(std::exp2(out.log2_lr));
  return out;
}

int run_transfer(const TransferArgs& args) {
  if (args.target_tokens_given && args.target_tokens <= 0)
    fail("--target-tokens: must be positive (got {})", args.target_tokens);
  if (args.target_batch_given && args.target_batch <= 0)
    fail("--target-batch: must be positive (got {})", args.target_batch);
  const auto store = sweep::ResultsStore::open_read_only(args.db);
  const std::vector<sweep::TrialRecord> trials = store.current_trials();
  const auto panels = analysis::build_panels(trials, args.metric);
  const analysis::TunedGlobals tuned =
      analysis::tune_globals(panels, args.preset, args.ladder, analysis::kDefaultDriftTolerance);
  const auto base_trial = std::find_if(trials.begin(), trials.end(),
                                       [&](const auto& t) { return t.key == tuned.base_trial; });
  const std::vector<KeySpec> schema = full_config_schema();
  const Config swept = Config::parse(schema, base_trial->config_toml,
                                     fmt::format("{}: trial {}", args.db, base_trial->key));
  const Config given = load_config(args.target);

  std::vector<std::string> notes;
  Config config = laid_over(swept, given, schema, notes);
  apply_run_targets(args, given, config);
  const sweep::RunShape base_run = sweep::run_shape_of(swept);
  const TargetLr lr = target_lr(args, panels, tuned, base_run);
  config.set("optim.lr", fmt::format("{}", lr.lr));
  if (!given.is_given("train.steps") && args.target_tokens == 0)
    notes.push_back(fmt::format("train.steps = {} comes from the sweep; set the target's "
                                "budget with --target-tokens or --set train.steps=...",
                                config.get_int("train.steps")));

  std::vector<std::string> run_rules =
      settle_run_rules(trials, lr.predicted, swept, args.db, config);
  const param::AxisValues base = store.base_shape();
  const param::AxisValues target_shape = param::axis_values(model_config_from(config));
  const param::Parameterization p = param::resolve_parameterization(config);
  drop_unused_run_rules(p, config, run_rules);
  print_tuned(tuned, six_digits(std::exp2(tuned.log2_lr)), base, args.db, args.metric);
  if (lr.predicted) print_predicted(*lr.predicted, lr.lr);
  if (!run_rules.empty()) {
    fmt::print("the preset's own rules in the token budget (D) and batch (B):\n");
    for (const std::string& line : run_rules) fmt::print("  {}\n", line);
    fmt::print("\n");
  }
  fmt::print("target {}:\n{}\n", param::shape_text(target_shape), param::format_table(p));
  const sweep::RunShape target_run = sweep::run_shape_of(config);
  const std::vector<std::string> warnings = print_reach(
      target_reach(panels, tuned.preset, p.base, target_shape, base_run, target_run), tuned.preset);
  if (!lr.predicted)
    if (const auto hint = horizon_hint(panels, tuned.preset, base_run, target_run))
      notes.push_back(*hint);
  for (const auto& n : notes) fmt::print("note: {}\n", n);
  for (const auto& w : warnings) fmt::print("warning: {}\n", w);
  write_target_config(config, tuned, lr, base, run_rules, warnings, args.db, args.target.path,
                      args.out);
  return kExitOk;
}

MOET_COMMAND(
    transfer,
    Command{
        "transfer", "print the hyperparameters a sweep tuned and write a target's training config",
        [](CLI::App& app) {
          auto args = std::make_shared<TransferArgs>();
          app.add_option("--db", args->db, "results database written by `moet sweep`")->required();
          app.add_option("--target", args->target.path, "the target model's config (TOML)")
              ->required();
          app.add_option("--set", args->target.sets, "override one key of the target (repeatable)")
              ->take_all();
          app.add_option("--preset", args->preset,
                         "which preset's tuning to use (needed when several)");
          app.add_option("--ladder", args->ladder,
                         "whose base to read the optimum from (default: the spec's first ladder)");
          app.add_option("--loss", args->metric,
                         "which loss picks the optimum: val (default), train, moby");
          CLI::Option* tokens =
              app.add_option("--target-tokens", args->target_tokens,
                             "the target's token budget: sets train.steps and predicts the LR from "
                             "the power law along the sweep's tokens ladder");
          CLI::Option* batch = app.add_option(
              "--target-batch", args->target_batch,
              "the target's train.batch: predicts the LR from the power law along the "
              "sweep's batch ladder");
          app.add_option("--out", args->out,
                         "config to write (default: <target name>.transfer.toml in the current "
                         "directory)");
          return std::function<int()>([=] {
            args->target_tokens_given = tokens->count() > 0;
            args->target_batch_given = batch->count() > 0;
            return run_transfer(*args);
          });
        }});

}  // namespace
}  // namespace moet::cli
