// use_threads: the thread count, and denormals flushed on every thread that runs kernels.
#include "kernels/threads.h"

#include <gtest/gtest.h>
#include <omp.h>
#include <xmmintrin.h>

#include <atomic>
#include <cfloat>

namespace moet {
namespace {

// A denormal result of fp32 arithmetic, formed at run time (volatile: not folded at compile time).
float denormal_product() {
  volatile float a = FLT_MIN, b = 0.25f;
  return a * b;
}

// Leaves the process's floating-point mode as it found it: other tests of this binary run after
// this one in the same process (a gtest run without ctest), and some judge errors against
// denormal-sized floors (tests/kernels/kernel_check.h).
struct RestoreFloatMode {
  const unsigned mxcsr = _mm_getcsr();
  ~RestoreFloatMode() {
    const unsigned saved = mxcsr;
    _mm_setcsr(saved);
#pragma omp parallel
    _mm_setcsr(saved);
  }
};

TEST(Threads, UseThreadsSetsTheCountAndFlushesDenormalsOnEveryPoolThread) {
  const RestoreFloatMode restore;
  const int before = omp_get_max_threads();
  use_threads(2);
  EXPECT_EQ(omp_get_max_threads(), 2);
  EXPECT_TRUE(thread_flushes_denormals());
  EXPECT_EQ(denormal_product(), 0.0f);
  std::atomic<int> flushing{0}, threads{0}, zero_products{0};
#pragma omp parallel
  {
    ++threads;
    if (thread_flushes_denormals()) ++flushing;
    if (denormal_product() == 0.0f) ++zero_products;
  }
  EXPECT_EQ(threads.load(), 2);
  EXPECT_EQ(flushing.load(), threads.load());
  EXPECT_EQ(zero_products.load(), threads.load());
  use_threads(0);  // 0 keeps the count
  EXPECT_EQ(omp_get_max_threads(), 2);
  omp_set_num_threads(before);
}

}  // namespace
}  // namespace moet
