// moet params: resolve the parameterization of a config and print it (table or JSON), so every
// tensor's init, multiplier, LR, epsilon and weight decay can be checked before training — or
// print the one stored in a run's checkpoint (--run), exactly as that run used it.
#include <fmt/format.h>

#include <optional>

#include "cli/command.h"
#include "core/error.h"
#include "model/config.h"
#include "optim/config.h"
#include "param/json.h"
#include "param/resolve.h"
#include "param/table.h"
#include "train/checkpoint.h"
#include "train/checkpoint_fields.h"
#include "train/schema.h"

namespace moet::cli {
namespace {

// The settings outside the per-tensor table that shape training too: the optimizer's global
// constants, the schedule (every printed lr is its peak), the norms' epsilon and the balancing
// losses' weights.
std::string settings_text(const Config& config) {
  const OptimConfig o = optim_config_from(config);
  const ModelConfig m = model_config_from(config);
  std::string optimizer = o.clip > 0 ? fmt::format("clip {:.4g}", o.clip) : "clip off";
  if (o.is_adam()) optimizer += fmt::format("   beta1 {:.4g}   beta2 {:.4g}", o.beta1, o.beta2);
  if (o.kind == OptimizerKind::sgd) optimizer += fmt::format("   momentum {:.4g}", o.momentum);
  if (o.kind == OptimizerKind::muon)
    optimizer += fmt::format("   muon_momentum {:.4g}{}   muon_steps {}", o.muon_momentum,
                             o.muon_nesterov ? " (nesterov)" : "", o.muon_steps);
  std::string schedule = fmt::format("{}   warmup {}", name_of(o.schedule),
                                     o.warmup < 1 ? fmt::format("{:.4g} of the run", o.warmup)
                                                  : fmt::format("{:.0f} steps", o.warmup));
  if (o.schedule != Schedule::constant) schedule += fmt::format("   lr_floor {:.4g}", o.lr_floor);
  if (o.schedule == Schedule::wsd) schedule += fmt::format("   decay {:.4g}", o.decay);
  return fmt::format(
      "\noptimizer  {}\nschedule   {}\nmodel      norm_eps {:.4g}   aux_weight {:.4g}   "
      "z_weight {:.4g}\n",
      optimizer, schedule, m.norm_eps, m.aux_weight, m.z_weight);
}

Config run_config(const Checkpoint& c, const std::string& run_dir) {
  return Config::parse(full_config_schema(), c.config_toml, run_dir + " (checkpoint config)");
}

MOET_COMMAND(
    params,
    Command{"params",
            "print the resolved parameterization: every tensor's init, multiplier, LR, eps, WD",
            [](CLI::App& app) {
              auto args = std::make_shared<ConfigArgs>();
              auto json = std::make_shared<bool>(false);
              auto run = std::make_shared<std::string>();
              add_config_options(app, *args);
              app.add_option("--run", *run,
                             "print the parameterization stored in this run's checkpoint");
              app.add_flag("--json", *json, "print JSON (the form stored in checkpoints)");
              return std::function<int()>([args, json, run] {
                if (!run->empty() && (!args->path.empty() || !args->sets.empty()))
                  fail("--run prints the run's stored table; it takes no --config or --set");
                // A run's stored table is rebuilt against its own config, never re-resolved.
                std::optional<Checkpoint> checkpoint;
                if (!run->empty()) checkpoint = load_checkpoint_metadata(*run);
                const Config config =
                    checkpoint ? run_config(*checkpoint, *run) : load_config(*args);
                const param::Parameterization p =
                    checkpoint
                        ? stored_parameterization(*checkpoint, model_config_from(config), *run)
                        : param::resolve_parameterization(config);
                if (*json)
                  fmt::print("{}\n", to_json(p).dump(2));
                else
                  fmt::print("{}{}", format_table(p), settings_text(config));
                return kExitOk;
              });
            }});

}  // namespace
}  // namespace moet::cli
