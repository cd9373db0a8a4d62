#include "param/rule.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace moet::param {

namespace {

constexpr const char* kSymbolNames[kSymbols] = {
    "N",      "Ne",     "M",       "K",      "L",     "abs(N)", "abs(Ne)", "abs(M)", "abs(K)",
    "abs(L)", "fan_in", "fan_out", "d_head", "H_act", "lr",     "D",       "B"};

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

}  // namespace

const char* symbol_name(Symbol symbol) { return kSymbolNames[int(symbol)]; }

const char* rule_vocabulary() {
  return "N Ne M K L (ratios to the base), abs(N|Ne|M|K|L), fan_in, fan_out, d_head, H_act, "
         "lr (weight decay only), D B (token budget, batch: ratios to the base run), numbers, "
         "* / ^ ( ) sqrt()";
}

Rule::Rule(double constant) : constant_(constant), text_(fmt::format("{}", constant)) {}

Rule operator*(const Rule& a, const Rule& b) {
  Rule out;
  out.constant_ = a.constant_ * b.constant_;
  for (int i = 0; i < kSymbols; ++i) out.exponent_[i] = a.exponent_[i] + b.exponent_[i];
  out.text_ = a.text_ + " * " + b.text_;
  return out;
}

bool Rule::is_constant() const {
  for (const double e : exponent_)
    if (e != 0) return false;
  return true;
}

double Rule::eval(const RuleScope& s) const {
  double value = constant_;
  for (int i = 0; i < kSymbols; ++i) {
    if (exponent_[i] == 0) continue;
    const auto symbol = Symbol(i);
    double x = 0;
    if (i < kAxes) {
      const Axis axis = Axis(i);
      x = double(s.target[axis]) / double(s.base[axis]);
    } else if (i < 2 * kAxes) {
      x = double(s.target[Axis(i - kAxes)]);
    } else if (symbol == Symbol::fan_in) {
      x = double(s.fan_in);
    } else if (symbol == Symbol::fan_out) {
      x = double(s.fan_out);
    } else if (symbol == Symbol::d_head) {
      x = double(s.d_head);
    } else if (symbol == Symbol::active_width) {
      x = s.active_width;
    } else if (symbol == Symbol::D) {
      x = s.tokens_ratio;
    } else if (symbol == Symbol::B) {
      x = s.batch_ratio;
    } else {
      x = s.lr_ratio;
    }
    value *= std::pow(x, exponent_[i]);
  }
  return value;
}

// Recursive descent over the grammar in rule.h, building the monomial directly:
//   product := power (('*' | '/') power)*
//   power   := primary ('^' fraction)?
//   primary := number | symbol | 'abs(' axis ')' | 'sqrt(' product ')' | '(' product ')'
class RuleParser {
 public:
  explicit RuleParser(const std::string& text) : text_(text) {}

  Rule parse() {
    skip_space();
    if (at_end()) fail("empty rule (write \"1\" for no scaling)");
    Rule rule = product();
    skip_space();
    if (!at_end()) fail("unexpected '{}' at column {} of '{}'", text_[pos_], pos_ + 1, text_);
    if (!std::isfinite(rule.constant_) || rule.constant_ < 0)
      fail("'{}' has constant {}; rules must be finite and non-negative", text_, rule.constant_);
    rule.text_ = text_;
    return rule;
  }

 private:
  Rule product() {
    Rule out = power();
    for (;;) {
      skip_space();
      if (at_end() || (peek() != '*' && peek() != '/')) return out;
      const bool divide = text_[pos_++] == '/';
      const Rule rhs = power();
      out.constant_ = divide ? out.constant_ / rhs.constant_ : out.constant_ * rhs.constant_;
      for (int i = 0; i < kSymbols; ++i)
        out.exponent_[i] += divide ? -rhs.exponent_[i] : rhs.exponent_[i];
    }
  }

  Rule power() {
    Rule base = primary();
    skip_space();
    if (at_end() || peek() != '^') return base;
    ++pos_;
    const double p = fraction();
    base.constant_ = std::pow(base.constant_, p);
    for (double& e : base.exponent_) e *= p;
    return base;
  }

  // A signed number, optionally "/ number", optionally in parentheses: -1/2, 2, (-1/2), 0.5.
  double fraction() {
    skip_space();
    const bool paren = !at_end() && peek() == '(';
    if (paren) ++pos_;
    skip_space();
    double sign = 1;
    if (!at_end() && (peek() == '-' || peek() == '+')) sign = text_[pos_++] == '-' ? -1 : 1;
    double value = number("an exponent");
    skip_space();
    if (!at_end() && peek() == '/') {
      ++pos_;
      skip_space();
      const double denominator = number("the exponent's denominator");
      if (denominator == 0) fail("zero denominator in an exponent of '{}'", text_);
      value /= denominator;
    }
    if (paren) expect(')');
    return sign * value;
  }

  Rule primary() {
    skip_space();
    if (at_end()) fail("'{}' ends where a number or symbol was expected", text_);
    const char c = peek();
    if (c == '(') {
      ++pos_;
      Rule inner = product();
      expect(')');
      return inner;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      Rule r;
      r.constant_ = number("a number");
      return r;
    }
    if (!is_name_char(c)) fail("unexpected '{}' at column {} of '{}'", c, pos_ + 1, text_);
    const size_t start = pos_;
    while (!at_end() && is_name_char(peek())) ++pos_;
    const std::string name = text_.substr(start, pos_ - start);
    if (name == "sqrt") {
      expect('(');
      Rule inner = product();
      expect(')');
      inner.constant_ = std::sqrt(inner.constant_);
      for (double& e : inner.exponent_) e *= 0.5;
      return inner;
    }
    if (name == "abs") {
      expect('(');
      skip_space();
      const size_t axis_start = pos_;
      while (!at_end() && is_name_char(peek())) ++pos_;
      const std::string axis = text_.substr(axis_start, pos_ - axis_start);
      expect(')');
      for (int i = 0; i < kAxes; ++i)
        if (axis == kSymbolNames[i]) return symbol(Symbol(kAxes + i));
      fail("abs({}) in '{}': abs() takes an axis: N, Ne, M, K or L", axis, text_);
    }
    for (int i = 0; i < kSymbols; ++i)
      if (name == kSymbolNames[i]) return symbol(Symbol(i));
    fail("unknown symbol '{}' in '{}' (rules use {})", name, text_, rule_vocabulary());
  }

  static Rule symbol(Symbol s) {
    Rule r;
    r.exponent_[int(s)] = 1;
    return r;
  }

  double number(const char* what) {
    skip_space();
    const char* begin = text_.c_str() + pos_;
    char* end = nullptr;
    const double value =
        (!at_end() && (std::isdigit(static_cast<unsigned char>(peek())) || peek() == '.'))
            ? std::strtod(begin, &end)
            : 0;
    if (end == nullptr || end == begin)
      fail("expected {} at column {} of '{}'", what, pos_ + 1, text_);
    pos_ += size_t(end - begin);
    return value;
  }

  void expect(char c) {
    skip_space();
    if (at_end() || peek() != c) fail("expected '{}' at column {} of '{}'", c, pos_ + 1, text_);
    ++pos_;
  }
  void skip_space() {
    while (!at_end() && std::isspace(static_cast<unsigned char>(peek()))) ++pos_;
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }

  const std::string& text_;
  size_t pos_ = 0;
};

Rule Rule::parse(const std::string& text) { return RuleParser(text).parse(); }

}  // namespace moet::param
