// Config (core/config.h), the TOML + --set layer every command reads its settings through:
// nested tables as dotted keys, values checked against the declared type, unknown keys refused
// with a suggestion, --set applied in order on top of the file, one line per error naming the
// source and the key; and Config::to_toml, whose output must read back to the same values.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "../support/error_of.h"
#include "core/config.h"
#include "core/files.h"

namespace moet {
namespace {

using testing::error_of;

// One key of each type, in two nested tables and at the top level.
std::vector<KeySpec> typed_schema() {
  return {{"model.N", KeyType::Int, "64", "width"},
          {"model.attn.window", KeyType::Int, "0", "window"},
          {"optim.lr", KeyType::Float, "0.01", "learning rate"},
          {"optim.name", KeyType::String, "adam", "optimizer"},
          {"train.save", KeyType::Bool, "true", "write checkpoints"},
          {"seed", KeyType::Int, "1", "seed"}};
}

Config parse(const std::string& toml) { return Config::parse(typed_schema(), toml, "run.toml"); }

// The message must be a single line: it is what the user sees, before a non-zero exit.
void expect_one_line(const std::string& message, const std::string& want) {
  EXPECT_EQ(message, want);
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(ConfigParse, DefaultsHoldUntilGiven) {
  const Config c(typed_schema());
  EXPECT_EQ(c.get_int("model.N"), 64);
  EXPECT_EQ(c.get_float("optim.lr"), 0.01);
  EXPECT_EQ(c.get_string("optim.name"), "adam");
  EXPECT_TRUE(c.get_bool("train.save"));
  EXPECT_FALSE(c.is_given("model.N"));
}

TEST(ConfigParse, NestedTablesBecomeDottedKeys) {
  const Config c =
      parse("seed = 5\n[model]\nN = 128\n[model.attn]\nwindow = 4\n[optim]\nlr = 3\nname = 'sgd'\n"
            "[train]\nsave = false\n");
  EXPECT_EQ(c.get_int("seed"), 5);
  EXPECT_EQ(c.get_int("model.N"), 128);
  EXPECT_EQ(c.get_int("model.attn.window"), 4);
  EXPECT_EQ(c.get_float("optim.lr"), 3.0);  // an integer is a number
  EXPECT_EQ(c.get_string("optim.name"), "sgd");
  EXPECT_FALSE(c.get_bool("train.save"));
  EXPECT_TRUE(c.is_given("model.attn.window"));
  // Dotted keys and inline tables are the same keys.
  EXPECT_EQ(parse("model.attn.window = 9\n").get_int("model.attn.window"), 9);
  EXPECT_EQ(parse("model = { N = 32, attn = { window = 2 } }\n").get_int("model.attn.window"), 2);
}

TEST(ConfigParse, AValueOfTheWrongTypeIsOneLineNamingFileAndKey) {
  expect_one_line(error_of([] { parse("[model]\nN = 'big'\n"); }),
                  "run.toml: model.N: expected an integer");
  expect_one_line(error_of([] { parse("[model]\nN = 2.5\n"); }),
                  "run.toml: model.N: expected an integer");
  expect_one_line(error_of([] { parse("[optim]\nlr = '0.1'\n"); }),
                  "run.toml: optim.lr: expected a number");
  expect_one_line(error_of([] { parse("[optim]\nname = 3\n"); }),
                  "run.toml: optim.name: expected a string");
  expect_one_line(error_of([] { parse("[train]\nsave = 1\n"); }),
                  "run.toml: train.save: expected true or false");
  // A table where a value belongs is a key that does not exist.
  expect_one_line(error_of([] { parse("[model.N]\nx = 1\n"); }),
                  "run.toml: unknown config key 'model.N.x' (did you mean 'model.N'?)");
  expect_one_line(error_of([] { parse("[model]\nN = [1, 2]\n"); }),
                  "run.toml: model.N: expected an integer");
}

TEST(ConfigParse, UnknownKeysAreRefusedWithTheNearestKnownOne) {
  expect_one_line(error_of([] { parse("[model]\nNN = 3\n"); }),
                  "run.toml: unknown config key 'model.NN' (did you mean 'model.N'?)");
  expect_one_line(error_of([] { parse("[optim]\nlearning_rate = 3\n"); }),
                  "run.toml: unknown config key 'optim.learning_rate' (`moet config --list` shows "
                  "them all)");
  expect_one_line(error_of([] { Config(typed_schema()).set("optim.nmae", "sgd"); }),
                  "unknown config key 'optim.nmae' (did you mean 'optim.name'?)");
}

TEST(ConfigParse, InvalidTomlNamesFileLineAndColumn) {
  const std::string error = error_of([] { parse("seed = 1\n[model\nN = 3\n"); });
  EXPECT_EQ(error.rfind("run.toml:2:", 0), 0u) << error;
  EXPECT_NE(error.find("invalid TOML"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

TEST(ConfigSet, OverridesTheFileInOrder) {
  const std::string path = std::filesystem::temp_directory_path() /
                           ("moet_config_test_" + std::to_string(::getpid()) + ".toml");
  write_file_atomic(path, "[model]\nN = 128\n[optim]\nlr = 0.5\n");
  const Config c =
      Config::load(typed_schema(), path, {"model.N=256", "optim.name=sgd", "model.N=512"});
  std::filesystem::remove(path);
  EXPECT_EQ(c.get_int("model.N"), 512);     // the last --set wins
  EXPECT_EQ(c.get_float("optim.lr"), 0.5);  // from the file
  EXPECT_EQ(c.get_string("optim.name"), "sgd");
  EXPECT_TRUE(c.is_given("optim.name"));
  EXPECT_FALSE(c.is_given("seed"));
  // Without a file, the defaults under the overrides.
  EXPECT_EQ(Config::load(typed_schema(), "", {"seed=3"}).get_int("seed"), 3);
}

TEST(ConfigSet, ValuesAreParsedStrictlyByTheKeysType) {
  Config c(typed_schema());
  c.apply_set("model.N=-7");
  EXPECT_EQ(c.get_int("model.N"), -7);
  c.apply_set("optim.lr=1e-3");
  EXPECT_EQ(c.get_float("optim.lr"), 1e-3);
  c.apply_set("train.save=0");
  EXPECT_FALSE(c.get_bool("train.save"));
  c.apply_set("train.save=true");
  EXPECT_TRUE(c.get_bool("train.save"));
  c.apply_set("optim.name='a b=c'");  // quotes are taken off; '=' after the first is the value's
  EXPECT_EQ(c.get_string("optim.name"), "a b=c");
  for (const auto& [assignment, message] : std::vector<std::pair<std::string, std::string>>{
           {"model.N=12x", "--set: model.N: expected an integer, got '12x'"},
           {"model.N=", "--set: model.N: expected an integer, got ''"},
           {"model.N=1.5", "--set: model.N: expected an integer, got '1.5'"},
           {"model.N= 3", "--set: model.N: expected an integer, got ' 3'"},
           {"model.N=99999999999999999999", "--set: model.N: expected an integer, got "
                                            "'99999999999999999999'"},
           {"optim.lr=", "--set: optim.lr: expected a number, got ''"},
           {"optim.lr=0.1x", "--set: optim.lr: expected a number, got '0.1x'"},
           {"optim.lr=inf", "--set: optim.lr: expected a number, got 'inf'"},
           {"optim.lr=nan", "--set: optim.lr: expected a number, got 'nan'"},
           {"optim.lr=1e999", "--set: optim.lr: expected a number, got '1e999'"},
           {"train.save=yes", "--set: train.save: expected true or false, got 'yes'"},
           {"model.N", "--set 'model.N': expected key=value"},
           {"=3", "--set '=3': expected key=value"},
           {"model.M=3", "unknown config key 'model.M' (did you mean 'model.N'?)"}})
    expect_one_line(error_of([&] { c.apply_set(assignment); }), message);
  EXPECT_EQ(c.get_int("model.N"), -7) << "a refused --set leaves the value as it was";
}

TEST(ConfigSet, TextIsWhatSetWouldTake) {
  Config c(typed_schema());
  c.set("optim.lr", "0.25");
  EXPECT_EQ(c.get_text("optim.lr"), "0.25");
  EXPECT_EQ(c.get_text("train.save"), "true");
  EXPECT_EQ(c.get_text("model.N"), "64");
  Config copy(typed_schema());
  for (const KeySpec& s : c.schema()) copy.set(s.key, c.get_text(s.key));
  EXPECT_EQ(copy.to_toml(), c.to_toml());
}

TEST(ConfigToml, ReadsBackToTheSameValues) {
  Config c(typed_schema());
  for (const char* assignment : {"model.N=96", "model.attn.window=3", "optim.lr=2",
                                 "optim.name=it's \"q\"", "train.save=false", "seed=-4"})
    c.apply_set(assignment);
  const std::string toml = c.to_toml();
  EXPECT_NE(toml.find("[model.attn]\nwindow = 3\n"), std::string::npos) << toml;
  EXPECT_NE(toml.find("lr = 2.0\n"), std::string::npos) << toml;  // stays a float in TOML
  const Config back = parse(toml);
  for (const KeySpec& s : c.schema()) EXPECT_EQ(back.get_text(s.key), c.get_text(s.key)) << s.key;
}

TEST(ConfigHelpers, RefusalsNameTheKey) {
  EXPECT_EQ(join({"a", "b", "c"}, "|"), "a|b|c");
  EXPECT_EQ(join({}, ", "), "");
  expect_one_line(error_of([] { require_positive("model.N", 0); }),
                  "model.N: must be positive (got 0)");
  EXPECT_EQ(error_of([] { require_positive("model.N", 1); }), "");
  expect_one_line(error_of([] { require_non_negative("optim.wd", -0.5); }),
                  "optim.wd: must not be negative (got -0.5)");
  EXPECT_EQ(error_of([] { require_non_negative("optim.wd", 0.0); }), "");
  expect_one_line(error_of([] {
                    require_choice("model.norm", "batch", {"layernorm", "rmsnorm"});
                  }),
                  "model.norm: 'batch' is not one of layernorm|rmsnorm");
  EXPECT_EQ(require_choice("model.norm", "rmsnorm", {"layernorm", "rmsnorm"}), "rmsnorm");
}

std::vector<KeySpec> schema() {
  return {{"train.steps", KeyType::Int, "200", "steps"},
          {"train.max_memory", KeyType::String, "auto", "limit", true}};
}

// A key added for the machine must not change the stored config of a run that leaves it alone:
// checkpoints and sweep trial identities are made from to_toml().
TEST(ConfigToml, MachineKeysAppearOnlyWhenSet) {
  const Config defaults = Config::load(schema(), "", {});
  EXPECT_EQ(defaults.to_toml(), "[train]\nsteps = 200\n");
  const Config set = Config::load(schema(), "", {"train.max_memory=8GiB"});
  EXPECT_EQ(set.to_toml(), "[train]\nsteps = 200\nmax_memory = '8GiB'\n");
  EXPECT_EQ(Config::parse(schema(), set.to_toml(), "<string>").get_string("train.max_memory"),
            "8GiB");
}

}  // namespace
}  // namespace moet
