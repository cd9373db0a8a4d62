// The rule grammar (param/rule.h): what a cell means, and the one-line errors for bad cells.
#include <gtest/gtest.h>

#include <cmath>

#include "param/rule.h"
#include "param_fixtures.h"

namespace moet::testing {
namespace {

using param::Rule;
using param::RuleScope;
using param::Symbol;

// Base N 64 Ne 64 M 8 K 2 L 2; target N 256 Ne 128 M 32 K 8 L 6; a tensor with fans 128 -> 256.
RuleScope scope() {
  RuleScope s;
  s.base = {{64, 64, 8, 2, 2}};
  s.target = {{256, 128, 32, 8, 6}};
  s.d_head = 16;
  s.fan_in = 128;
  s.fan_out = 256;
  s.lr_ratio = 0.25;
  return s;
}

double eval(const std::string& text) { return Rule::parse(text).eval(scope()); }

TEST(Rule, ReadsLikeThePapersTables) {
  // Paper 1's expert-down init: sigma0 rD^-1/2 ralpha^-1 / 4 with ralpha = (Ne/N) ratio.
  const Rule down = Rule::parse("N^-1/2 * (Ne/N)^-1 * 1/4");
  EXPECT_DOUBLE_EQ(down.constant(), 0.25);
  EXPECT_DOUBLE_EQ(down.exponent(Symbol::N), 0.5);
  EXPECT_DOUBLE_EQ(down.exponent(Symbol::Ne), -1);
  EXPECT_DOUBLE_EQ(down.eval(scope()), std::sqrt(4.0) / 2 / 4);
  // A fraction after ^ is one exponent; `* 1/16` is a constant.
  EXPECT_DOUBLE_EQ(eval("N^-1 * 1/16"), 1.0 / 4 / 16);
  EXPECT_DOUBLE_EQ(eval("N^-1/2"), 0.5);
  EXPECT_DOUBLE_EQ(eval("N^(-1/2)"), 0.5);
  EXPECT_DOUBLE_EQ(eval("N^0.5"), 2);
  EXPECT_DOUBLE_EQ(eval("M * N/Ne"), 4 * 4 / 2.0);
  EXPECT_DOUBLE_EQ(eval("(Ne * M)^-1"), 1 / 8.0);
  EXPECT_DOUBLE_EQ(eval("1e-3"), 1e-3);
  EXPECT_DOUBLE_EQ(eval("0.02"), 0.02);
}

TEST(Rule, AbsoluteQuantitiesAreTheTargetsOwn) {
  EXPECT_DOUBLE_EQ(eval("fan_in^-1/2"), 1 / std::sqrt(128.0));
  EXPECT_DOUBLE_EQ(eval("fan_out"), 256);
  EXPECT_DOUBLE_EQ(eval("(abs(M)/fan_in)^1/2"), std::sqrt(32.0 / 128));  // MSSP regime II
  EXPECT_DOUBLE_EQ(eval("sqrt(abs(M)/fan_in)"), std::sqrt(32.0 / 128));
  EXPECT_DOUBLE_EQ(eval("(2 * abs(L))^-1/2"), 1 / std::sqrt(12.0));  // GPT-2 projections
  EXPECT_DOUBLE_EQ(eval("abs(K)^-1"), 1 / 8.0);
  EXPECT_DOUBLE_EQ(eval("d_head^-1"), 1 / 16.0);
  EXPECT_DOUBLE_EQ(eval("lr^-1"), 4);
  EXPECT_DOUBLE_EQ(eval("fan_in^-1/2 * (M/N)^1/2"), 1 / std::sqrt(128.0));
}

TEST(Rule, RatiosAreOneAtTheBase) {
  RuleScope at_base = scope();
  at_base.target = at_base.base;
  EXPECT_DOUBLE_EQ(Rule::parse("N^-1 * Ne^2 * M^-1/2 * K * L^-1 * 1/16").eval(at_base), 1 / 16.0);
}

TEST(Rule, ProductsKeepBothTexts) {
  const Rule r = Rule::parse("N^-1") * Rule::parse("L^-1");
  EXPECT_EQ(r.text(), "N^-1 * L^-1");
  EXPECT_DOUBLE_EQ(r.eval(scope()), 1 / 4.0 / 3);
  EXPECT_TRUE(r.uses(Symbol::L));
  EXPECT_FALSE(r.uses(Symbol::M));
}

TEST(Rule, BadCellsFailWithOneLine) {
  const auto message = [](const std::string& text) { return error_of([&] { Rule::parse(text); }); };
  EXPECT_NE(message("").find("empty rule"), std::string::npos);
  EXPECT_NE(message("Nn^-1").find("unknown symbol 'Nn'"), std::string::npos);
  EXPECT_NE(message("N^").find("expected an exponent"), std::string::npos);
  EXPECT_NE(message("(N").find("expected ')'"), std::string::npos);
  EXPECT_NE(message("abs(d_head)").find("abs() takes an axis"), std::string::npos);
  EXPECT_NE(message("2 N").find("unexpected 'N'"), std::string::npos);
  EXPECT_NE(message("-1").find("unexpected '-'"), std::string::npos);
  EXPECT_NE(message("N^1/0").find("zero denominator"), std::string::npos);
  EXPECT_NE(message("0^-1").find("finite and non-negative"), std::string::npos);
  for (const std::string bad : {"", "Nn", "N^", "(N", "abs(x)", "2 N", "-1", "0^-1"})
    EXPECT_EQ(message(bad).find('\n'), std::string::npos) << bad;
}

}  // namespace
}  // namespace moet::testing
