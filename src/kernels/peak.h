// peak: this machine's arithmetic peak, measured, as the denominator of "fraction of peak".
//
// A nominal peak (cores x FMA ports x lanes x clock) is wrong on a VM whose clock and turbo are
// unknown, so we time a loop that only an ideal kernel could match: independent chains of FMAs
// in the widest vectors the build has (16 chains of 512-bit, or 12 of 256-bit on AVX2) kept in
// registers, on every OpenMP thread at once. Each call takes about
// `seconds` and reports the best of several windows (interference only slows a window down);
// the result is in GFLOP/s summed over omp_get_max_threads() threads.
#pragma once

#include "kernels/amx.h"  // amx_bf16_usable()

namespace moet {

double measure_fp32_peak_gflops(double seconds = 0.3);
// The vectors that peak, and every vector kernel of this build, run in (kernels/simd.h):
// "avx512" | "avx2" | "scalar".
const char* fp32_vector_unit();

// The same for vdpbf16ps (AVX512-BF16, bf16 pairs accumulated into fp32): the instruction oneDNN's
// bf16 kernels use on CPUs without AMX, and the ceiling of our own hand-written bf16 kernels on
// any CPU. Returns 0 when the CPU lacks AVX512-BF16. On a CPU with AMX, oneDNN's bf16 matmul runs
// on the tiles and exceeds this figure several times over.
bool cpu_has_avx512_bf16();
double measure_bf16_dot_peak_gflops(double seconds = 0.3);

// The same for AMX: independent TDPBF16PS chains into accumulator tiles, 2*16*16*32 FLOPs each.
// Returns 0 unless amx_bf16_usable(). The machines moet runs on differ between sessions (AMD
// without AMX, Intel with it), so the bf16 denominator is chosen at run time, never assumed.
double measure_amx_bf16_peak_gflops(double seconds = 0.3);

// The fastest bf16 unit this CPU can use: the denominator of "fraction of the bf16 peak".
enum class Bf16Unit { none, avx512_bf16, amx };
Bf16Unit fastest_bf16_unit();
const char* bf16_unit_name(Bf16Unit unit);         // "none" | "avx512_bf16" | "amx" (JSON)
const char* bf16_unit_instruction(Bf16Unit unit);  // for people: "AMX tdpbf16ps", ...
double measure_bf16_peak_gflops(Bf16Unit unit, double seconds = 0.3);  // 0 for none

}  // namespace moet
