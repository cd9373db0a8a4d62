// Rule: one cell of a parameterization table, e.g. "N^-1/2 * (Ne/N)^-1 * 1/4".
//
// A rule is a monomial: a constant times a product of symbols raised to exponents. That is all
// the papers' tables need, and it keeps every cell checkable by eye against the paper:
//
//   N Ne M K L            the target's value over the base's (a ratio; 1 at the base shape)
//   abs(N) ... abs(L)     the target's absolute value (paper 1's 1/L branches, paper 2's 1/K)
//   fan_in fan_out        the tensor's own fan-in / fan-out in the target model (absolute)
//   d_head                the head dimension (absolute; not a scaling axis)
//   H_act                 the active expert width K Ne plus every shared expert's width
//                         (absolute; Complete-muE sizes the down projections by it)
//   lr                    only in weight-decay cells: this tensor's LR, target over base
//   D                     the run's token budget over the base's (param/run_horizon.h)
//   B                     the run's tokens per optimizer step over the base's
//   16, 0.02, 1e-3        plain numbers
//
// combined with `*`, `/`, `^`, parentheses and sqrt(...). The exponent after `^` is a signed
// fraction read as one token, as the papers write it: `N^-1/2` is N^(-1/2) and
// `N^-1 * 1/16` is N^(-1) / 16. Examples: "fan_in^-1/2 * (M/N)^1/2", "(abs(M)/fan_in)^1/2",
// "(2 * abs(L))^-1/2", "M * N/Ne", "abs(K)^-1".
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "param/axes.h"

namespace moet::param {

enum class Symbol {
  N,
  Ne,
  M,
  K,
  L,  // ratios target / base
  abs_N,
  abs_Ne,
  abs_M,
  abs_K,
  abs_L,  // absolute target values
  fan_in,
  fan_out,
  d_head,
  active_width,  // H_act
  lr,
  D,  // token budget, target / base
  B,  // tokens per optimizer step (batch), target / base
};
constexpr int kSymbols = 17;

// Everything a rule can be evaluated against. Evaluating "at the base" means target = base and
// the base model's fans.
struct RuleScope {
  AxisValues target, base;
  int64_t d_head = 0;
  int64_t fan_in = 0, fan_out = 0;  // 0 for block-level rules (they may not use fans)
  double lr_ratio = 1;              // for weight-decay rules
  double active_width = 0;          // H_act of the model the rule is evaluated for
  double tokens_ratio = 1;          // D
  double batch_ratio = 1;           // B
};

class Rule {
 public:
  // A constant rule (1 by default).
  explicit Rule(double constant = 1.0);
  // Throws Error with a message naming what is wrong in text (callers add file/role/field).
  static Rule parse(const std::string& text);

  double eval(const RuleScope& scope) const;
  bool uses(Symbol symbol) const { return exponent_[int(symbol)] != 0; }
  bool uses_tensor_symbols() const { return uses(Symbol::fan_in) || uses(Symbol::fan_out); }
  bool is_constant() const;
  // The exponent of one symbol and the constant factor: the rule's power law.
  double exponent(Symbol symbol) const { return exponent_[int(symbol)]; }
  double constant() const { return constant_; }
  const std::string& text() const { return text_; }

  // The product of two rules (a preset cell times a depth factor); its text shows both.
  friend Rule operator*(const Rule& a, const Rule& b);

 private:
  double constant_ = 1.0;
  std::array<double, kSymbols> exponent_{};
  std::string text_;

  friend class RuleParser;
};

const char* symbol_name(Symbol symbol);
// The one-line list of what a rule may contain, for error messages.
const char* rule_vocabulary();

}  // namespace moet::param
