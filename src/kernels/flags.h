// The yes/no arguments of the kernels, named: a call reads `Accumulate::yes` where it read a bare
// `true`, so which of a dozen positional arguments turns on += (or a transposed operand) shows
// at the call site.
#pragma once

namespace moet {

// Whether a kernel adds into its output (+=) or overwrites it (=, without reading it first).
enum class Accumulate : bool { no, yes };
// Whether a GEMM operand is stored transposed (see kernels/gemm.h).
enum class Transpose : bool { no, yes };

}  // namespace moet
