// moet transfer: from a sweep database to a target model's training config. Prints the global
// hyperparameters tuned at the base (optimal LR, init std when swept), the resolved per-tensor
// table at the target shape, and writes a ready `moet train` config.
//
// The written config is the sweep's base trial (every setting the LR was tuned under) with the
// target's own keys laid over it, except the parameterization (param.*) and optim.lr, which come
// from the sweep: they are what makes the tuned numbers mean the same thing at the target.
#include <fmt/format.h>

#include <filesystem>

#include "analysis/sweep_panels.h"
#include "analysis/tuned_globals.h"
#include "cli/command.h"
#include "core/error.h"
#include "core/files.h"
#include "model/config.h"
#include "param/resolve.h"
#include "param/table.h"
#include "sweep/results_store.h"
#include "train/schema.h"

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

// The axes along which the target differs from the base but `ladder` did not scale, as "N, M";
// empty when the ladder tested them all.
std::string untested_axes(const sweep::ResultsStore& store, const std::string& ladder,
                          const param::AxisValues& base, const param::AxisValues& target_shape) {
  std::string untested;
  for (const param::Axis a : param::differing_axes(base, target_shape)) {
    bool on_ladder = false;
    for (const auto& [name, axes] : store.ladders())
      if (name == ladder)
        on_ladder = ("," + axes + ",").find(std::string(",") + param::axis_name(a) + ",") !=
                    std::string::npos;
    if (!on_ladder) untested += (untested.empty() ? "" : ", ") + std::string(param::axis_name(a));
  }
  return untested;
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

// The target's config under a header saying where its LR comes from; out_path empty: in the
// current directory as <target name>.transfer.toml.
void write_target_config(const Config& config, const analysis::TunedGlobals& tuned,
                         const param::AxisValues& base, const std::string& db,
                         const std::string& target_path, std::string out_path) {
  if (out_path.empty())
    out_path = std::filesystem::path(target_path).stem().string() + ".transfer.toml";
  const std::string header = fmt::format(
      "# Written by `moet transfer --db {} --target {}`.\n# optim.lr = 2^{:.2f}: the optimum "
      "of preset {} at the base {} (ladder {}).\n# {}\n# Train with: moet train --config {} "
      "--out runs/<name>\n\n",
      db, target_path, tuned.log2_lr, tuned.preset, param::shape_text(base), tuned.ladder,
      tuned.verdict, out_path);
  write_file_atomic(out_path, header + config.to_toml());
  fmt::print("wrote {}: moet train --config {} --out runs/<name>\n", out_path, out_path);
}

MOET_COMMAND(
    transfer,
    Command{
        "transfer", "print the hyperparameters a sweep tuned and write a target's training config",
        [](CLI::App& app) {
          auto db = std::make_shared<std::string>();
          auto target = std::make_shared<ConfigArgs>();
          auto preset = std::make_shared<std::string>();
          auto ladder = std::make_shared<std::string>();
          auto out = std::make_shared<std::string>();
          auto metric = std::make_shared<std::string>("val");
          app.add_option("--db", *db, "results database written by `moet sweep`")->required();
          app.add_option("--target", target->path, "the target model's config (TOML)")->required();
          app.add_option("--set", target->sets, "override one key of the target (repeatable)")
              ->take_all();
          app.add_option("--preset", *preset, "which preset's tuning to use (needed when several)");
          app.add_option("--ladder", *ladder,
                         "whose base to read the optimum from (default: the spec's first ladder)");
          app.add_option("--loss", *metric,
                         "which loss picks the optimum: val (default), train, moby");
          app.add_option("--out", *out,
                         "config to write (default: <target name>.transfer.toml in the current "
                         "directory)");
          return std::function<int()>([=] {
            const auto store = sweep::ResultsStore::open_read_only(*db);
            const std::vector<sweep::TrialRecord> trials = store.current_trials();
            const auto panels = analysis::build_panels(trials, *metric);
            const analysis::TunedGlobals tuned =
                analysis::tune_globals(panels, *preset, *ladder, analysis::kDefaultDriftTolerance);
            const auto base_trial = std::find_if(trials.begin(), trials.end(), [&](const auto& t) {
              return t.key == tuned.base_trial;
            });
            const std::vector<KeySpec> schema = full_config_schema();
            const Config swept = Config::parse(schema, base_trial->config_toml,
                                               fmt::format("{}: trial {}", *db, base_trial->key));
            const Config given = load_config(*target);

            std::vector<std::string> notes;
            Config config = laid_over(swept, given, schema, notes);
            // Six significant digits: more than any sweep resolves, fewer than float noise shows.
            const double lr = std::stod(fmt::format("{:.6g}", std::exp2(tuned.log2_lr)));
            config.set("optim.lr", fmt::format("{}", lr));
            if (!given.is_given("train.steps"))
              notes.push_back(fmt::format("train.steps = {} comes from the sweep; set the target's "
                                          "budget with --set train.steps=...",
                                          config.get_int("train.steps")));

            const param::AxisValues base = store.base_shape();
            const param::AxisValues target_shape = param::axis_values(model_config_from(config));
            const param::Parameterization p = param::resolve_parameterization(config);
            const std::string untested = untested_axes(store, tuned.ladder, p.base, target_shape);
            if (!untested.empty())
              notes.push_back(fmt::format("the target differs from the base along {}, which ladder "
                                          "'{}' did not test",
                                          untested, tuned.ladder));

            print_tuned(tuned, lr, base, *db, *metric);
            fmt::print("target {}:\n{}\n", param::shape_text(target_shape), param::format_table(p));
            for (const auto& n : notes) fmt::print("note: {}\n", n);
            write_target_config(config, tuned, base, *db, target->path, *out);
            return kExitOk;
          });
        }});

}  // namespace
}  // namespace moet::cli
