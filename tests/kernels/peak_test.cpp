// The peak measurements run and return plausible figures; their speed is never asserted beyond
// "positive" and the order of the units. The AMX detection is checked against what the kernel
// itself reports (/proc/cpuinfo, ARCH_GET_XCOMP_PERM), so both run on machines with and without.
#include "kernels/peak.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "../support/one_thread.h"
#include "core/timer.h"
#include "kernels/bf16.h"
#include "kernels/gemm.h"

namespace moet {
namespace {

TEST(Peak, ReturnsPositiveFiniteFigures) {
  const double fp32 = measure_fp32_peak_gflops(0.02);
  EXPECT_GT(fp32, 0);
  EXPECT_TRUE(std::isfinite(fp32));
  const double bf16 = measure_bf16_dot_peak_gflops(0.02);
  if (cpu_has_avx512_bf16())
    EXPECT_GT(bf16, 0);
  else
    EXPECT_EQ(bf16, 0);
}

// The flags line of /proc/cpuinfo, padded with spaces so " flag " finds whole words; empty off
// Linux.
std::string cpuinfo_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0) return line + " ";
  return "";
}

TEST(Peak, AmxCpuDetectionAgreesWithTheKernel) {
  const std::string flags = cpuinfo_flags();
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo";
  const bool listed = flags.find(" amx_bf16 ") != std::string::npos &&
                      flags.find(" amx_tile ") != std::string::npos;
  // Linux lists the AMX flags only when cpuid has them and it enabled the tile state in XCR0.
  EXPECT_EQ(cpu_has_amx_bf16(), listed) << flags;
}

TEST(Peak, AmxUsableExactlyWhenTheOsGrantedTileData) {
  const bool usable = amx_bf16_usable();
  if (!cpu_has_amx_bf16()) {
    EXPECT_FALSE(usable);
    return;
  }
  // Ask the kernel what this process may use; older kernels (before 5.16) lack the call.
  constexpr long kArchGetXcompPerm = 0x1022, kXfeatureXtiledata = 18;
  uint64_t permitted = 0;
  if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &permitted) != 0) {
    EXPECT_FALSE(usable);
    return;
  }
  EXPECT_TRUE(usable);
  EXPECT_TRUE((permitted >> kXfeatureXtiledata) & 1) << "permitted features " << permitted;
}

// One thread for the ordered comparisons: a parallel region waits for its slowest thread, and on a
// loaded machine a descheduled worker costs a short window far more than the units differ by.
TEST(Peak, AmxPeakIsMeasuredOnlyWhereUsableAndExceedsTheDotProductPeak) {
  testing::OneThread one_thread;
  const double amx = measure_amx_bf16_peak_gflops(0.02);
  if (!amx_bf16_usable()) {
    EXPECT_EQ(amx, 0);
    EXPECT_NE(fastest_bf16_unit(), Bf16Unit::amx);
    return;
  }
  EXPECT_GT(amx, 0);
  EXPECT_TRUE(std::isfinite(amx));
  EXPECT_EQ(fastest_bf16_unit(), Bf16Unit::amx);
  // Eight times the work per cycle on Sapphire Rapids; only the order is asserted.
  const double dot = measure_bf16_dot_peak_gflops(0.02);
  if (dot > 0) {
    EXPECT_GT(amx, dot);
  }
}

// The fp32 denominator is a ceiling for this build's vectors (16 chains of zmm, or 12 of ymm on
// AVX2): oneDNN's fp32 GEMM on one thread stays below it, with the same factor 2 for noise, so a
// peak loop that ran at under half the machine's rate (too few chains to cover the FMA latency,
// accumulators spilled to memory) fails here.
TEST(Peak, Fp32GemmStaysBelowTheFp32Peak) {
  testing::OneThread one_thread;
  const int64_t m = 256, n = 256, k = 1024;
  const std::vector<float> a(size_t(m * k), 0.5f), b(size_t(k * n), 0.5f);
  std::vector<float> c(size_t(m * n));
  double best_s = 1e30;
  for (int call = 0; call < 6; ++call) {
    const double start = now_s();
    gemm<float>(Transpose::no, Transpose::no, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f,
                c.data(), n);
    if (call > 0) best_s = std::min(best_s, now_s() - start);
  }
  ASSERT_EQ(c[0], 0.25f * float(k));
  const double gemm_gflops = 2.0 * double(m * n * k) / best_s / 1e9;
  EXPECT_LT(gemm_gflops, 2 * measure_fp32_peak_gflops(0.02)) << fp32_vector_unit();
}

// The defect this guards: on an AMX CPU the bf16 denominator was the vdpbf16ps peak, and oneDNN's
// bf16 GEMMs (on the tiles) ran at 4-7 times it. A GEMM well above the peak means the denominator
// is not the fastest unit. Both figures are the best of five short runs on one thread; the factor
// 2 leaves room for a loaded machine's noise and still catches the old 4-7x.
TEST(Peak, Bf16GemmStaysBelowTheFastestUnitPeak) {
  testing::OneThread one_thread;
  const Bf16Unit unit = fastest_bf16_unit();
  if (unit == Bf16Unit::none) {
    EXPECT_EQ(measure_bf16_peak_gflops(unit, 0.02), 0);
    return;
  }
  const int64_t m = 256, n = 256, k = 1024;
  const std::vector<uint16_t> a(size_t(m * k), float_to_bf16(0.5f)), b(size_t(k * n), a[0]);
  std::vector<float> c(size_t(m * n));
  double best_s = 1e30;
  for (int call = 0; call < 6; ++call) {
    const double start = now_s();
    gemm_bf16(Transpose::no, Transpose::no, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(),
              n);
    if (call > 0) best_s = std::min(best_s, now_s() - start);  // call 0 builds the primitive
  }
  ASSERT_EQ(c[0], 0.25f * float(k));
  const double gemm_gflops = 2.0 * double(m * n * k) / best_s / 1e9;
  const double peak = measure_bf16_peak_gflops(unit, 0.005);
  EXPECT_LT(gemm_gflops, 2 * peak) << "unit " << bf16_unit_name(unit);
}

}  // namespace
}  // namespace moet
