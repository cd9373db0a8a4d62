// moet params: resolve the parameterization of a config and print it (table or JSON), so every
// tensor's init, multiplier, LR, epsilon and weight decay can be checked before training — or
// print the one stored in a run's checkpoint (--run), exactly as that run used it.
#include <fmt/format.h>

#include <optional>

#include "cli/command.h"
#include "core/error.h"
#include "param/json.h"
#include "param/resolve.h"
#include "param/table.h"
#include "train/checkpoint.h"
#include "train/checkpoint_fields.h"
#include "train/schema.h"
#include "train/settings_text.h"

namespace moet::cli {
namespace {

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
                  fmt::print("{}{}", format_table(p), format_settings(config));
                return kExitOk;
              });
            }});

}  // namespace
}  // namespace moet::cli
