#include "data/dataset.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "data/documents.h"
#include "data/embedded.h"

namespace moet {

namespace {

namespace fs = std::filesystem;

bool is_bundled(const std::string& spec) { return spec == "bundled"; }

// The shard files a data.train / data.val value names, sorted. A directory contributes its .bin
// files whose names contain `role` ("train" or "val"), llm.c's naming (fineweb_train_000001.bin).
std::vector<std::string> resolve_shards(const std::string& key, const std::string& spec,
                                        const std::string& role) {
  std::vector<std::string> paths;
  std::error_code ec;
  if (fs::is_directory(spec, ec)) {
    for (const auto& entry : fs::directory_iterator(spec, ec)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && name.ends_with(".bin") && name.find(role) != std::string::npos)
        paths.push_back(entry.path().string());
    }
    if (ec) fail("{}: cannot list directory '{}' ({})", key, spec, ec.message());
    if (paths.empty()) fail("{}: no {} shards (*{}*.bin) in directory '{}'", key, role, role, spec);
  } else if (spec.find_first_of("*?[") != std::string::npos) {
    glob_t matches{};
    const int status = ::glob(spec.c_str(), 0, nullptr, &matches);
    for (size_t i = 0; status == 0 && i < matches.gl_pathc; ++i)
      paths.push_back(matches.gl_pathv[i]);
    ::globfree(&matches);
    if (paths.empty()) fail("{}: no files match '{}'", key, spec);
  } else {
    if (!fs::exists(spec, ec)) fail("{}: '{}' does not exist", key, spec);
    paths.push_back(spec);
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

TokenStream open_shards(const std::vector<std::string>& paths) {
  TokenStream stream;
  for (const auto& path : paths) stream.add_shard(path);
  return stream;
}

std::shared_ptr<const Tokenizer> load_tokenizer(const std::string& dir) {
  try {
    return std::make_shared<const Tokenizer>(Tokenizer::load(dir));
  } catch (const Error& e) {
    fail("data.tokenizer: {}", e.what());
  }
}

std::string where(const std::vector<std::string>& paths) {
  if (paths.size() == 1) return paths[0];
  return fmt::format("{} shards {} .. {}", paths.size(), paths.front(), paths.back());
}

std::string count_text(int64_t tokens) {
  if (tokens < 10'000) return std::to_string(tokens);
  if (tokens < 1'000'000) return fmt::format("{:.1f}k", double(tokens) / 1e3);
  return fmt::format("{:.2f}M", double(tokens) / 1e6);
}

}  // namespace

Dataset Dataset::open(const DataConfig& config) {
  Dataset data;
  std::string train_where, val_where, tokenizer_where;
  std::vector<std::string> train_paths;

  if (!is_bundled(config.tokenizer)) {
    data.tokenizer_ = load_tokenizer(config.tokenizer);
    tokenizer_where = config.tokenizer;
  } else if (is_bundled(config.train)) {
    // Static storage: the shared_ptr must not delete it.
    data.tokenizer_ =
        std::shared_ptr<const Tokenizer>(&bundled_tokenizer(), [](const Tokenizer*) {});
    tokenizer_where = "bundled";
  }  // else: shards, whose tokenizer is found beside them below, or stays unknown

  if (is_bundled(config.train)) {
    const std::string sotu = bundled_text(BundledText::Sotu);
    const std::vector<std::string_view> speeches = split_documents(sotu);
    EncodedDocuments encoded = encode_documents(*data.tokenizer_, speeches);
    const int64_t split = validation_start(encoded, config.val_fraction);
    const auto first_val = std::lower_bound(encoded.starts.begin(), encoded.starts.end(), split);
    const int64_t val_speeches = encoded.starts.end() - first_val;
    data.train_.add_tokens(
        std::vector<int32_t>(encoded.tokens.begin(), encoded.tokens.begin() + split),
        "bundled SOTU train");
    train_where =
        fmt::format("bundled SOTU ({} speeches)", int64_t(speeches.size()) - val_speeches);
    if (is_bundled(config.val)) {
      data.val_.add_tokens(
          std::vector<int32_t>(encoded.tokens.begin() + split, encoded.tokens.end()),
          "bundled SOTU val");
      val_where = fmt::format("held-out last {} speeches", val_speeches);
      const std::string moby = bundled_text(BundledText::Moby);
      TokenStream moby_tokens;
      moby_tokens.add_tokens(encode_documents(*data.tokenizer_, split_documents(moby)).tokens,
                             "bundled Moby-Dick");
      data.extra_val_.push_back({"moby", std::move(moby_tokens)});
    }
  } else {
    train_paths = resolve_shards("data.train", config.train, "train");
    data.train_ = open_shards(train_paths);
    train_where = where(train_paths);
  }

  if (!is_bundled(config.val) || !is_bundled(config.train)) {
    std::string val_spec = config.val;
    if (is_bundled(config.val)) {
      std::error_code ec;
      if (!fs::is_directory(config.train, ec))
        fail("data.val: 'bundled' goes with bundled training data; with data.train = '{}' name "
             "the validation shards",
             config.train);
      val_spec = config.train;  // a shard directory holds its own val shards
    }
    const auto val_paths = resolve_shards("data.val", val_spec, "val");
    data.val_ = open_shards(val_paths);
    val_where = where(val_paths);
  }

  // Shards come with the tokenizer that made them when `moet data prepare` stored it beside them.
  if (!is_bundled(config.train) && is_bundled(config.tokenizer)) {
    const std::string beside = fs::path(train_paths.front()).parent_path().string();
    const std::string dir = beside.empty() ? "." : beside;
    if (fs::exists(dir + "/encoder.json") && fs::exists(dir + "/vocab.bpe")) {
      data.tokenizer_ = load_tokenizer(dir);
      tokenizer_where = dir;
    }
  }

  int32_t max_token = std::max(data.train_.max_token(), data.val_.max_token());
  for (const auto& e : data.extra_val_) max_token = std::max(max_token, e.tokens.max_token());
  const int64_t needed = int64_t(max_token) + 1;
  if (data.tokenizer_ && needed > data.tokenizer_->vocab_size())
    fail("data: the tokens reach id {}, outside the vocabulary of tokenizer {} ({} tokens)",
         needed - 1, tokenizer_where, data.tokenizer_->vocab_size());
  data.vocab_size_ = data.tokenizer_ ? data.tokenizer_->vocab_size() : needed;
  if (config.vocab_size > 0) {
    if (config.vocab_size < needed)
      fail("data.vocab_size: {} is too small, the tokens reach id {}", config.vocab_size,
           needed - 1);
    data.vocab_size_ = config.vocab_size;
  }

  std::string extra;
  for (const auto& e : data.extra_val_)
    extra += fmt::format(", {} {}", e.name, count_text(e.tokens.size()));
  data.description_ = fmt::format(
      "train {} tokens from {}; val {} tokens from {}{}; vocab {} (tokenizer {})",
      count_text(data.train_tokens()), train_where, count_text(data.val_tokens()), val_where, extra,
      data.vocab_size_, tokenizer_where.empty() ? "unknown" : tokenizer_where);
  return data;
}

}  // namespace moet
