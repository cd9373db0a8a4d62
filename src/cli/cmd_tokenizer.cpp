// moet tokenizer: train a byte-level BPE tokenizer, or encode stdin with one (for tests, pipes).
#include <fmt/format.h>

#include <iostream>
#include <iterator>

#include "cli/command.h"
#include "core/error.h"
#include "core/timer.h"
#include "data/bpe_encoder.h"
#include "data/bpe_train.h"
#include "data/documents.h"
#include "data/embedded.h"
#include "data/text_input.h"

namespace moet::cli {
namespace {

struct TokenizerArgs {
  int64_t vocab = 2048;
  std::vector<std::string> inputs;
  std::string out;
  std::string tokenizer = "bundled";
};

int train(const TokenizerArgs& args) {
  const double start_s = now_s();
  PieceCounter counter;
  int64_t text_bytes = 0, documents = 0;
  const auto add = [&](const std::string& text) {
    for (std::string_view document : split_documents(text)) counter.add_text(document), ++documents;
    text_bytes += int64_t(text.size());
  };
  if (args.inputs.empty()) add(bundled_text(BundledText::Sotu));
  for (const auto& path : args.inputs) add(read_text_input(path));
  if (counter.counts().empty()) fail("--input: no text to train on");
  const double counted_s = now_s();
  const Tokenizer tokenizer = train_bpe(counter.counts(), args.vocab);
  const double trained_s = now_s();
  tokenizer.save(args.out);
  fmt::print("trained vocabulary {} ({} merges + 256 bytes + <|endoftext|>) on {:.2f} MB, {} "
             "documents, {} distinct pieces: counting {:.2f} s, merging {:.2f} s -> {}\n",
             tokenizer.vocab_size(), tokenizer.merge_count(), double(text_bytes) / 1e6, documents,
             counter.counts().size(), counted_s - start_s, trained_s - counted_s, args.out);
  if (tokenizer.vocab_size() < args.vocab)
    fmt::print("note: the text ran out of pairs to merge before vocabulary {}\n", args.vocab);
  return kExitOk;
}

int encode(const TokenizerArgs& args) {
  const Tokenizer tokenizer =
      args.tokenizer == "bundled" ? bundled_tokenizer() : Tokenizer::load(args.tokenizer);
  const std::string text{std::istreambuf_iterator<char>(std::cin),
                         std::istreambuf_iterator<char>()};
  const std::vector<int32_t> ids = encode_text(tokenizer, text);
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) line += fmt::format("{}{}", i ? " " : "", ids[i]);
  fmt::print("{}\n", line);
  return kExitOk;
}

MOET_COMMAND(
    tokenizer,
    Command{"tokenizer", "train a byte-level BPE tokenizer (GPT-2 files), or encode stdin with one",
            [](CLI::App& app) {
              auto args = std::make_shared<TokenizerArgs>();
              app.require_subcommand(1);
              CLI::App* train_app = app.add_subcommand(
                  "train", "train on text files (default: the bundled State of the Union corpus)");
              train_app->add_option(
                  "--vocab", args->vocab,
                  "vocabulary size incl. 256 bytes and <|endoftext|> (default 2048)");
              train_app
                  ->add_option("--input", args->inputs,
                               "text file (.zst ok), blank lines separate documents (repeatable)")
                  ->take_all();
              train_app->add_option("--out", args->out, "directory for encoder.json + vocab.bpe")
                  ->required();
              CLI::App* encode_app =
                  app.add_subcommand("encode", "print the token ids of stdin, space-separated");
              encode_app->add_option("--tokenizer", args->tokenizer,
                                     "bundled, or a directory with encoder.json + vocab.bpe");
              return std::function<int()>(
                  [args, train_app] { return train_app->parsed() ? train(*args) : encode(*args); });
            }});

}  // namespace
}  // namespace moet::cli
