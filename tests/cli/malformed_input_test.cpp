// The malformed-input table: the real `moet` binary on bad configs, command lines, token shards,
// tokenizer files, checkpoints, sweep specs, sweep databases and transfer inputs, one row each.
//
// Every row must end the way bad input ends (the one-line rule of core/error.h): exit status 2,
// never a signal (abort, segfault) or a hang; stderr exactly one printable line that starts with
// "moet" and names the problem (the row's substring); and the good files the row builds on
// (config, shards, tokenizer, checkpointed run, sweep database) byte-identical afterwards. The
// children run with their address space capped, so a row that still tried an absurd allocation
// would fail at once instead of exhausting the machine. MOET_TEST_BINARY=path runs the rows
// against another build of moet, which also trains the good run (the sweep database is written
// by this build's library).
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>

#include "../analysis/report_fixture.h"
#include "../support/run_binary.h"
#include "core/files.h"
#include "data/embedded.h"
#include "data/shard.h"
#include "sweep/spec.h"
#include "sweep/sqlite.h"

namespace moet::testing {
namespace {

namespace fs = std::filesystem;

// A file (or directory) a row crafts in its own directory before running.
struct Craft {
  std::string path;  // relative to the row's directory
  std::string bytes;
  bool directory = false;
};

Craft dir(const std::string& path) { return {path, "", true}; }

struct Row {
  std::string name;
  std::vector<Craft> files;
  // The arguments after the binary; "$G" stands for the good files' directory, "$C" for the
  // row's own.
  std::vector<std::string> args;
  std::string message;                // the error line must contain it
  bool copy_run = false;              // start from a copy of the good checkpointed run at $C/run
  std::vector<std::string> env = {};  // "K=V" added to the environment
};

#if defined(__SANITIZE_ADDRESS__)
constexpr int64_t kAddressSpace = 0;  // ASan reserves terabytes of shadow memory up front
#else
constexpr int64_t kAddressSpace = int64_t(4) << 30;
#endif

std::string shard_bytes(const std::vector<int32_t>& header, const std::string& payload) {
  std::vector<int32_t> words(256, 0);
  std::copy(header.begin(), header.end(), words.begin());
  return std::string(reinterpret_cast<const char*>(words.data()), 1024) + payload;
}

std::string uint16_tokens(int count, uint16_t value) {
  std::string out;
  for (int i = 0; i < count; ++i) out.append(reinterpret_cast<const char*>(&value), 2);
  return out;
}

// The safetensors file with its JSON header edited (the data section kept as it is).
std::string edit_header(const std::string& file, const std::function<void(nlohmann::json&)>& edit) {
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(file[size_t(i)])) << (8 * i);
  nlohmann::json header = nlohmann::json::parse(file.substr(8, n));
  edit(header);
  const std::string text = header.dump();
  std::string out;
  for (int i = 0; i < 8; ++i) out += char((uint64_t(text.size()) >> (8 * i)) & 0xff);
  return out + text + file.substr(8 + n);
}

std::string edit_json(const std::string& text, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::ordered_json json = nlohmann::ordered_json::parse(text);
  nlohmann::json plain = json;
  edit(plain);
  return plain.dump(1);
}

// Every regular file under root except the rows' directories, with its bytes.
std::map<std::string, std::string> snapshot(const fs::path& root, const fs::path& skip) {
  std::map<std::string, std::string> files;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    if (it->path() == skip) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) files[it->path().string()] = read_file(it->path().string());
  }
  return files;
}

bool printable_line(const std::string& text) {
  if (text.empty() || text.back() != '\n') return false;
  for (size_t i = 0; i + 1 < text.size(); ++i)
    if (text[i] < 0x20 || text[i] > 0x7e) return false;
  return true;
}

class MalformedInputTest : public ReportFixture {
 protected:
  // The binary under test: MOET_TEST_BINARY, e.g. a build from before a fix, or this build's.
  static std::string binary() {
    const char* other = std::getenv("MOET_TEST_BINARY");
    return other && *other ? other : MOET_BINARY;
  }
  std::string good(const std::string& name) const { return path(name); }
  std::string run_file(const std::string& name) const {
    return read_file(path("run/" + checkpoint_dir_ + "/" + name));
  }

  // The good inputs every row builds on.
  void make_goods() {
    // The spec's [config] table, as a config file of its own.
    write_file_atomic(path("config.toml"),
                      tiny_config("", 2).substr(std::string("[config]\n").size()));
    make_dirs(path("tok"));
    write_file_atomic(path("tok/encoder.json"),
                      std::string(embedded_file("tokenizer/encoder.json")));
    write_file_atomic(path("tok/vocab.bpe"), std::string(embedded_file("tokenizer/vocab.bpe")));
    write_file_atomic(path("text.txt"), "A few words to tokenize.\n\nAnd a second document.\n");
    write_file_atomic(path("spec.toml"), spec_text("scales = [1, 2]"));
    make_database();  // synthetic.sqlite, synthetic.toml
    // Stopped after its first step, so a resume must read the checkpoint (a finished run is left
    // as it is without reading one).
    const ProcessResult trained = run_process(binary(),
                                              {"train", "--quiet", "--config", path("config.toml"),
                                               "--out", path("run"), "--stop-after", "1"},
                                              dir_.string());
    ASSERT_EQ(trained.exit_code, 0) << trained.err;
    checkpoint_dir_ = read_file(path("run/latest"));
    checkpoint_dir_.pop_back();
  }

  std::string spec_text(const std::string& scales, const std::string& grid = "lr_log2 = [-6, -5]",
                        const std::string& preset = "sp") const {
    return tiny_config() + "[grid]\n" + grid + "\n[[preset]]\nname = \"" + preset +
           "\"\n[[ladder]]\nname = \"w\"\naxes = [\"N\"]\n" + scales + "\n";
  }

  std::vector<Row> config_rows() const;
  std::vector<Row> cli_rows() const;
  std::vector<Row> shard_rows() const;
  std::vector<Row> tokenizer_rows() const;
  std::vector<Row> checkpoint_state_rows() const;
  std::vector<Row> checkpoint_tensor_rows() const;
  std::vector<Row> sweep_rows() const;
  std::vector<Row> database_rows() const;

  std::string checkpoint_dir_;
};

// `moet train --config $C/bad.toml` with a config that differs from the good one by `text`.
Row config_row(const std::string& name, const std::string& text, const std::string& message) {
  return {name,
          {{"bad.toml", text}},
          {"train", "--quiet", "--config", "$C/bad.toml", "--out", "$C/run"},
          message};
}

// The good config with one override.
Row set_row(const std::string& name, const std::string& assignment, const std::string& message) {
  return {
      name,
      {},
      {"train", "--quiet", "--config", "$G/config.toml", "--set", assignment, "--out", "$C/run"},
      message};
}

// The default model (bundled data) with one override.
Row absurd_row(const std::string& name, const std::string& assignment, const std::string& message) {
  return {name, {}, {"train", "--quiet", "--set", assignment, "--out", "$C/run"}, message};
}

std::vector<Row> MalformedInputTest::config_rows() const {
  return {
      config_row("config: TOML syntax error", "[model\nN = 1\n", "bad.toml:1:7: invalid TOML"),
      config_row("config: unknown key", "[model]\nNn = 3\n", "unknown config key 'model.Nn'"),
      config_row("config: string for an integer", "[model]\nN = \"wide\"\n",
                 "model.N: expected an integer"),
      config_row("config: float for an integer", "[model]\nN = 1e3\n",
                 "model.N: expected an integer"),
      config_row("config: N not a multiple of d_head", "[model]\nN = 100\n",
                 "model.N: must be divisible by model.d_head"),
      config_row("config: K above M", "[model]\nK = 9\n", "model.K: must not exceed model.M"),
      config_row("config: negative depth", "[model]\nL = -1\n", "model.L: must be positive"),
      config_row("config: unknown norm", "[model]\nnorm = \"batchnorm\"\n",
                 "model.norm: 'batchnorm' is not one of"),
      set_row("config: unknown positions", "model.pos=alibi",
              "model.pos: 'alibi' is not one of learned|rope"),
      set_row("config: unknown activation", "model.act=relu",
              "model.act: 'relu' is not one of gelu|swiglu"),
      set_row("config: unknown router score", "model.router_score=tanh",
              "model.router_score: 'tanh' is not one of sigmoid|softmax"),
      set_row("config: unknown optimizer", "optim.name=lion",
              "optim.name: 'lion' is not one of adam|adamw|sgd"),
      set_row("config: unknown schedule", "optim.schedule=linear",
              "optim.schedule: 'linear' is not one of constant|cosine|wsd"),
      set_row("config: unknown precision", "train.precision=fp16",
              "train.precision: 'fp16' is not one of fp32|bf16"),
      set_row("config: unknown depth rule", "param.depth=deep",
              "param.depth: 'deep' is not one of preset|"),
      set_row("config: unknown regime", "param.regime=IV",
              "param.regime: 'IV' is not one of auto|I|II|III"),
      config_row("config: invalid UTF-8", "\xff\xfe\x01garbage", "invalid TOML"),
      {"config: a directory",
       {dir("conf.d")},
       {"train", "--quiet", "--config", "$C/conf.d", "--out", "$C/run"},
       "conf.d: is a directory, not a file"},
      {"config: missing file",
       {},
       {"train", "--quiet", "--config", "$C/none.toml", "--out", "$C/run"},
       "none.toml: cannot open"},
      // The sizes of the issue on the default model (Ne x10, for terabytes on any machine).
      absurd_row("config: absurd model.N", "model.N=1000000", "memory: "),
      absurd_row("config: absurd model.Ne", "model.Ne=10000000", "memory: "),
      absurd_row("config: absurd model.M", "model.M=100000000", "memory: "),
      absurd_row("config: absurd model.seq", "model.seq=100000000", "memory: "),
      absurd_row("config: absurd train.batch", "train.batch=1000000000", "memory: "),
      absurd_row("config: absurd model.vocab", "model.vocab=2000000000", "memory: "),
      absurd_row("config: absurd model.L", "model.L=100000000", "model.L: 100000000 blocks make"),
      set_row("config: model.N past int32", "model.N=9000000000000", "model.N: at most 2147483647"),
      config_row("config: parameters past int64",
                 "[model]\nN = 1073741824\nNe = 2147483647\nM = 2147483647\n",
                 "takes the parameter count past int64"),
      set_row("config: train.max_memory exceeded", "train.max_memory=1MiB",
              "allowed by train.max_memory"),
      set_row("config: train.max_memory not a size", "train.max_memory=lots",
              "train.max_memory: 'lots' is not a size"),
      set_row("config: train.attention unknown", "train.attention=fast",
              "train.attention: 'fast' is not one of"),
      set_row("config: train.recompute unknown", "train.recompute=all",
              "train.recompute: 'all' is not one of none|attention|block"),
      set_row("config: tokens per step past int64", "train.accum=4611686018427387904",
              "train.accum: 4 x 4611686018427387904 sequences"),
  };
}

std::vector<Row> MalformedInputTest::cli_rows() const {
  const auto params = [](std::vector<std::string> more) {
    std::vector<std::string> args = {"params"};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  return {
      {"cli: unknown command", {}, {"frobnicate"}, "unknown command 'frobnicate'"},
      {"cli: unknown flag", {}, {"train", "--bogus"}, "--bogus"},
      {"cli: flag without its value", {}, {"train", "--config"}, "--config"},
      {"cli: missing required argument", {}, {"report", "--out", "$C/r"}, "db is required"},
      {"cli: --set without =",
       {},
       params({"--set", "model.N"}),
       "--set 'model.N': expected key=value"},
      {"cli: --set without key", {}, params({"--set", "=3"}), "--set '=3': expected key=value"},
      {"cli: --set unknown key",
       {},
       params({"--set", "model.Q=3"}),
       "unknown config key 'model.Q'"},
      {"cli: --set bad integer",
       {},
       params({"--set", "model.N=abc"}),
       "model.N: expected an integer"},
      set_row("cli: 100000 threads", "train.threads=100000", "train.threads: at most 1024"),
      set_row("cli: negative threads", "train.threads=-2", "train.threads: must not be negative"),
      {"cli: 100000 threads from OMP_NUM_THREADS",
       {},
       {"data", "info"},
       "moet data: OMP_NUM_THREADS: 100000 threads, more than 1024",
       false,
       {"OMP_NUM_THREADS=100000"}},
      {"cli: --out and --resume",
       {},
       {"train", "--out", "$C/a", "--resume", "$C/b"},
       "give exactly one of --out DIR or --resume DIR"},
      {"cli: negative --stop-after",
       {},
       {"train", "--config", "$G/config.toml", "--out", "$C/run", "--stop-after", "-1"},
       "--stop-after: must not be negative"},
      {"cli: unknown bench config",
       {},
       {"bench", "--config", "huge"},
       "'huge' is not one of tiny|small"},
      {"cli: absurd bench model", {}, {"bench", "--set", "model.N=1000000"}, "memory: "},
      {"cli: unknown coord axis", {}, {"coord", "--axis", "Q"}, "--axis: 'Q' is not one of"},
      {"cli: coord ladder too large",
       {},
       {"coord", "--quiet", "--config", "$G/config.toml", "--axis", "N", "--scales", "1,100000"},
       "scale 100000: memory: "},
      {"cli: coord scale past int32",
       {},
       {"coord", "--quiet", "--config", "$G/config.toml", "--axis", "N", "--scales", "1,1e30"},
       "--scales: scale 1e+30 gives N"},
      {"cli: negative --trial",
       {},
       {"sweep", "$G/spec.toml", "--db", "$C/s.db", "--trial", "-1"},
       "--trial: must not be negative"},
  };
}

std::vector<Row> MalformedInputTest::shard_rows() const {
  const auto info = [](const std::string& train) {
    return std::vector<std::string>{
        "data", "info", "--set", "data.train=" + train, "--set", "data.val=$G/val.bin"};
  };
  const std::string payload = uint16_tokens(100, 1);
  return {
      {"shard: bad magic",
       {{"bad.bin", shard_bytes({1234, 1, 100}, payload)}},
       info("$C/bad.bin"),
       "not an llm.c token shard (magic 1234"},
      {"shard: truncated",
       {{"bad.bin", shard_bytes({kShardMagic, 1, 1000}, payload)}},
       info("$C/bad.bin"),
       "truncated token shard: header says 1000 tokens"},
      {"shard: shorter than the header",
       {{"bad.bin", "abc"}},
       info("$C/bad.bin"),
       "shorter than the 1024-byte llm.c header"},
      {"shard: trailing bytes",
       {{"bad.bin", shard_bytes({kShardMagic, 1, 10}, payload)}},
       info("$C/bad.bin"),
       "corrupt token shard: header says 10 tokens"},
      {"shard: unknown version",
       {{"bad.bin", shard_bytes({kShardMagic, 7, 100}, payload)}},
       info("$C/bad.bin"),
       "unsupported token shard version 7"},
      {"shard: negative count",
       {{"bad.bin", shard_bytes({kShardMagic, 1, -5}, payload)}},
       info("$C/bad.bin"),
       "negative token count -5"},
      {"shard: uint32 id past int32",
       {{"bad.bin", shard_bytes({kShardMagic, 2, 1}, std::string("\xff\xff\xff\xff", 4))}},
       info("$C/bad.bin"),
       "token id 4294967295 does not fit int32"},
      {"shard: directory without shards",
       {dir("shards")},
       info("$C/shards"),
       "no train shards (*train*.bin) in directory"},
      {"shard: missing file", {}, info("$C/none.bin"), "data.train: '$C/none.bin' does not exist"},
      {"shard: ids at or past model.vocab",
       {{"big.bin", shard_bytes({kShardMagic, 1, 100}, uint16_tokens(100, 60000))}},
       {"train", "--quiet", "--config", "$G/config.toml", "--set", "data.train=$C/big.bin", "--out",
        "$C/run"},
       "model.vocab: 64 is smaller than the data's vocabulary (60001)"},
      {"shard: ids past the tokenizer",
       {{"big.bin", shard_bytes({kShardMagic, 1, 100}, uint16_tokens(100, 60000))}},
       {"data", "info", "--set", "data.train=$C/big.bin", "--set", "data.val=$G/val.bin", "--set",
        "data.tokenizer=$G/tok"},
       "the tokens reach id 60000, outside the vocabulary of tokenizer"},
      set_row("shard: data.vocab_size below the ids", "data.vocab_size=32",
              "data.vocab_size: 32 is too small"),
      {"shard: bundled val with shard training",
       {},
       {"data", "info", "--set", "data.train=$G/train.bin"},
       "data.val: 'bundled' goes with bundled training data"},
  };
}

std::vector<Row> MalformedInputTest::tokenizer_rows() const {
  const std::string encoder = read_file(path("tok/encoder.json"));
  const std::string merges = read_file(path("tok/vocab.bpe"));
  const auto tokenizer = [&](const std::string& name, const std::string& enc,
                             const std::string& bpe, const std::string& message) {
    return Row{
        name,
        {{"tok/encoder.json", enc}, {"tok/vocab.bpe", bpe}},
        {"data", "prepare", "--tokenizer", "$C/tok", "--input", "$G/text.txt", "--out", "$C/out"},
        message};
  };
  const auto with = [&](const std::function<void(nlohmann::json&)>& edit) {
    return edit_json(encoder, edit);
  };
  return {
      tokenizer("tokenizer: one huge id",
                with([](nlohmann::json& e) { e["<|huge|>"] = 1073741823; }), merges,
                "token \"<|huge|>\" has id \"1073741823\", expected an integer in [0, 2049)"),
      tokenizer("tokenizer: duplicate id", with([](nlohmann::json& e) { e["zzz"] = 5; }), merges,
                "is given to two tokens"),
      tokenizer("tokenizer: negative id", with([](nlohmann::json& e) { e["zzz"] = -1; }), merges,
                "token \"zzz\" has id \"-1\""),
      tokenizer("tokenizer: fractional id", with([](nlohmann::json& e) { e["zzz"] = 2048.5; }),
                merges, "token \"zzz\" has id \"2048.5\""),
      tokenizer("tokenizer: bad JSON", "{\"a\": 0,, }", merges,
                "encoder.json: invalid JSON at byte"),
      tokenizer("tokenizer: not an object", "[1, 2]", merges,
                "encoder.json: expected a JSON object"),
      tokenizer("tokenizer: merge of unknown tokens", encoder, merges + "zz qq\n",
                "vocab.bpe:1793: token \"zz\" is not in"),
      tokenizer("tokenizer: merge line of three tokens", encoder, merges + "a b c\n",
                "vocab.bpe:1793: expected two tokens separated by one space"),
      tokenizer("tokenizer: merge of invalid UTF-8", encoder, "#version: 0.2\n\xff \xfe\n",
                "vocab.bpe:2: token \"\\xff\" is not in"),
      tokenizer("tokenizer: a byte token missing", with([](nlohmann::json& e) {
                  e["zzz"] = e["!"];
                  e.erase("!");
                }),
                merges, "byte token \"!\" (byte 33) is missing"),
      {"tokenizer: encoder.json is a directory",
       {dir("tok/encoder.json"), {"tok/vocab.bpe", merges}},
       {"data", "prepare", "--tokenizer", "$C/tok", "--input", "$G/text.txt", "--out", "$C/out"},
       "encoder.json: is a directory, not a file"},
      {"tokenizer: no such directory",
       {},
       {"data", "prepare", "--tokenizer", "$C/none", "--input", "$G/text.txt", "--out", "$C/out"},
       "not a tokenizer directory"},
      {"tokenizer: input text is a directory",
       {dir("text")},
       {"data", "prepare", "--input", "$C/text", "--out", "$C/out"},
       "text: is a directory"},
  };
}

std::vector<Row> MalformedInputTest::checkpoint_state_rows() const {
  const std::string ckpt = "run/" + checkpoint_dir_ + "/";
  const std::vector<std::string> resume = {"train", "--quiet", "--resume", "$C/run"};
  const auto row = [&](const std::string& name, const std::string& file, const std::string& bytes,
                       const std::string& message) {
    return Row{name, {{ckpt + file, bytes}}, resume, message, true};
  };
  const auto model_with = [&](const std::function<void(nlohmann::json&)>& edit) {
    return edit_header(run_file("model.safetensors"), edit);
  };
  const auto state_with = [&](const std::function<void(nlohmann::json&)>& edit) {
    return edit_json(run_file("state.json"), edit);
  };
  const std::string optimizer = run_file("optimizer.safetensors");
  const std::string lr_as_text = model_with([](nlohmann::json& h) {
    auto p = nlohmann::json::parse(h["__metadata__"]["parameterization"].get<std::string>());
    p["tensors"][0]["lr"] = "fast";
    h["__metadata__"]["parameterization"] = p.dump();
  });
  return {
      row("checkpoint: state.json without its keys", "state.json", "{}",
          "state.json: field first_loss: missing"),
      row("checkpoint: state.json not JSON", "state.json",
          "{\"first_loss\": ", "state.json: invalid JSON at byte"),
      row("checkpoint: loader batch as text", "state.json",
          state_with([](nlohmann::json& s) { s["train_loader"]["B"] = "2"; }),
          "state.json: field train_loader.B: expected an integer >= 1, got \"2\""),
      row("checkpoint: loader rng not hex", "state.json",
          state_with([](nlohmann::json& s) { s["train_loader"]["rng"][1] = "xyz"; }),
          "state.json: field train_loader.rng: expected an array of 4 hex words"),
      row("checkpoint: loss is null", "state.json",
          state_with([](nlohmann::json& s) { s["smoothed_loss"] = nullptr; }),
          "state.json: field smoothed_loss: expected a number, got \"null\""),
      row("checkpoint: loader without its window", "state.json",
          state_with([](nlohmann::json& s) { s["train_loader"].erase("next_window"); }),
          "state.json: field train_loader.next_window: missing"),
      {"checkpoint: state.json is a directory",
       {dir(ckpt + "state.json")},
       resume,
       "state.json: is a directory, not a file",
       true},
      row("checkpoint: non-numeric optimizer_steps", "optimizer.safetensors",
          edit_header(optimizer,
                      [](nlohmann::json& h) { h["__metadata__"]["optimizer_steps"] = "abc"; }),
          "optimizer.safetensors: field optimizer_steps: expected an integer >= 0, got \"abc\""),
      row("checkpoint: non-numeric step", "model.safetensors",
          model_with([](nlohmann::json& h) { h["__metadata__"]["step"] = "12x"; }),
          "model.safetensors: field step: expected an integer >= 0, got \"12x\""),
      row("checkpoint: metadata value not a string", "model.safetensors",
          model_with([](nlohmann::json& h) { h["__metadata__"]["step"] = 2; }),
          "__metadata__: field \"step\": expected a string, got number"),
      row("checkpoint: latest names a missing directory", "../latest", "ckpt-999999999\n",
          "ckpt-999999999/model.safetensors: cannot open"),
      row("checkpoint: latest with a slash", "../latest", "../../etc\n",
          "corrupt checkpoint pointer"),
      {"checkpoint: parameterization not JSON",
       {{ckpt + "model.safetensors",
         model_with([](nlohmann::json& h) { h["__metadata__"]["parameterization"] = "{"; })}},
       {"params", "--run", "$C/run"},
       "field parameterization: invalid JSON at byte 1",
       true},
      {"checkpoint: parameterization field of the wrong type",
       {{ckpt + "model.safetensors", lr_as_text}},
       {"params", "--run", "$C/run"},
       "run (checkpoint metadata): parameterization: tensors[0].lr: wrong type",
       true},
      {"checkpoint: parameterization with an unknown optimizer",
       {{ckpt + "model.safetensors", model_with([](nlohmann::json& h) {
           auto p = nlohmann::json::parse(h["__metadata__"]["parameterization"].get<std::string>());
           p["optimizer"] = "lion";
           h["__metadata__"]["parameterization"] = p.dump();
         })}},
       {"params", "--run", "$C/run"},
       "parameterization: optimizer: 'lion' is not one of adam|adamw|sgd",
       true},
      row("checkpoint: parameterization field of the wrong type, resuming", "model.safetensors",
          lr_as_text, "run (checkpoint metadata): parameterization: tensors[0].lr: wrong type"),
      {"checkpoint: resume from a directory without a run",
       {dir("empty")},
       {"train", "--resume", "$C/empty"},
       "not a run directory (no config.toml)"},
  };
}

std::vector<Row> MalformedInputTest::checkpoint_tensor_rows() const {
  const std::string file = "run/" + checkpoint_dir_ + "/model.safetensors";
  const std::string model = run_file("model.safetensors");
  const auto row = [&](const std::string& name, const std::string& bytes,
                       const std::string& message) {
    return Row{name, {{file, bytes}}, {"train", "--quiet", "--resume", "$C/run"}, message, true};
  };
  using Edit = std::function<void(nlohmann::json&)>;
  const auto with = [&](const Edit& edit) { return edit_header(model, edit); };
  const std::string garbage = "{\"" + std::string(300, 'x') + "\xff\xfe\x1b[31m";
  std::string garbage_file;
  for (int i = 0; i < 8; ++i) garbage_file += char((garbage.size() >> (8 * i)) & 0xff);
  const std::string bad_shape = "tensor \"embed\": field shape: ";
  return {
      row("checkpoint: shape whose byte size wraps to 0", with([](nlohmann::json& h) {
            h["embed"]["shape"] = {int64_t(1) << 62};
            h["embed"]["data_offsets"] = {0, 0};
          }),
          bad_shape + "[4611686018427387904] is too large"),
      row("checkpoint: shape past int64",
          with([](nlohmann::json& h) { h["embed"]["shape"] = {uint64_t(1) << 63}; }),
          bad_shape + "expected an array of non-negative integers"),
      row("checkpoint: fractional shape", with([](nlohmann::json& h) {
            h["embed"]["shape"] = {64.5, 16};
          }),
          bad_shape + "expected an array of non-negative integers"),
      row("checkpoint: shape that is not the model's", with([](nlohmann::json& h) {
            h["embed"]["shape"] = {16, 64};
          }),
          "tensor embed has the wrong shape"),
      row("checkpoint: F16 tensor", with([](nlohmann::json& h) { h["embed"]["dtype"] = "F16"; }),
          "tensor \"embed\": field dtype: \"F16\" (moet reads F32)"),
      row("checkpoint: unknown tensor field",
          with([](nlohmann::json& h) { h["embed"]["stride"] = 1; }),
          "tensor \"embed\": unknown field \"stride\""),
      row("checkpoint: byte range past the data", with([](nlohmann::json& h) {
            h["embed"]["data_offsets"] = {0, 1u << 30};
          }),
          "tensor \"embed\": field data_offsets: [0, 1073741824] runs past"),
      row("checkpoint: overlapping tensors", with([](nlohmann::json& h) {
            const nlohmann::json& at = h["pos_embed"]["data_offsets"];
            h["pos_embed"]["data_offsets"] = {0, at[1].get<int64_t>() - at[0].get<int64_t>()};
          }),
          "field data_offsets: bytes [0, "),
      row("checkpoint: truncated data", model.substr(0, model.size() / 2), "runs past the"),
      row("checkpoint: corrupt header", garbage_file + garbage,
          "model.safetensors: safetensors header: invalid JSON at byte 302: \"xxxx"),
      row("checkpoint: header longer than the file",
          std::string("\xff\xff\xff\x00\x00\x00\x00\x00{}", 10), "truncated safetensors file"),
      row("checkpoint: three bytes", "abc", "not a safetensors file (only 3 bytes)"),
  };
}

std::vector<Row> MalformedInputTest::sweep_rows() const {
  const auto sweep = [](const std::string& name, const std::string& spec,
                        const std::string& message) {
    return Row{name, {{"spec.toml", spec}}, {"sweep", "$C/spec.toml", "--db", "$C/s.db"}, message};
  };
  return {
      sweep("sweep: TOML syntax error", "[[[", "spec.toml:1:3: invalid TOML"),
      sweep("sweep: unknown preset", spec_text("scales = [1, 2]", "lr_log2 = [-6]", "nosuch"),
            "param.preset: unknown preset 'nosuch'"),
      sweep("sweep: empty LR grid", spec_text("scales = [1, 2]", "lr_log2 = []"),
            "[grid]: lr: empty"),
      sweep("sweep: empty scales", spec_text("scales = []"), "ladder 'w': scales: empty"),
      sweep("sweep: empty seeds", spec_text("scales = [1, 2]", "lr_log2 = [-6]\nseeds = []"),
            "seeds: expected a non-empty array of integers"),
      sweep("sweep: absurd ladder scale", spec_text("scales = [1, 100000]"),
            "ladder 'w', scale 100000 (preset sp): memory: "),
      sweep("sweep: ladder scale past int32", spec_text("scales = [1, 1e300]"),
            "scale 1e+300: N = 16 x 1e+300 is more than 2147483647"),
      sweep("sweep: LR range of a typo",
            spec_text("scales = [1, 2]", "lr_log2 = { from = -10, to = 1e300 }"),
            "lr_log2: 1e+300 values; that is not a grid but a typo"),
      sweep("sweep: unknown top-level key", "colour = 1\n" + spec_text("scales = [1, 2]"),
            "top level: unknown key 'colour'"),
      sweep("sweep: unknown axis",
            tiny_config() + "[grid]\nlr_log2 = [-6]\n[[preset]]\nname = \"sp\"\n[[ladder]]\n"
                            "name = \"w\"\naxes = [\"width\"]\nscales = [1, 2]\n",
            "axes: 'width' is not one of N|Ne|M|K|L"),
      sweep("sweep: no preset", tiny_config() + "[grid]\nlr_log2 = [-6]\n", "no [[preset]]"),
      {"sweep: spec is a directory",
       {dir("spec.toml")},
       {"sweep", "$C/spec.toml", "--db", "$C/s.db"},
       "spec.toml: is a directory, not a file"},
  };
}

std::vector<Row> MalformedInputTest::database_rows() const {
  const auto report = [](const std::string& db) {
    return std::vector<std::string>{"report", db, "--out", "$C/report"};
  };
  const auto transfer = [](const std::string& db, const std::string& target) {
    return std::vector<std::string>{"transfer", "--db", db,      "--target", target,
                                    "--preset", "sp",   "--out", "$C/t.toml"};
  };
  return {
      {"report: not a database",
       {{"x.db", "just some text, long enough to not be empty\n"}},
       report("$C/x.db"),
       "x.db: cannot prepare"},
      {"report: empty file",
       {{"x.db", ""}},
       report("$C/x.db"),
       "x.db: not a moet sweep database (empty)"},
      {"report: missing database", {}, report("$C/none.db"), "none.db: no such database"},
      {"report: database is a directory",
       {dir("x.db")},
       report("$C/x.db"),
       "x.db: is a directory, not a file"},
      {"transfer: missing database",
       {},
       transfer("$C/none.db", "$G/config.toml"),
       "none.db: no such database"},
      {"transfer: target is a directory",
       {dir("target")},
       transfer("$G/synthetic.sqlite", "$C/target"),
       "target: is a directory, not a file"},
      {"transfer: missing target",
       {},
       transfer("$G/synthetic.sqlite", "$C/none.toml"),
       "none.toml: cannot open"},
      {"transfer: target with an unknown key",
       {{"target.toml", "[model]\nwidth = 3\n"}},
       transfer("$G/synthetic.sqlite", "$C/target.toml"),
       "unknown config key 'model.width'"},
      {"transfer: target too large to lay out",
       {{"target.toml", "[model]\nL = 100000000\n"}},
       transfer("$G/synthetic.sqlite", "$C/target.toml"),
       "model.L: 100000000 blocks make"},
  };
}

// Sweep databases with the wrong schema need SQLite to make; sqlite3's shell may be absent, so
// they are built through moet's own store and then damaged.
std::vector<Row> schema_rows(const std::string& good_db, const std::string& scratch) {
  std::vector<Row> rows;
  const auto damaged = [&](const std::string& name, const std::string& sql,
                           const std::string& message) {
    const std::string db = scratch + "/" + name + ".sqlite";
    fs::copy_file(good_db, db, fs::copy_options::overwrite_existing);
    sql::Db handle(db, sql::Access::read_write, 1000);
    handle.exec(sql);
    rows.push_back({"report: " + name, {}, {"report", db, "--out", "$C/report"}, message});
  };
  damaged("without a meta table", "DROP TABLE meta", "not a moet sweep database (no meta table)");
  damaged("other schema version", "UPDATE meta SET value = '9' WHERE key = 'schema_version'",
          "sweep database schema version '9'");
  damaged("without trials", "DROP TABLE ladder_points; DROP TABLE curves; DROP TABLE trials",
          "no such table: trials");
  damaged("unknown trial status", "UPDATE trials SET status = 'exploded'",
          "status 'exploded' is not one of pending|running|stopped|done|diverged|failed");
  return rows;
}

TEST_F(MalformedInputTest, EveryRowFailsWithOneLineAndLeavesGoodFilesAlone) {
  make_goods();
  ASSERT_FALSE(HasFailure());
  const fs::path cases = dir_ / "cases";
  make_dirs(cases.string());
  std::vector<Row> rows;
  for (auto part : {config_rows(), cli_rows(), shard_rows(), tokenizer_rows(),
                    checkpoint_state_rows(), checkpoint_tensor_rows(), sweep_rows(),
                    database_rows(), schema_rows(path("synthetic.sqlite"), path("cases"))})
    rows.insert(rows.end(), part.begin(), part.end());
  EXPECT_GE(rows.size(), 60u);
  const auto goods = snapshot(dir_, cases);

  int index = 0;
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    const std::string here = (cases / std::to_string(index++)).string();
    make_dirs(here);
    if (row.copy_run) fs::copy(path("run"), here + "/run", fs::copy_options::recursive);
    for (const Craft& f : row.files) {
      const fs::path target = fs::path(here) / f.path;
      fs::create_directories(target.parent_path());
      fs::remove_all(target);  // a file of the copied run the row replaces
      if (f.directory)
        fs::create_directories(target);
      else
        write_file_atomic(target.string(), f.bytes);
    }
    const auto expand = [&](std::string text) {
      for (const auto& [from, to] :
           {std::pair<std::string, std::string>{"$G", dir_.string()}, {"$C", here}})
        for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at))
          text.replace(at, from.size(), to), at += to.size();
      return text;
    };
    std::vector<std::string> args;
    for (const std::string& a : row.args) args.push_back(expand(a));
    const ProcessResult r = run_process(binary(), args, here, 60, kAddressSpace, row.env);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.signal, 0) << "killed by signal " << r.signal << ": " << r.err;
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_TRUE(printable_line(r.err)) << r.err;
    EXPECT_EQ(r.err.rfind("moet", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(expand(row.message)), std::string::npos)
        << "expected: " << expand(row.message) << "\ngot:      " << r.err;
    const auto after = snapshot(dir_, cases);
    for (const auto& [file, bytes] : goods)
      EXPECT_TRUE(after.count(file) && after.at(file) == bytes) << file << " changed";
    // New files beside the good ones: only SQLite's own, which a read-only reader of a WAL
    // database creates.
    for (const auto& [file, bytes] : after)
      EXPECT_TRUE(goods.count(file) || file.ends_with("-wal") || file.ends_with("-shm")) << file;
  }
}

}  // namespace
}  // namespace moet::testing
