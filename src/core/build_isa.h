// build_isa: which vector instruction-set extensions the build's flags enable, as a bit set that
// cpu_check.cpp (compiled for baseline x86-64) compares with the CPU. Internal to core/.
#pragma once

#include <cstdint>
#include <string>

namespace moet {

// One bit per extension; cpu_check.cpp names them in this order, as GCC and /proc/cpuinfo do.
enum IsaBit : uint32_t {
  kIsaAvx,
  kIsaAvx2,
  kIsaFma,
  kIsaF16c,
  kIsaBmi,
  kIsaBmi2,
  kIsaAvx512f,
  kIsaAvx512bw,
  kIsaAvx512vl,
  kIsaAvx512dq,
  kIsaAvx512cd,
  kIsaAvx512vnni,
  kIsaAvx512bf16,
  kIsaAvx512ifma,
  kIsaAvx512vbmi,
  kIsaAvx512vbmi2,
  kIsaAvx512bitalg,
  kIsaAvx512vpopcntdq,
  kIsaAvx512fp16,
  kIsaGfni,
  kIsaVpclmulqdq,
  kIsaAvx512vp2intersect,
  kIsaAvxvnni,
  kIsaAmxTile,
  kIsaAmxInt8,
  kIsaAmxBf16,
  kIsaVaes,
  kIsaSha,
  kIsaMovbe,
  kIsaLzcnt,
  kIsaPopcnt,
  kIsaCount
};
static_assert(kIsaCount <= 32, "one bit per extension in a uint32_t");

// Constant-initialised (no code runs to set it), so it is valid before any constructor.
extern const uint32_t kBuildIsaBits;

// The names of the extensions set in build_bits and clear in cpu_bits, space-separated, in
// IsaBit order (cpu_check.cpp).
std::string missing_isa_names(uint32_t build_bits, uint32_t cpu_bits);

}  // namespace moet
