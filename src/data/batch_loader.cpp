// BatchLoader (declared in dataset.h): the windows a batch is cut from, and its resumable state.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "data/dataset.h"

namespace moet {

namespace {
// The data order's own Rng stream, so it never shares draws with parameter init.
constexpr uint64_t kDataStream = 0xda7a;
}  // namespace

BatchLoader::BatchLoader(const Dataset& data, Split split, int64_t B, int64_t T, uint64_t seed)
    : BatchLoader(split == Split::validation ? data.val() : data.train(), split, B, T, seed) {}

BatchLoader::BatchLoader(const TokenStream& tokens, Split split, int64_t B, int64_t T,
                         uint64_t seed)
    : tokens_(tokens),
      validation_(split == Split::validation),
      B_(B),
      T_(T),
      seed_(seed),
      rng_(seed, kDataStream) {
  if (B < 1 || T < 1) fail("batch size B = {} and context T = {} must both be positive", B, T);
  int64_t windows = 0;
  for (const auto& segment : tokens_.segments()) {
    first_window_.push_back(windows);
    if (validation_)
      windows += segment.size > T ? (segment.size - 1) / T : 0;
    else
      windows += std::max<int64_t>(0, segment.size - T);
  }
  first_window_.push_back(windows);
  if (windows == 0)
    fail("{} data has {} tokens in {} segment(s); a window needs T+1 = {} consecutive tokens "
         "inside one",
         validation_ ? "validation" : "training", tokens_.size(), tokens_.segments().size(), T + 1);
  row_.resize(size_t(T + 1));
}

void BatchLoader::locate(int64_t window, size_t& segment, int64_t& offset) const {
  // The last segment whose first window is <= window; empty segments are skipped by upper_bound.
  const auto it = std::upper_bound(first_window_.begin(), first_window_.end() - 1, window);
  segment = size_t(it - first_window_.begin()) - 1;
  const int64_t index = window - first_window_[segment];
  offset = validation_ ? index * T_ : index;
}

void BatchLoader::next(int32_t* inputs, int32_t* targets) {
  const int64_t windows = first_window_.back();
  for (int64_t b = 0; b < B_; ++b) {
    int64_t window;
    if (validation_) {
      window = next_window_;
      next_window_ = (next_window_ + 1) % windows;
    } else {
      window = int64_t(rng_.below(uint64_t(windows)));
    }
    size_t segment;
    int64_t offset;
    locate(window, segment, offset);
    tokens_.copy(segment, offset, T_ + 1, row_.data());
    std::copy(row_.begin(), row_.end() - 1, inputs + b * T_);
    std::copy(row_.begin() + 1, row_.end(), targets + b * T_);
  }
  ++batches_;
}

int64_t BatchLoader::batches_per_pass() const {
  return validation_ ? std::max<int64_t>(1, first_window_.back() / B_) : 0;
}

void BatchLoader::reset() {
  rng_ = Rng(seed_, kDataStream);
  next_window_ = 0;
  batches_ = 0;
}

BatchLoader::State BatchLoader::state() const {
  State s;
  s.validation = validation_;
  s.B = B_;
  s.T = T_;
  s.stream_tokens = tokens_.size();
  s.rng = rng_.state();
  s.next_window = next_window_;
  s.batches = batches_;
  return s;
}

void BatchLoader::restore(const State& s) {
  if (s.validation != validation_)
    fail("data loader state is for the {} split, not {}", s.validation ? "validation" : "training",
         validation_ ? "validation" : "training");
  if (s.B != B_ || s.T != T_)
    fail("data loader state was saved with B = {}, T = {}; this run has B = {}, T = {}", s.B, s.T,
         B_, T_);
  if (s.stream_tokens != tokens_.size())
    fail("data loader state was saved on {} tokens; this data has {} (different data?)",
         s.stream_tokens, tokens_.size());
  if (s.next_window < 0 || s.next_window >= first_window_.back())
    fail("data loader state: window {} is outside [0, {})", s.next_window, first_window_.back());
  rng_.set_state(s.rng);
  next_window_ = s.next_window;
  batches_ = s.batches;
}

void to_json(nlohmann::json& json, const BatchLoader::State& s) {
  nlohmann::json words = nlohmann::json::array();
  for (uint64_t word : s.rng.s) words.push_back(fmt::format("{:016x}", word));
  uint64_t normal_bits;
  static_assert(sizeof normal_bits == sizeof s.rng.cached_normal);
  std::memcpy(&normal_bits, &s.rng.cached_normal, sizeof normal_bits);
  json = nlohmann::json{{"validation", s.validation},
                        {"B", s.B},
                        {"T", s.T},
                        {"stream_tokens", s.stream_tokens},
                        {"rng", words},
                        {"rng_cached_normal_bits", fmt::format("{:016x}", normal_bits)},
                        {"rng_has_cached_normal", s.rng.has_cached_normal},
                        {"next_window", s.next_window},
                        {"batches", s.batches}};
}

void from_json(const nlohmann::json& json, BatchLoader::State& s) {
  const auto hex = [](const nlohmann::json& value) {
    const std::string text = value.get<std::string>();
    size_t used = 0;
    uint64_t word = 0;
    try {
      word = std::stoull(text, &used, 16);
    } catch (const std::exception&) {
      used = 0;
    }
    if (text.empty() || used != text.size())
      fail("data loader state: '{}' is not a hex word", text);
    return word;
  };
  try {
    s.validation = json.at("validation").get<bool>();
    s.B = json.at("B").get<int64_t>();
    s.T = json.at("T").get<int64_t>();
    s.stream_tokens = json.at("stream_tokens").get<int64_t>();
    const auto& words = json.at("rng");
    if (!words.is_array() || words.size() != 4) fail("data loader state: rng must hold 4 words");
    for (size_t i = 0; i < 4; ++i) s.rng.s[i] = hex(words[i]);
    const uint64_t normal_bits = hex(json.at("rng_cached_normal_bits"));
    std::memcpy(&s.rng.cached_normal, &normal_bits, sizeof normal_bits);
    s.rng.has_cached_normal = json.at("rng_has_cached_normal").get<bool>();
    s.next_window = json.at("next_window").get<int64_t>();
    s.batches = json.at("batches").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    fail("data loader state: {}", e.what());
  }
}

}  // namespace moet
