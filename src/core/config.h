// Config: the flat, typed key -> value settings of one run, read from TOML plus --set overrides.
//
// Every key a run understands is declared once, with its type, default and a line of doc, in a
// KeySpec table owned by the layer that uses it (model.*, param.*, optim.*, ...). Loading checks
// the file and the overrides against the union of those tables, so an unknown key, a value of
// the wrong type, or a malformed --set fails at once with one line naming the key. TOML tables
// flatten with dots: `[model]\nN = 128` is the key `model.N`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace moet {

enum class KeyType { Int, Float, Bool, String };

struct KeySpec {
  std::string key;
  KeyType type;
  std::string default_value;  // written as it would be on the command line
  std::string doc;
  // A key added after configs were first stored (a machine setting such as a thread count, or a
  // newer option such as optim.muon_* or train.recompute): to_toml() leaves it out while it holds
  // its default, so stored configs (checkpoints, sweep trial identities) stay what they were
  // before the key existed.
  bool omit_default = false;
};

using ConfigValue = std::variant<int64_t, double, bool, std::string>;

class Config {
 public:
  // Defaults only.
  explicit Config(std::vector<KeySpec> schema);

  // toml_text is parsed as TOML; source names it in error messages (a path or "<string>").
  static Config parse(std::vector<KeySpec> schema, const std::string& toml_text,
                      const std::string& source);
  // path may be empty (defaults only); sets are "key=value" strings applied in order.
  static Config load(std::vector<KeySpec> schema, const std::string& path,
                     const std::vector<std::string>& sets);

  // "key=value", value parsed by the key's declared type.
  void apply_set(const std::string& assignment);
  void set(const std::string& key, const std::string& value);

  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;
  // The value as it would be written after --set key=.
  std::string get_text(const std::string& key) const;
  // True when the file or an override gave the key (not just its default).
  bool is_given(const std::string& key) const;

  const std::vector<KeySpec>& schema() const { return schema_; }
  // Every key with its current value, as a TOML document (tables per prefix); omit_default keys
  // only when they differ from their default.
  std::string to_toml() const;

 private:
  const KeySpec& spec(const std::string& key) const;
  void assign_text(const KeySpec& spec, const std::string& text, const std::string& source);

  std::vector<KeySpec> schema_;
  std::map<std::string, ConfigValue> values_;
  std::map<std::string, bool> given_;
};

// Helpers for layers that validate their own sections.
std::string join(const std::vector<std::string>& items, const std::string& separator);
// Throw Error "key: must be positive (got v)" / "key: must not be negative (got v)".
void require_positive(const std::string& key, int64_t value);
void require_non_negative(const std::string& key, double value);
// Returns value if it is one of choices, else throws Error "key: 'value' is not one of a|b|c".
const std::string& require_choice(const std::string& key, const std::string& value,
                                  const std::vector<std::string>& choices);

}  // namespace moet
