// moet data: tokenize text into llm.c shards (prepare), or describe the data a config names (info).
#include <fmt/format.h>

#include <filesystem>
#include <regex>

#include "cli/command.h"
#include "core/error.h"
#include "core/files.h"
#include "core/timer.h"
#include "data/dataset.h"
#include "data/documents.h"
#include "data/embedded.h"
#include "data/shard.h"
#include "data/text_input.h"

namespace moet::cli {
namespace {

struct PrepareArgs {
  std::string tokenizer = "bundled";
  std::vector<std::string> inputs;
  std::string out;
  double val_fraction = 0.05;
  int64_t shard_tokens = 100'000'000;  // llm.c's FineWeb shards hold 10^8 tokens
};

// Writes tokens as prefix_000000.bin, prefix_000001.bin, ...; returns the number of shards.
int64_t write_shards(const std::string& dir, const std::string& prefix,
                     std::span<const int32_t> tokens, int64_t shard_tokens, int64_t vocab_size) {
  int64_t count = 0;
  for (size_t start = 0; start < tokens.size(); start += size_t(shard_tokens), ++count) {
    const size_t size = std::min(tokens.size() - start, size_t(shard_tokens));
    write_shard(fmt::format("{}/{}_{:06d}.bin", dir, prefix, count), tokens.subspan(start, size),
                vocab_size);
  }
  return count;
}

// Shards of an earlier, larger run in the same directory would silently join this data set.
void remove_stale_shards(const std::string& dir, int64_t train_shards, int64_t val_shards) {
  const std::regex ours(R"((train|val)_(\d{6})\.bin)");
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    std::smatch match;
    if (!std::regex_match(name, match, ours)) continue;
    const int64_t index = std::stoll(match[2]);
    if (index >= (match[1] == "train" ? train_shards : val_shards))
      std::filesystem::remove(entry.path());
  }
}

int prepare(const PrepareArgs& args) {
  if (!(args.val_fraction >= 0 && args.val_fraction < 0.5))
    fail("--val-fraction: must be in [0, 0.5) (got {})", args.val_fraction);
  if (args.shard_tokens < 1 || args.shard_tokens >= (int64_t(1) << 31))
    fail("--shard-tokens: must be in [1, 2^31) (got {})", args.shard_tokens);
  const Tokenizer tokenizer =
      args.tokenizer == "bundled" ? bundled_tokenizer() : Tokenizer::load(args.tokenizer);
  std::vector<std::string> texts;
  if (args.inputs.empty()) texts.push_back(bundled_text(BundledText::Sotu));
  for (const auto& path : args.inputs) texts.push_back(read_text_input(path));
  std::vector<std::string_view> documents;
  int64_t text_bytes = 0;
  for (const auto& text : texts) {
    for (auto document : split_documents(text)) documents.push_back(document);
    text_bytes += int64_t(text.size());
  }
  if (documents.empty()) fail("--input: no text to tokenize");
  const double read_s = now_s();
  const EncodedDocuments encoded = encode_documents(tokenizer, documents);
  const double encoded_s = now_s();
  const int64_t total = int64_t(encoded.tokens.size());
  if (args.val_fraction > 0 && total < 2)
    fail("--input: {} token(s) cannot be split into train and val", total);
  const int64_t split =
      args.val_fraction > 0 ? validation_start(encoded, args.val_fraction) : total;
  const std::span<const int32_t> all(encoded.tokens);

  make_dirs(args.out);
  const int64_t train_shards = write_shards(args.out, "train", all.first(size_t(split)),
                                            args.shard_tokens, tokenizer.vocab_size());
  const int64_t val_shards = write_shards(args.out, "val", all.subspan(size_t(split)),
                                          args.shard_tokens, tokenizer.vocab_size());
  remove_stale_shards(args.out, train_shards, val_shards);
  tokenizer.save(args.out);  // beside the shards, so `data.train = <out>` finds it
  const int64_t val_documents = int64_t(
      encoded.starts.end() - std::lower_bound(encoded.starts.begin(), encoded.starts.end(), split));
  fmt::print("{:.2f} MB of text, {} documents -> {} tokens ({:.2f} bytes/token) in {:.2f} s "
             "({:.2f} M tokens/s); train {} tokens in {} shard(s), val {} tokens (last {} "
             "documents) in {} shard(s) -> {}\n",
             double(text_bytes) / 1e6, documents.size(), total,
             double(text_bytes) / double(std::max<int64_t>(total, 1)), encoded_s - read_s,
             double(total) / 1e6 / std::max(encoded_s - read_s, 1e-9), split, train_shards,
             total - split, val_documents, val_shards, args.out);
  return kExitOk;
}

int info(const ConfigArgs& config_args) {
  const Config config = load_config(config_args);
  const double start_s = now_s();
  const Dataset data = Dataset::open(data_config_from(config));
  fmt::print("{}\nopened in {:.2f} s\n", data.describe(), now_s() - start_s);
  return kExitOk;
}

MOET_COMMAND(
    data,
    Command{
        "data",
        "tokenize text into llm.c .bin shards (prepare), or describe the configured data (info)",
        [](CLI::App& app) {
          auto args = std::make_shared<PrepareArgs>();
          auto config_args = std::make_shared<ConfigArgs>();
          app.require_subcommand(1);
          CLI::App* prepare_app = app.add_subcommand(
              "prepare", "tokenize text files (default: the bundled corpus) into train/val shards");
          prepare_app->add_option("--tokenizer", args->tokenizer,
                                  "bundled, or a directory with encoder.json + vocab.bpe");
          prepare_app
              ->add_option("--input", args->inputs,
                           "text file (.zst ok), blank lines separate documents (repeatable)")
              ->take_all();
          prepare_app->add_option("--out", args->out, "output directory")->required();
          prepare_app->add_option(
              "--val-fraction", args->val_fraction,
              "share of tokens for val: a tail of whole documents (default 0.05; 0 = none)");
          prepare_app->add_option("--shard-tokens", args->shard_tokens,
                                  "tokens per shard file (default 100000000)");
          CLI::App* info_app =
              app.add_subcommand("info", "open the data of a config (data.* keys) and describe it");
          add_config_options(*info_app, *config_args);
          return std::function<int()>([args, config_args, prepare_app] {
            return prepare_app->parsed() ? prepare(*args) : info(*config_args);
          });
        }});

}  // namespace
}  // namespace moet::cli
