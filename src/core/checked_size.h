// CheckedSize: int64 size arithmetic that remembers overflow instead of wrapping.
//
// Shapes come from configs and files, so a product such as vocab x N or batch x seq x seq can
// exceed int64 on absurd input; signed overflow is undefined behaviour, and a wrapped size can
// look small (even 0). Sizes built from untrusted numbers go through CheckedSize: once any step
// overflows (or a factor is negative) the result stays "overflowed", and the caller reports it
// as too large instead of allocating.
#pragma once

#include <cstdint>

namespace moet {

class CheckedSize {
 public:
  constexpr CheckedSize(int64_t value = 0) : value_(value), overflow_(value < 0) {}  // NOLINT

  constexpr bool overflow() const { return overflow_; }
  // The value; only meaningful when !overflow().
  constexpr int64_t value() const { return value_; }

  friend constexpr CheckedSize operator*(CheckedSize a, CheckedSize b) {
    CheckedSize out;
    out.overflow_ =
        a.overflow_ || b.overflow_ || __builtin_mul_overflow(a.value_, b.value_, &out.value_);
    return out;
  }
  friend constexpr CheckedSize operator+(CheckedSize a, CheckedSize b) {
    CheckedSize out;
    out.overflow_ =
        a.overflow_ || b.overflow_ || __builtin_add_overflow(a.value_, b.value_, &out.value_);
    return out;
  }
  CheckedSize& operator*=(CheckedSize other) { return *this = *this * other; }
  CheckedSize& operator+=(CheckedSize other) { return *this = *this + other; }

 private:
  int64_t value_;
  bool overflow_;
};

}  // namespace moet
