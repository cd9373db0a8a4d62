// The hand-written GPT-2 pre-tokenizer against pieces from GPT-2's own regex (Python `regex`
// module, computed once and written down here), and the Unicode classes it relies on.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "data/pretokenize.h"
#include "data/unicode.h"

namespace moet {
namespace {

std::vector<std::string> pieces(std::string_view text) {
  std::vector<std::string> out;
  PreTokenizer scanner(text);
  std::string_view piece;
  while (scanner.next(piece)) out.emplace_back(piece);
  return out;
}

TEST(DataPreTokenizer, MatchesGpt2RegexOnAscii) {
  EXPECT_EQ(pieces("Hello world! It's 'quoted' -- isn't it? We'll  see:\n\n  indented 42x 3.14"),
            (std::vector<std::string>{
                "Hello", " world",    "!",   " It", "'s",  " '",  "quoted", "'",    " --",
                " isn",  "'t",        " it", "?",   " We", "'ll", " ",      " see", ":",
                "\n\n ", " indented", " 42", "x",   " 3",  ".",   "14"}));
  EXPECT_EQ(pieces("they'RE 'll'd   \t\n"),
            (std::vector<std::string>{"they", "'", "RE", " '", "ll", "'d", "   \t\n"}));
}

TEST(DataPreTokenizer, MatchesGpt2RegexOnNonAscii) {
  // Letters (Latin, Cyrillic, Han), Arabic-Indic digits, ½ and ² as numbers, a combining accent
  // (a mark: neither letter nor number), no-break and ideographic spaces, emoji as "other".
  EXPECT_EQ(pieces("naïve café Москва 北京市 ١٢٣ ½² x\u0301y \u00a0nbsp\u3000end 😀👍 "),
            (std::vector<std::string>{"naïve", " café", " Москва", " 北京市", " ١٢٣", " ½²", " x",
                                      "\u0301", "y", " ", "\u00a0", "nbsp", "\u3000", "end", " 😀👍",
                                      " "}));
}

TEST(DataPreTokenizer, PiecesTileArbitraryBytes) {
  const std::string bytes = "ok \xff\xfe bad \xc3 cut \xed\xa0\x80 surrogate \xe2\x82";
  std::string joined;
  for (const auto& p : pieces(bytes)) {
    EXPECT_FALSE(p.empty());
    joined += p;
  }
  EXPECT_EQ(joined, bytes);
  EXPECT_TRUE(pieces("").empty());
}

TEST(DataUnicode, ClassesAndDecoding) {
  EXPECT_EQ(char_class('a'), CharClass::Letter);
  EXPECT_EQ(char_class('7'), CharClass::Number);
  EXPECT_EQ(char_class(' '), CharClass::Space);
  EXPECT_EQ(char_class('-'), CharClass::Other);
  EXPECT_EQ(char_class(0x00E9), CharClass::Letter);  // é
  EXPECT_EQ(char_class(0x4E2D), CharClass::Letter);  // 中
  EXPECT_EQ(char_class(0x0663), CharClass::Number);  // ٣
  EXPECT_EQ(char_class(0x2167), CharClass::Number);  // Ⅷ (Nl)
  EXPECT_EQ(char_class(0x2003), CharClass::Space);   // em space
  EXPECT_EQ(char_class(0x0301), CharClass::Other);   // combining acute (Mn)
  EXPECT_EQ(char_class(0x1F600), CharClass::Other);  // 😀
  EXPECT_EQ(char_class(kInvalidCodePoint), CharClass::Other);
  EXPECT_EQ(decode_utf8("\xe2\x80\x94", 0).value, 0x2014u);
  EXPECT_EQ(decode_utf8("\xe2\x80\x94", 0).length, 3u);
  EXPECT_EQ(decode_utf8("\xc0\xaf", 0).value, kInvalidCodePoint);  // overlong '/'
  EXPECT_TRUE(is_valid_utf8("naïve — 北京 😀"));
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));  // a UTF-16 surrogate
}

}  // namespace
}  // namespace moet
