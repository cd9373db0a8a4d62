// cpu_check: refuse, in one line, to run on a CPU without the instructions this binary uses.
//
// The build targets the ISA of the machine that compiles it (-march=native, CMakeLists.txt).
// Copied to an older CPU (a shared cluster filesystem, a checkout moved between machines) it would
// die with SIGILL at its first AVX-512 instruction, often inside a static initialiser before main
// runs. cpu_check.cpp is compiled for baseline x86-64 and checks from a constructor that runs
// before every other one; on a mismatch it prints what is missing and how to rebuild, and exits 1.
// Its counterpart build_isa.cpp, compiled with the build's flags, records what they enable.
#pragma once

#include <string>

namespace moet {

// The instruction-set extensions the build enables that this CPU lacks, space-separated, in a
// fixed order ("" when the CPU has them all).
std::string missing_cpu_features();

}  // namespace moet
