// core/number_text: the whole text is the number, or there is no number.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>

#include "core/number_text.h"

namespace moet {
namespace {

TEST(NumberText, Int64TakesTheWholeTextOrNothing) {
  EXPECT_EQ(parse_int64("0"), 0);
  EXPECT_EQ(parse_int64("-17"), -17);
  EXPECT_EQ(parse_int64("9223372036854775807"), INT64_MAX);
  for (const char* text :
       {"", " 1", "1 ", "+1", "12x", "1.0", "1e3", "0x10", "-", "9223372036854775808"})
    EXPECT_EQ(parse_int64(text), std::nullopt) << "'" << text << "'";
}

TEST(NumberText, FiniteDoubleTakesTheWholeTextOrNothing) {
  EXPECT_EQ(parse_finite_double("0.25"), 0.25);
  EXPECT_EQ(parse_finite_double("-1e-3"), -1e-3);
  EXPECT_EQ(parse_finite_double("3"), 3.0);
  for (const char* text : {"", "1 ", "0.1x", "inf", "-inf", "nan", "1e999", "1,5"})
    EXPECT_EQ(parse_finite_double(text), std::nullopt) << "'" << text << "'";
}

}  // namespace
}  // namespace moet
