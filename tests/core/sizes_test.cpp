// Sizes from untrusted numbers: CheckedSize arithmetic, byte sizes with units, and their text.
#include <gtest/gtest.h>

#include "core/byte_size.h"
#include "core/checked_size.h"
#include "core/error.h"

namespace moet {
namespace {

TEST(CheckedSize, FlagsOverflowInsteadOfWrapping) {
  const CheckedSize big = int64_t(1) << 40;
  EXPECT_EQ((big * 1024).value(), int64_t(1) << 50);
  EXPECT_FALSE((big * 1024).overflow());
  // 2^62 x 4 wraps to 0 in uint64: the byte size of a crafted safetensors shape.
  EXPECT_TRUE((CheckedSize(int64_t(1) << 62) * 4).overflow());
  EXPECT_TRUE((CheckedSize(INT64_MAX) + 1).overflow());
  EXPECT_TRUE((big * big * 0).overflow());  // once overflowed, always overflowed
  EXPECT_TRUE(CheckedSize(-1).overflow());  // a negative size is no size
  EXPECT_EQ((CheckedSize(3) + 4 * CheckedSize(5)).value(), 23);
}

TEST(ByteSize, ParsesUnitsPeopleWrite) {
  EXPECT_EQ(parse_byte_size("8GiB", "k"), int64_t(8) << 30);
  EXPECT_EQ(parse_byte_size("512 MiB", "k"), int64_t(512) << 20);
  EXPECT_EQ(parse_byte_size("1.5GB", "k"), 1500000000);
  EXPECT_EQ(parse_byte_size("2kB", "k"), 2000);
  EXPECT_EQ(parse_byte_size("8gib", "k"), int64_t(8) << 30);
  EXPECT_EQ(parse_byte_size("4096", "k"), 4096);
  EXPECT_EQ(parse_byte_size("3 B", "k"), 3);
}

TEST(ByteSize, RejectsWhatIsNotASize) {
  for (const char* text : {"lots", "-1GiB", "8 XB", "", " 8GiB", "GiB", "8GiBs", "nan", "inf"})
    EXPECT_THROW(parse_byte_size(text, "train.max_memory"), Error) << text;
  try {
    parse_byte_size("1e30 TiB", "train.max_memory");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "train.max_memory: '1e30 TiB' does not fit in 64 bits");
  }
}

TEST(ByteSize, FormatsInTheLargestBinaryUnit) {
  EXPECT_EQ(format_bytes(37), "37 B");
  EXPECT_EQ(format_bytes(int64_t(512) << 20), "512 MiB");
  EXPECT_EQ(format_bytes(int64_t(1288490189)), "1.20 GiB");
  EXPECT_EQ(format_bytes(int64_t(23) << 30), "23.0 GiB");
  EXPECT_EQ(format_bytes(INT64_MAX), "8.00 EiB");
}

}  // namespace
}  // namespace moet
