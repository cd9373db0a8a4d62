#include "train/checkpoint_fields.h"

#include <charconv>

#include "core/error.h"
#include "core/json_text.h"
#include "core/number_text.h"
#include "param/json.h"

namespace moet {

namespace {

enum class Kind { number, positive_integer, count, boolean, hex_word, hex_words };

struct Field {
  const char* name;
  Kind kind;
};

// What state.json holds (trainer.cpp writes it): a new field is a new row.
constexpr Field kStateFields[] = {
    {"first_loss", Kind::number},
    {"smoothed_loss", Kind::number},
    {"train_loader.validation", Kind::boolean},
    {"train_loader.B", Kind::positive_integer},
    {"train_loader.T", Kind::positive_integer},
    {"train_loader.stream_tokens", Kind::count},
    {"train_loader.rng", Kind::hex_words},
    {"train_loader.rng_cached_normal_bits", Kind::hex_word},
    {"train_loader.rng_has_cached_normal", Kind::boolean},
    {"train_loader.next_window", Kind::count},
    {"train_loader.batches", Kind::count},
};

bool is_hex_word(const nlohmann::json& value) {
  if (!value.is_string()) return false;
  const std::string& text = value.get_ref<const std::string&>();
  uint64_t word = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), word, 16);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

// "" when the value is of the kind, else what was expected.
std::string mismatch(const nlohmann::json& value, Kind kind) {
  switch (kind) {
    case Kind::number: return value.is_number() ? "" : "a number";
    case Kind::positive_integer: {
      const auto n = json_int64(value);
      return n && *n >= 1 ? "" : "an integer >= 1";
    }
    case Kind::count: {
      const auto n = json_int64(value);
      return n && *n >= 0 ? "" : "an integer >= 0";
    }
    case Kind::boolean: return value.is_boolean() ? "" : "true or false";
    case Kind::hex_word: return is_hex_word(value) ? "" : "a 64-bit hex word";
    case Kind::hex_words: {
      bool ok = value.is_array() && value.size() == 4;
      for (size_t i = 0; ok && i < 4; ++i) ok = is_hex_word(value[i]);
      return ok ? "" : "an array of 4 hex words";
    }
  }
  return "?";
}

}  // namespace

int64_t metadata_integer(const std::map<std::string, std::string>& metadata, const std::string& key,
                         const std::string& path) {
  const auto it = metadata.find(key);
  if (it == metadata.end()) fail("{}: field {}: missing from the metadata", path, key);
  const std::string& text = it->second;
  const std::optional<int64_t> value = parse_int64(text);
  if (!value || *value < 0)
    fail("{}: field {}: expected an integer >= 0, got {}", path, key, escaped_excerpt(text, 40));
  return *value;
}

void validate_checkpoint_state(const nlohmann::json& state, const std::string& path) {
  if (!state.is_object()) fail("{}: expected a JSON object", path);
  for (const Field& field : kStateFields) {
    const nlohmann::json* value = &state;
    const std::string name = field.name;
    for (size_t start = 0; start <= name.size();) {
      const size_t dot = std::min(name.find('.', start), name.size());
      const std::string part = name.substr(start, dot - start);
      if (!value->is_object() || !value->contains(part))
        fail("{}: field {}: missing", path, name.substr(0, dot));
      value = &(*value)[part];
      start = dot + 1;
    }
    const std::string expected = mismatch(*value, field.kind);
    if (!expected.empty())
      fail("{}: field {}: expected {}, got {}", path, name, expected, json_excerpt(*value));
  }
}

param::Parameterization stored_parameterization(const Checkpoint& checkpoint,
                                                const ModelConfig& model,
                                                const std::string& run_dir) {
  try {
    return param::from_json(checkpoint.parameterization, model);
  } catch (const Error& e) {
    fail("{} (checkpoint metadata): {}", run_dir, e.what());
  }
}

}  // namespace moet
