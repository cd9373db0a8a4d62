// data.* config keys: their table and validation (see dataset.h for what they mean).
#include "core/error.h"
#include "data/dataset.h"

namespace moet {

std::vector<KeySpec> data_config_keys() {
  const DataConfig d;
  return {
      {"data.train", KeyType::String, d.train,
       "bundled (State of the Union text) | llm.c .bin shard file, directory or glob"},
      {"data.val", KeyType::String, d.val,
       "bundled (held-out SOTU tail + Moby-Dick; with a shard directory as data.train: its val "
       "shards) | .bin file, directory or glob"},
      {"data.tokenizer", KeyType::String, d.tokenizer,
       "bundled | directory with encoder.json + vocab.bpe (encodes bundled text; names the "
       "tokenizer of shards)"},
      {"data.val_fraction", KeyType::Float, fmt::format("{}", d.val_fraction),
       "bundled: share of the SOTU tokens held out as val (a tail of whole speeches)"},
      {"data.vocab_size", KeyType::Int, std::to_string(d.vocab_size),
       "vocabulary size; 0 = the tokenizer's, or the largest shard token id + 1"},
  };
}

DataConfig data_config_from(const Config& config) {
  DataConfig d;
  d.train = config.get_string("data.train");
  d.val = config.get_string("data.val");
  d.tokenizer = config.get_string("data.tokenizer");
  d.val_fraction = config.get_float("data.val_fraction");
  d.vocab_size = config.get_int("data.vocab_size");
  if (d.train.empty()) fail("data.train: must not be empty (bundled, or .bin shards)");
  if (d.val.empty()) fail("data.val: must not be empty (bundled, or .bin shards)");
  if (d.tokenizer.empty()) fail("data.tokenizer: must not be empty (bundled, or a directory)");
  if (!(d.val_fraction > 0 && d.val_fraction < 0.5))
    fail("data.val_fraction: must be in (0, 0.5) (got {})", d.val_fraction);
  if (d.vocab_size < 0 || d.vocab_size > (int64_t(1) << 31))
    fail("data.vocab_size: must be 0 (automatic) or a positive size below 2^31 (got {})",
         d.vocab_size);
  return d;
}

int64_t data_memory_bytes(const DataConfig& config) {
  // Opening the bundled corpus peaks at 58 MB over the process (`moet data info`, measured with
  // /usr/bin/time -v); a tokenizer of one's own and the shard bookkeeping stay within 8 MiB.
  const bool bundled = config.train == "bundled" || config.val == "bundled";
  return (bundled ? int64_t(64) : int64_t(8)) << 20;
}

}  // namespace moet
