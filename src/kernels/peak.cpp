#include "kernels/peak.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>

#include "core/timer.h"
#include "kernels/simd.h"

namespace moet {
namespace {

// Named accumulators: with an array, g++ keeps them in memory and the loop measures stores.
// AVX-512: sixteen chains of zmm cover the FMA latency of both ports (12 already suffice for
// fp32; vdpbf16ps needs 16). AVX2 has 16 ymm registers in all, so twelve chains (Zen 3: 2 ports x
// latency 4 needs 8) leave room for the two constants.
#define MOET_REPEAT16(X) \
  X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define MOET_REPEAT12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
// The empty asm makes every accumulator live in a register each iteration, so the compiler can
// neither drop nor merge the chains. Separate statements: asm takes at most 30 operands.
#define MOET_KEEP_0_TO_11                                                                    \
  asm volatile("" : "+v"(acc0), "+v"(acc1), "+v"(acc2), "+v"(acc3), "+v"(acc4), "+v"(acc5)); \
  asm volatile("" : "+v"(acc6), "+v"(acc7), "+v"(acc8), "+v"(acc9), "+v"(acc10), "+v"(acc11))
#define MOET_KEEP_12_TO_15 asm volatile("" : "+v"(acc12), "+v"(acc13), "+v"(acc14), "+v"(acc15))

// The fp32 loop in the widest vectors this build has (kernels/simd.h).
#if MOET_SIMD == 512
constexpr double kFp32Chains = 16;
#define MOET_FP32_CHAINS MOET_REPEAT16
#define MOET_FP32_KEEP \
  MOET_KEEP_0_TO_11;   \
  MOET_KEEP_12_TO_15
#else
constexpr double kFp32Chains = 12;
#define MOET_FP32_CHAINS MOET_REPEAT12
#define MOET_FP32_KEEP MOET_KEEP_0_TO_11
#endif
#ifdef MOET_SIMD
using FpVec = simd::V;
using simd::add;
using simd::broadcast;
using simd::fma;
#else  // a build without AVX2: scalar chains (separate multiply and add)
using FpVec = float;
float broadcast(float x) { return x; }
float fma(float a, float b, float c) { return a * b + c; }
float add(float a, float b) { return a + b; }
#endif
constexpr double kFp32Lanes = sizeof(FpVec) / sizeof(float);

// The lanes of a vector stored to `lanes`, summed (only to keep the result alive).
float lane_sum(const float* lanes, int count) {
  float total = 0;
  for (int i = 0; i < count; ++i) total += lanes[i];
  return total;
}

// acc = acc * 0.9999 + 0.0001 converges to 1: no overflow or denormals however long it runs.
__attribute__((noinline)) float fp32_fma_chains(int64_t iterations) {
#define MOET_DECLARE(i) FpVec acc##i = broadcast(0.001f * i);
  MOET_FP32_CHAINS(MOET_DECLARE)
#undef MOET_DECLARE
  const FpVec factor = broadcast(0.9999f), offset = broadcast(0.0001f);
  for (int64_t it = 0; it < iterations; ++it) {
#define MOET_FMA(i) acc##i = fma(acc##i, factor, offset);
    MOET_FP32_CHAINS(MOET_FMA)
#undef MOET_FMA
    MOET_FP32_KEEP;
  }
  FpVec total = broadcast(0);
#define MOET_SUM(i) total = add(total, acc##i);
  MOET_FP32_CHAINS(MOET_SUM)
#undef MOET_SUM
  alignas(64) float lanes[sizeof(FpVec) / sizeof(float)];
  std::memcpy(lanes, &total, sizeof(FpVec));
  return lane_sum(lanes, int(sizeof(FpVec) / sizeof(float)));
}
constexpr double kFp32FlopPerIteration = kFp32Chains * kFp32Lanes * 2 /*mul+add*/;

// Each lane grows by 2 * 1.0 * 2^-20 per step: finite for any run length.
__attribute__((noinline, target("avx512bf16"))) float bf16_dot_chains(int64_t iterations) {
#define MOET_DECLARE(i) __m512 acc##i = _mm512_set1_ps(0.001f * i);
  MOET_REPEAT16(MOET_DECLARE)
#undef MOET_DECLARE
  const __m512bh ones = (__m512bh)_mm512_set1_epi16(0x3f80);   // bf16 1.0
  const __m512bh small = (__m512bh)_mm512_set1_epi16(0x3580);  // bf16 2^-20
  for (int64_t it = 0; it < iterations; ++it) {
#define MOET_DOT(i) acc##i = _mm512_dpbf16_ps(acc##i, ones, small);
    MOET_REPEAT16(MOET_DOT)
#undef MOET_DOT
    MOET_KEEP_0_TO_11;
    MOET_KEEP_12_TO_15;
  }
  __m512 total = _mm512_setzero_ps();
#define MOET_SUM(i) total = _mm512_add_ps(total, acc##i);
  MOET_REPEAT16(MOET_SUM)
#undef MOET_SUM
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, total);
  return lane_sum(lanes, 16);
}
constexpr double kBf16FlopPerIteration = 16 /*chains*/ * 16 /*lanes*/ * 2 /*pairs*/ * 2 /*mul+add*/;

// Four accumulator tiles (0-3), one tile of bf16 1.0 (4) and one of bf16 2^-20 (5), all loaded
// before the loop: the loop is TDPBF16PS alone, four independent chains. Each instruction adds
// 32 * 2^-20 per element, so the sums level off below 2^10 (increments round away) and never
// overflow.
// The _tile_* intrinsics are asm volatile in g++: neither dropped nor merged. Tile state is per
// thread, so every call configures its own and releases it before returning.
__attribute__((noinline, target("amx-tile,amx-bf16"))) float amx_bf16_chains(int64_t iterations) {
  alignas(64) uint16_t ones[16 * 32], small[16 * 32];
  std::fill(std::begin(ones), std::end(ones), uint16_t(0x3f80));
  std::fill(std::begin(small), std::end(small), uint16_t(0x3580));
  // g++ 12's tileloadd asm names only a pointer, not the bytes it reads: this names them, so the
  // stores above happen first.
  asm volatile("" : : "m"(ones), "m"(small));
  configure_amx_tiles();
  _tile_loadd(4, ones, 64);
  _tile_loadd(5, small, 64);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t it = 0; it < iterations; ++it) {
    _tile_dpbf16ps(0, 4, 5);
    _tile_dpbf16ps(1, 4, 5);
    _tile_dpbf16ps(2, 4, 5);
    _tile_dpbf16ps(3, 4, 5);
  }
  alignas(64) float sums[4][16 * 16];
  _tile_stored(0, sums[0], 64);
  _tile_stored(1, sums[1], 64);
  _tile_stored(2, sums[2], 64);
  _tile_stored(3, sums[3], 64);
  release_amx_tiles();
  return sums[0][0] + sums[1][0] + sums[2][0] + sums[3][0];  // every element is the same
}
// One TDPBF16PS: a 16 x 16 fp32 tile += (16 x 32 bf16) x (32 x 16 bf16).
constexpr double kAmxFlopPerIteration = 4 /*tiles*/ * 2.0 * 16 * 16 * 32;

#undef MOET_REPEAT16
#undef MOET_REPEAT12
#undef MOET_KEEP_0_TO_11
#undef MOET_KEEP_12_TO_15
#undef MOET_FP32_CHAINS
#undef MOET_FP32_KEEP

// Wall time of every thread running `iterations` at once, and how many threads ran.
template <typename Kernel>
double time_on_all_threads(Kernel kernel, int64_t iterations, int& threads) {
  volatile float sink = 0;
  const double start = now_s();
#pragma omp parallel
  {
    const float result = kernel(iterations);
#pragma omp critical
    sink = sink + result;
#pragma omp single
    threads = omp_get_num_threads();
  }
  return now_s() - start;
}

// The best of several short windows: another process taking a core only ever slows a window
// down, and on a shared 2-core machine one long window would average that interference in.
constexpr int kWindows = 5;

template <typename Kernel>
double measure_gflops(Kernel kernel, double flop_per_iteration, double seconds) {
  // Grow a short calibration run until it is long enough to time, then scale to a window.
  int threads = 1;
  int64_t iterations = 1 << 14;
  double elapsed = time_on_all_threads(kernel, iterations, threads);
  while (elapsed < 0.01) {
    iterations *= 4;
    elapsed = time_on_all_threads(kernel, iterations, threads);
  }
  iterations = int64_t(double(iterations) * seconds / kWindows / elapsed) + 1;
  double best_gflops = 0;
  for (int window = 0; window < kWindows; ++window) {
    elapsed = time_on_all_threads(kernel, iterations, threads);
    best_gflops = std::max(
        best_gflops, double(threads) * double(iterations) * flop_per_iteration / elapsed / 1e9);
  }
  return best_gflops;
}

}  // namespace

double measure_fp32_peak_gflops(double seconds) {
  return measure_gflops(fp32_fma_chains, kFp32FlopPerIteration, seconds);
}

const char* fp32_vector_unit() {
#if MOET_SIMD == 512
  return "avx512";
#elif MOET_SIMD == 256
  return "avx2";
#else
  return "scalar";
#endif
}

bool cpu_has_avx512_bf16() { return __builtin_cpu_supports("avx512bf16"); }

double measure_bf16_dot_peak_gflops(double seconds) {
  if (!cpu_has_avx512_bf16()) return 0;
  return measure_gflops(bf16_dot_chains, kBf16FlopPerIteration, seconds);
}

double measure_amx_bf16_peak_gflops(double seconds) {
  if (!amx_bf16_usable()) return 0;
  return measure_gflops(amx_bf16_chains, kAmxFlopPerIteration, seconds);
}

Bf16Unit fastest_bf16_unit() {
  if (amx_bf16_usable()) return Bf16Unit::amx;
  if (cpu_has_avx512_bf16()) return Bf16Unit::avx512_bf16;
  return Bf16Unit::none;
}

const char* bf16_unit_name(Bf16Unit unit) {
  switch (unit) {
    case Bf16Unit::amx: return "amx";
    case Bf16Unit::avx512_bf16: return "avx512_bf16";
    case Bf16Unit::none: break;
  }
  return "none";
}

const char* bf16_unit_instruction(Bf16Unit unit) {
  switch (unit) {
    case Bf16Unit::amx: return "AMX tdpbf16ps";
    case Bf16Unit::avx512_bf16: return "AVX512-BF16 vdpbf16ps";
    case Bf16Unit::none: break;
  }
  return "no bf16 unit";
}

double measure_bf16_peak_gflops(Bf16Unit unit, double seconds) {
  switch (unit) {
    case Bf16Unit::amx: return measure_amx_bf16_peak_gflops(seconds);
    case Bf16Unit::avx512_bf16: return measure_bf16_dot_peak_gflops(seconds);
    case Bf16Unit::none: break;
  }
  return 0;
}

}  // namespace moet
