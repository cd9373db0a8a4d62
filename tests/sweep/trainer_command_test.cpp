// [trainer] command templates: split into words without a shell, placeholders filled per trial,
// and every mistake (unknown placeholder, shell syntax, a program that is not there) one line
// naming the spec and the field, when the spec is read. A trainer is part of a trial's identity;
// a spec without one keeps the keys it always had.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>

#include "core/config.h"
#include "core/error.h"
#include "core/files.h"
#include "sweep/spec.h"
#include "sweep/trainer_command.h"
#include "sweep_fixture.h"
#include "train/schema.h"

namespace moet::sweep {
namespace {

using testing::ladder_spec;
using testing::SweepFixture;
using TrainerSpecTest = SweepFixture;

std::string spec_error(const std::string& text) {
  try {
    parse_sweep_spec(text, "spec.toml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string with_trainer(const std::string& spec, const std::string& command) {
  return "[trainer]\ncommand = '''" + command + "'''\n" + spec;
}

TEST_F(TrainerSpecTest, BadTemplatesAreOneLineNamingTheSpecAndTheField) {
  const std::string spec = ladder_spec(tiny_config(), "[-7]");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/bin/sh train.sh --config {config} --out {out} --lr {lr}",
       "spec.toml: [trainer] command: unknown placeholder {lr} (known: {config}, {table}, {out}, "
       "{threads}, {seed})"},
      {"/bin/sh train.sh {out", "spec.toml: [trainer] command: unclosed '{' in '{out'"},
      {"/bin/sh train.sh out}", "spec.toml: [trainer] command: a lone '}' in 'out}'"},
      {"/bin/sh train.sh --out {out} > log",
       "spec.toml: [trainer] command: '>' is shell syntax, but the command runs without a shell"},
      {"/bin/sh 'train.sh", "spec.toml: [trainer] command: unclosed ' quote"},
      {"  ", "spec.toml: [trainer] command: empty"},
      {"{out}/train", "spec.toml: [trainer] command: the program '{out}/train' must be named"},
      {"no-such-trainer-xyz --out {out}",
       "spec.toml: [trainer] command: 'no-such-trainer-xyz' is not on PATH"},
      {"./no/such/trainer --out {out}",
       "spec.toml: [trainer] command: './no/such/trainer' is not an executable file"},
  };
  for (const auto& [command, expected] : cases) {
    const std::string e = spec_error(with_trainer(spec, command));
    EXPECT_EQ(e.rfind(expected, 0), 0u) << command << "\n got: " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  EXPECT_EQ(spec_error("[trainer]\ncmd = 'x'\n" + spec)
                .rfind("spec.toml: [trainer]: unknown key "
                       "'cmd' (expected one of: command)",
                       0),
            0u);
  EXPECT_EQ(spec_error("[trainer]\ncommand = 3\n" + spec)
                .rfind("spec.toml: [trainer]: command: expected a string", 0),
            0u);
  EXPECT_EQ(spec_error("trainer = 'x'\n" + spec).rfind("spec.toml: [trainer]: expected a table", 0),
            0u);
  EXPECT_EQ(spec_error("ranks = 2\n" + with_trainer(spec, "/bin/sh t.sh --out {out}")),
            "spec.toml: ranks = 2 with a [trainer] command: several ranks per trial are for moet "
            "train; a trainer of its own starts its own processes (leave ranks out)");
}

TEST_F(TrainerSpecTest, PlaceholdersAreFilledPerTrialAndPathsStayOneWord) {
  const SweepSpec spec = parse_sweep_spec(
      with_trainer(ladder_spec(tiny_config(), "[-7]"),
                   R"(/bin/sh "my trainer.sh" --config={config} --table {table} --out {out} )"
                   R"(-j {threads} --seed {seed} --literal {{x}} "a b"\ c)"),
      "spec.toml");
  const Expansion expansion = expand_sweep(spec);
  const Trial& trial = expansion.trials.front();
  const std::string dir = "runs/it's here";
  const std::vector<std::string> expected = {"/bin/sh",
                                             "my trainer.sh",
                                             "--config=" + dir + "/trial-config.toml",
                                             "--table",
                                             dir + "/trial-table.json",
                                             "--out",
                                             dir,
                                             "-j",
                                             "2",
                                             "--seed",
                                             "1",
                                             "--literal",
                                             "{x}",
                                             "a b c"};
  EXPECT_EQ(trainer_argv(spec.trainer, trial, dir, 2), expected);
  std::vector<std::string> stored = expected;
  stored[8] = "{threads}";  // not known until the runner plans the workers
  EXPECT_EQ(stored_command(spec.trainer, trial, dir), stored);
}

TEST_F(TrainerSpecTest, ATrainerIsPartOfTheTrialKeyAndWithoutOneKeysAreUnchanged) {
  const std::string plain = ladder_spec(tiny_config(), "[-7, -6]");
  const Expansion moet = expand_sweep(parse_sweep_spec(plain, "spec.toml"));
  for (const Trial& t : moet.trials)  // the key moet always gave: its hash covers the config
    EXPECT_EQ(t.key.substr(t.key.size() - 8), fnv1a_hex(t.config_toml).substr(0, 8)) << t.key;
  const Expansion torch =
      expand_sweep(parse_sweep_spec(with_trainer(plain, "/bin/sh a.sh {out}"), "spec.toml"));
  const Expansion other =
      expand_sweep(parse_sweep_spec(with_trainer(plain, "/bin/sh b.sh {out}"), "spec.toml"));
  ASSERT_EQ(torch.trials.size(), moet.trials.size());
  for (size_t i = 0; i < moet.trials.size(); ++i) {
    EXPECT_EQ(torch.trials[i].config_toml, moet.trials[i].config_toml);
    EXPECT_NE(torch.trials[i].key, moet.trials[i].key);
    EXPECT_NE(torch.trials[i].key, other.trials[i].key);
  }
  EXPECT_NE(torch.hash, moet.hash);
}

TEST_F(TrainerSpecTest, TheTrialGetsItsConfigAndItsResolvedTable) {
  const SweepSpec spec = parse_sweep_spec(
      with_trainer(ladder_spec(tiny_config(), "[-7]", "[1, 2]"), "/bin/sh {out}"), "spec.toml");
  const Expansion expansion = expand_sweep(spec);
  const Trial& trial = expansion.trials.back();  // scale 2: N 32
  make_dirs(path("run"));
  write_trainer_inputs(trial, path("run"), 3);
  const Config config = Config::load(full_config_schema(), path("run/trial-config.toml"), {});
  EXPECT_EQ(config.get_int("model.N"), 32);
  EXPECT_EQ(config.get_int("param.base.N"), 16);
  EXPECT_EQ(config.get_int("train.threads"), 3);
  const auto table = nlohmann::json::parse(read_file(path("run/trial-table.json")));
  EXPECT_EQ(table.at("preset"), "completep-moe");
  EXPECT_EQ(table.at("target").at("N"), 32);
  EXPECT_EQ(table.at("globals").at("lr"), std::exp2(-7));
}

}  // namespace
}  // namespace moet::sweep
