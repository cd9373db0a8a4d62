// Quoting untrusted bytes in one-line messages: escaped_excerpt and parse_json.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/json_text.h"

namespace moet {
namespace {

bool printable(const std::string& text) {
  for (const char c : text)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

TEST(EscapedExcerpt, EscapesWhatATerminalWouldInterpret) {
  EXPECT_EQ(escaped_excerpt("plain text"), "\"plain text\"");
  EXPECT_EQ(escaped_excerpt(std::string("a\"b\\c\nd\te\x01\xff", 11)),
            "\"a\\\"b\\\\c\\nd\\te\\x01\\xff\"");
}

TEST(EscapedExcerpt, CutsLongTextWithinTheLimit) {
  const std::string long_text(1000, '\xfe');
  const std::string excerpt = escaped_excerpt(long_text, 60);
  EXPECT_LE(excerpt.size(), 60u + 5u);  // the quotes and "..."
  EXPECT_TRUE(excerpt.ends_with("\"..."));
  EXPECT_TRUE(printable(excerpt));
  EXPECT_EQ(escaped_excerpt("abcdef", 3), "\"abc\"...");
}

// nlohmann's own message repeats what it last read, raw bytes included.
TEST(ParseJson, ASyntaxErrorIsOneShortEscapedLine) {
  const std::string garbage = "{\"" + std::string(300, 'x') + "\xff\xfe\x1b[31m";
  try {
    parse_json(garbage, "h.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("h.json: invalid JSON at byte 302: \"xxx", 0), 0u) << what;
    EXPECT_TRUE(printable(what)) << what;
    EXPECT_LT(what.size(), 120u) << what;
    EXPECT_NE(what.find("\\xff\\xfe\\x1b[31m"), std::string::npos) << what;
  }
  EXPECT_EQ(parse_json("{\"a\": [1, 2]}", "ok.json")["a"][1], 2);
}

TEST(JsonInt64, OnlyIntegersThatFit) {
  EXPECT_EQ(json_int64(nlohmann::json(-3)), -3);
  EXPECT_EQ(json_int64(nlohmann::json(uint64_t(1) << 62)), int64_t(1) << 62);
  EXPECT_EQ(json_int64(nlohmann::json(uint64_t(1) << 63)), std::nullopt);
  EXPECT_EQ(json_int64(nlohmann::json(2.0)), std::nullopt);
  EXPECT_EQ(json_int64(nlohmann::json("2")), std::nullopt);
  EXPECT_EQ(json_excerpt(nlohmann::json("F16")), "\"F16\"");
  EXPECT_EQ(json_excerpt(nlohmann::json::array({1, 2})), "\"[1,2]\"");
}

}  // namespace
}  // namespace moet
