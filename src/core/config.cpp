#include "core/config.h"

#include <toml++/toml.h>
#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/number_text.h"

namespace moet {

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

const char* type_name(KeyType type) {
  switch (type) {
    case KeyType::Int: return "an integer";
    case KeyType::Float: return "a number";
    case KeyType::Bool: return "true or false";
    case KeyType::String: return "a string";
  }
  return "?";
}

ConfigValue parse_text(const KeySpec& spec, const std::string& text, const std::string& source) {
  const auto bad = [&]() -> Error {
    return Error(
        fmt::format("{}: {}: expected {}, got '{}'", source, spec.key, type_name(spec.type), text));
  };
  switch (spec.type) {
    case KeyType::Int: {
      const std::optional<int64_t> value = parse_int64(text);
      if (!value) throw bad();
      return *value;
    }
    case KeyType::Float: {
      const std::optional<double> value = parse_finite_double(text);
      if (!value) throw bad();
      return *value;
    }
    case KeyType::Bool:
      if (text == "true" || text == "1") return true;
      if (text == "false" || text == "0") return false;
      throw bad();
    case KeyType::String: {
      std::string value = text;
      if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
          value.back() == value.front())
        value = value.substr(1, value.size() - 2);
      return value;
    }
  }
  throw bad();
}

std::string value_text(const ConfigValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, bool>)
          return v ? "true" : "false";
        else if constexpr (std::is_same_v<V, std::string>)
          return v;
        else if constexpr (std::is_same_v<V, double>)
          return fmt::format("{}", v);
        else
          return std::to_string(v);
      },
      value);
}

// Flattens a TOML table into dotted keys; arrays and dates are not config values.
void flatten(const toml::table& table, const std::string& prefix,
             std::vector<std::pair<std::string, const toml::node*>>& out) {
  for (const auto& [name, node] : table) {
    const std::string key =
        prefix.empty() ? std::string(name.str()) : prefix + "." + std::string(name.str());
    if (const auto* sub = node.as_table())
      flatten(*sub, key, out);
    else
      out.emplace_back(key, &node);
  }
}

}  // namespace

Config::Config(std::vector<KeySpec> schema) : schema_(std::move(schema)) {
  for (const auto& spec : schema_) {
    MOET_CHECK(!values_.count(spec.key));  // a key declared twice is a programming error
    values_[spec.key] = parse_text(spec, spec.default_value, "default");
    given_[spec.key] = false;
  }
}

const KeySpec& Config::spec(const std::string& key) const {
  for (const auto& s : schema_)
    if (s.key == key) return s;
  std::string best;
  size_t best_distance = 4;
  for (const auto& s : schema_) {
    const size_t d = edit_distance(key, s.key);
    if (d < best_distance) best_distance = d, best = s.key;
  }
  if (!best.empty()) fail("unknown config key '{}' (did you mean '{}'?)", key, best);
  fail("unknown config key '{}' (`moet config --list` shows them all)", key);
}

void Config::assign_text(const KeySpec& s, const std::string& text, const std::string& source) {
  values_[s.key] = parse_text(s, text, source);
  given_[s.key] = true;
}

Config Config::parse(std::vector<KeySpec> schema, const std::string& toml_text,
                     const std::string& source) {
  Config config(std::move(schema));
  toml::table table;
  try {
    table = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    fail("{}:{}:{}: invalid TOML: {}", source, where.line, where.column, e.description());
  }
  std::vector<std::pair<std::string, const toml::node*>> entries;
  flatten(table, "", entries);
  for (const auto& [key, node] : entries) {
    const KeySpec* s = nullptr;
    try {
      s = &config.spec(key);
    } catch (const Error& e) {
      fail("{}: {}", source, e.what());
    }
    std::string text;
    bool type_ok = true;
    switch (s->type) {
      case KeyType::Int:
        type_ok = node->is_integer();
        if (type_ok) text = std::to_string(node->as_integer()->get());
        break;
      case KeyType::Float:
        type_ok = node->is_number();
        if (node->is_integer())
          text = std::to_string(node->as_integer()->get());
        else if (node->is_floating_point())
          text = fmt::format("{}", node->as_floating_point()->get());
        break;
      case KeyType::Bool:
        type_ok = node->is_boolean();
        if (type_ok) text = node->as_boolean()->get() ? "true" : "false";
        break;
      case KeyType::String:
        type_ok = node->is_string();
        if (type_ok) text = node->as_string()->get();
        break;
    }
    if (!type_ok) fail("{}: {}: expected {}", source, key, type_name(s->type));
    config.assign_text(*s, text, source);
  }
  return config;
}

Config Config::load(std::vector<KeySpec> schema, const std::string& path,
                    const std::vector<std::string>& sets) {
  Config config =
      path.empty() ? Config(std::move(schema)) : parse(std::move(schema), read_file(path), path);
  for (const auto& assignment : sets) config.apply_set(assignment);
  return config;
}

void Config::apply_set(const std::string& assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) fail("--set '{}': expected key=value", assignment);
  set(assignment.substr(0, eq), assignment.substr(eq + 1));
}

void Config::set(const std::string& key, const std::string& value) {
  assign_text(spec(key), value, "--set");
}

int64_t Config::get_int(const std::string& key) const {
  MOET_CHECK(spec(key).type == KeyType::Int);
  return std::get<int64_t>(values_.at(key));
}
double Config::get_float(const std::string& key) const {
  MOET_CHECK(spec(key).type == KeyType::Float);
  return std::get<double>(values_.at(key));
}
bool Config::get_bool(const std::string& key) const {
  MOET_CHECK(spec(key).type == KeyType::Bool);
  return std::get<bool>(values_.at(key));
}
const std::string& Config::get_string(const std::string& key) const {
  MOET_CHECK(spec(key).type == KeyType::String);
  return std::get<std::string>(values_.at(key));
}
std::string Config::get_text(const std::string& key) const {
  spec(key);
  return value_text(values_.at(key));
}
bool Config::is_given(const std::string& key) const {
  spec(key);
  return given_.at(key);
}

std::string Config::to_toml() const {
  // Group keys by their table (everything before the last dot), in schema order.
  std::vector<std::string> tables;
  for (const auto& s : schema_) {
    const size_t dot = s.key.rfind('.');
    const std::string table = dot == std::string::npos ? "" : s.key.substr(0, dot);
    if (std::find(tables.begin(), tables.end(), table) == tables.end()) tables.push_back(table);
  }
  // Keys outside any table go before the first [table] header, or TOML reads them into it.
  std::stable_partition(tables.begin(), tables.end(),
                        [](const std::string& t) { return t.empty(); });
  std::string out;
  for (const auto& table : tables) {
    if (!table.empty()) out += fmt::format("{}[{}]\n", out.empty() ? "" : "\n", table);
    for (const auto& s : schema_) {
      const size_t dot = s.key.rfind('.');
      if ((dot == std::string::npos ? "" : s.key.substr(0, dot)) != table) continue;
      if (s.omit_default && get_text(s.key) == s.default_value) continue;
      const std::string name = dot == std::string::npos ? s.key : s.key.substr(dot + 1);
      const ConfigValue& v = values_.at(s.key);
      std::string text;
      if (s.type == KeyType::String) {
        toml::value<std::string> node(std::get<std::string>(v));
        std::ostringstream os;
        os << node;
        text = os.str();
      } else if (s.type == KeyType::Float) {
        text = fmt::format("{}", std::get<double>(v));
        if (text.find_first_of(".en") == std::string::npos) text += ".0";
      } else {
        text = value_text(v);
      }
      out += fmt::format("{} = {}\n", name, text);
    }
  }
  return out;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? separator : "") + items[i];
  return out;
}

void require_positive(const std::string& key, int64_t value) {
  if (value <= 0) fail("{}: must be positive (got {})", key, value);
}

void require_non_negative(const std::string& key, double value) {
  if (value < 0) fail("{}: must not be negative (got {})", key, value);
}

const std::string& require_choice(const std::string& key, const std::string& value,
                                  const std::vector<std::string>& choices) {
  if (std::find(choices.begin(), choices.end(), value) == choices.end())
    fail("{}: '{}' is not one of {}", key, value, join(choices, "|"));
  return value;
}

}  // namespace moet
