// threads: how many OpenMP threads the kernels use, and the floating-point mode they run in.
//
// Every thread that runs kernels flushes denormals to zero (MXCSR FTZ and DAZ). Values below
// 1.2e-38 (fp32) carry no signal a training step needs, but every arithmetic instruction that
// meets one takes a microcode assist of ~100 cycles: the GELU derivative and exponentials of
// large negative pre-activations produce them, and once a GEMM's operand is full of them its
// FLOP rate drops tenfold (measured: `moet bench --config small --set model.N=2048`, 66 tokens/s
// against 386 with flushing; docs/performance.md). Results change only where a denormal would
// have been formed or read.
#pragma once

#include <cstdint>

namespace moet {

// Sets the OpenMP thread count (when threads > 0) and flushes denormals on the calling thread and
// on every thread of the OpenMP pool. Call before the first kernel of a run.
void use_threads(int64_t threads);

// Whether the calling thread flushes denormals (FTZ and DAZ both set).
bool thread_flushes_denormals();

}  // namespace moet
