// moet config: list every config key with its default and meaning, or print a resolved config.
#include <fmt/format.h>

#include "cli/command.h"
#include "core/config.h"

namespace moet::cli {
namespace {

MOET_COMMAND(config,
             Command{"config", "list config keys, or print the full config after --config/--set",
                     [](CLI::App& app) {
                       auto args = std::make_shared<ConfigArgs>();
                       auto list = std::make_shared<bool>(false);
                       app.add_flag("--list", *list,
                                    "list every key with its type, default and meaning");
                       add_config_options(app, *args);
                       return std::function<int()>([args, list] {
                         const Config config = load_config(*args);
                         if (*list) {
                           for (const auto& spec : config.schema())
                             fmt::print("{:<28} {:<10} {}\n", spec.key,
                                        spec.default_value.empty() ? "\"\"" : spec.default_value,
                                        spec.doc);
                         } else {
                           fmt::print("{}", config.to_toml());
                         }
                         return kExitOk;
                       });
                     }});

}  // namespace
}  // namespace moet::cli
