// The data a run trains and validates on, and the batches the trainer reads from it.
//
// DataConfig (keys data.*) names the data; Dataset::open turns it into token streams; a
// BatchLoader cuts a stream into batches. "bundled" (the default) is the State of the Union text
// compiled into the binary, tokenized with the bundled tokenizer in memory at open time: train is
// every speech but a held-out tail of whole speeches (data.val_fraction of the tokens), val is
// that tail, and Moby-Dick is a second, differently styled validation set ("moby"). Otherwise
// data.train / data.val name llm.c .bin shards (shard.h): a file, a directory, or a glob.
//
// Batching. Training batches are B windows of T+1 consecutive tokens, each drawn independently
// and uniformly over every valid start position of every segment, from a moet::Rng seeded by the
// run seed: sampling with replacement, no epochs, so the loader's whole state is the Rng state
// and resume is exact. Validation batches walk a fixed list of windows (offsets 0, T, 2T, ... in
// each segment, in order), so any two runs with the same T see the same val tokens; the list
// wraps around, and reset() returns to its start.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/rng.h"
#include "data/token_stream.h"
#include "data/tokenizer.h"

namespace moet {

struct DataConfig {
  std::string train = "bundled";      // "bundled" | .bin file | directory | glob
  std::string val = "bundled";        // "bundled" | .bin file | directory | glob
  std::string tokenizer = "bundled";  // "bundled" | directory with encoder.json + vocab.bpe
  double val_fraction = 0.05;         // bundled: share of the SOTU tokens held out for val
  int64_t vocab_size = 0;             // 0: from the tokenizer, else the largest shard id + 1
};

std::vector<KeySpec> data_config_keys();
DataConfig data_config_from(const Config& config);
// Memory the data of a run holds at its peak, for the memory estimate before anything is opened:
// bundled data is decompressed and tokenized at open; shards are mapped, so the kernel pages
// them in and out and they count as nothing here.
int64_t data_memory_bytes(const DataConfig& config);

class Dataset {
 public:
  static Dataset open(const DataConfig& config);

  int64_t vocab_size() const { return vocab_size_; }
  int64_t train_tokens() const { return train_.size(); }
  int64_t val_tokens() const { return val_.size(); }
  std::string describe() const { return description_; }  // one line

  const TokenStream& train() const { return train_; }
  const TokenStream& val() const { return val_; }
  // Further validation sets, evaluated like val: bundled data has {"moby", Moby-Dick}.
  struct NamedStream {
    std::string name;
    TokenStream tokens;
  };
  const std::vector<NamedStream>& extra_val() const { return extra_val_; }
  // The tokenizer of the tokens, for printing samples; null when unknown (shards made elsewhere
  // and no data.tokenizer given).
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }

 private:
  TokenStream train_, val_;
  std::vector<NamedStream> extra_val_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  int64_t vocab_size_ = 0;
  std::string description_;
};

// How a loader walks its tokens: training draws random windows forever, validation walks fixed
// windows at stride T and repeats them.
enum class Split { train, validation };

class BatchLoader {
 public:
  // Batches of the dataset's train or val split. The loader keeps its own (shared) view of the
  // tokens. Throws Error when the split is shorter than one window.
  BatchLoader(const Dataset& data, Split split, int64_t B, int64_t T, uint64_t seed);
  // Any stream, e.g. Dataset::extra_val()[i].tokens.
  BatchLoader(const TokenStream& tokens, Split split, int64_t B, int64_t T, uint64_t seed);

  // Fills inputs and targets, each B*T int32, row-major [B, T]; targets are inputs shifted by one.
  void next(int32_t* inputs, int32_t* targets);
  // Validation: batches before the window list repeats (at least 1). Training: 0 (no epochs).
  int64_t batches_per_pass() const;
  // Back to the first batch: validation restarts its window list; training restarts the seed.
  void reset();

  struct State {
    bool validation = false;
    int64_t B = 0, T = 0;
    int64_t stream_tokens = 0;  // guards against resuming on different data
    Rng::State rng{};
    int64_t next_window = 0;  // validation: index into the window list
    int64_t batches = 0;      // batches served since the start or reset
  };
  State state() const;
  // Throws Error when the state belongs to a different split, B, T or data.
  void restore(const State& state);

 private:
  // Segment and offset of the window with this global index (training: start positions;
  // validation: windows at stride T).
  void locate(int64_t window, size_t& segment, int64_t& offset) const;

  TokenStream tokens_;
  bool validation_;
  int64_t B_, T_;
  uint64_t seed_;
  Rng rng_;
  std::vector<int64_t> first_window_;  // per segment, its first global window index; + total
  int64_t next_window_ = 0;
  int64_t batches_ = 0;
  std::vector<int32_t> row_;
};

// Exact JSON for checkpoints (the Rng words as hex strings, the cached normal by its bits).
void to_json(nlohmann::json& json, const BatchLoader::State& state);
void from_json(const nlohmann::json& json, BatchLoader::State& state);

}  // namespace moet
