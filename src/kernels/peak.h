// peak: this machine's arithmetic peak, measured, as the denominator of "fraction of peak".
//
// A nominal peak (cores x FMA ports x lanes x clock) is wrong on a VM whose clock and turbo are
// unknown, so we time a loop that only an ideal kernel could match: 16 independent chains of
// 512-bit FMAs kept in registers, on every OpenMP thread at once. Each call takes about
// `seconds` and reports the best of several windows (interference only slows a window down);
// the result is in GFLOP/s summed over omp_get_max_threads() threads.
#pragma once

namespace moet {

double measure_fp32_peak_gflops(double seconds = 0.3);

// The same for vdpbf16ps (AVX512-BF16, bf16 pairs accumulated into fp32): the instruction oneDNN's
// bf16 kernels use on CPUs without AMX. Returns 0 when the CPU lacks AVX512-BF16. On a CPU with
// AMX, oneDNN's bf16 matmul can exceed this figure.
bool cpu_has_avx512_bf16();
double measure_bf16_dot_peak_gflops(double seconds = 0.3);

}  // namespace moet
