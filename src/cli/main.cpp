// moet: git-style subcommands; `moet --help` lists them, `moet <command> --help` explains one.
#include <fmt/format.h>

#include <omp.h>

#include <cstdio>
#include <cstring>

#include "cli/command.h"
#include "core/error.h"
#include "train/schema.h"
#include "train/train_config.h"

namespace moet::cli {

int register_command(Command command) {
  const_cast<std::vector<Command>&>(commands()).push_back(std::move(command));
  return 0;
}

const std::vector<Command>& commands() {
  static std::vector<Command> all;
  return all;
}

void add_config_options(CLI::App& app, ConfigArgs& args) {
  app.add_option("--config", args.path, "TOML config file (keys: `moet config --list`)");
  app.add_option("--set", args.sets, "override one key, e.g. --set model.N=256 (repeatable)")
      ->take_all();
}

void add_sweep_resource_options(CLI::App& app, int& workers, int& threads) {
  app.add_option("--workers", workers,
                 "trials at once (default: one per core, or cores / --threads)");
  app.add_option("--threads", threads,
                 "threads per trial (default: 1, more when fewer trials than cores remain)");
}

Config load_config(const ConfigArgs& args) {
  return Config::load(full_config_schema(), args.path, args.sets);
}

namespace {

void print_usage() {
  std::printf(
      "moet: Mixture-of-Experts training with hyperparameters that transfer across scale\n\n");
  std::printf(
      "usage: moet <command> [options]   (moet <command> --help for details)\n\ncommands:\n");
  size_t width = 0;
  for (const auto& c : commands()) width = std::max(width, c.name.size());
  std::vector<const Command*> sorted;
  for (const auto& c : commands()) sorted.push_back(&c);
  std::sort(sorted.begin(), sorted.end(),
            [](const Command* a, const Command* b) { return a->name < b->name; });
  for (const auto* c : sorted)
    std::printf("  %-*s  %s\n", int(width), c->name.c_str(), c->summary.c_str());
}

int run(const Command& command, int argc, char** argv) {
  // OMP_NUM_THREADS is read before any config: a team of ~10^5 threads overflows libgomp's stack
  // (a segfault) in the first parallel region of whatever command runs.
  if (omp_get_max_threads() > kMaxThreads) {
    std::fprintf(stderr, "moet %s: OMP_NUM_THREADS: %d threads, more than %d\n",
                 command.name.c_str(), omp_get_max_threads(), int(kMaxThreads));
    return kExitBadInput;
  }
  CLI::App app(command.summary, "moet " + command.name);
  app.set_help_flag("-h,--help", "print this help and exit");
  try {
    auto body = command.define(app);
    app.parse(argc, argv);
    return body();
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "moet %s: %s (see moet %s --help)\n", command.name.c_str(), e.what(),
                 command.name.c_str());
    return kExitBadInput;
  } catch (const Error& e) {
    std::fprintf(stderr, "moet %s: %s\n", command.name.c_str(), e.what());
    return kExitBadInput;
  }
}

}  // namespace
}  // namespace moet::cli

int main(int argc, char** argv) {
  using namespace moet::cli;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    print_usage();
    return argc < 2 ? moet::kExitBadInput : moet::kExitOk;
  }
  for (const auto& c : commands())
    if (c.name == argv[1]) return run(c, argc - 1, argv + 1);
  std::fprintf(stderr, "moet: unknown command '%s' (moet --help lists them)\n", argv[1]);
  return moet::kExitBadInput;
}
