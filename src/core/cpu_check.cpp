#include "core/cpu_check.h"

#include <array>
#include <cstdio>
#include <cstdlib>

#include "core/build_isa.h"

namespace moet {
namespace {

constexpr std::array<const char*, kIsaCount> kIsaNames = {
    "avx",        "avx2",       "fma",        "f16c",        "bmi",          "bmi2",
    "avx512f",    "avx512bw",   "avx512vl",   "avx512dq",    "avx512cd",     "avx512vnni",
    "avx512bf16", "avx512ifma", "avx512vbmi", "avx512vbmi2", "avx512bitalg", "avx512vpopcntdq",
    "avx512fp16", "gfni",       "vpclmulqdq"};

// __builtin_cpu_supports takes only literals, hence one line per extension, in IsaBit order.
uint32_t cpu_isa_bits() {
  __builtin_cpu_init();  // needed before the builtins when called from a constructor
  const bool present[kIsaCount] = {
      bool(__builtin_cpu_supports("avx")),          bool(__builtin_cpu_supports("avx2")),
      bool(__builtin_cpu_supports("fma")),          bool(__builtin_cpu_supports("f16c")),
      bool(__builtin_cpu_supports("bmi")),          bool(__builtin_cpu_supports("bmi2")),
      bool(__builtin_cpu_supports("avx512f")),      bool(__builtin_cpu_supports("avx512bw")),
      bool(__builtin_cpu_supports("avx512vl")),     bool(__builtin_cpu_supports("avx512dq")),
      bool(__builtin_cpu_supports("avx512cd")),     bool(__builtin_cpu_supports("avx512vnni")),
      bool(__builtin_cpu_supports("avx512bf16")),   bool(__builtin_cpu_supports("avx512ifma")),
      bool(__builtin_cpu_supports("avx512vbmi")),   bool(__builtin_cpu_supports("avx512vbmi2")),
      bool(__builtin_cpu_supports("avx512bitalg")), bool(__builtin_cpu_supports("avx512vpopcntdq")),
      bool(__builtin_cpu_supports("avx512fp16")),   bool(__builtin_cpu_supports("gfni")),
      bool(__builtin_cpu_supports("vpclmulqdq"))};
  uint32_t bits = 0;
  for (int i = 0; i < int(kIsaCount); ++i)
    if (present[i]) bits |= uint32_t(1) << i;
  return bits;
}

// Priority 101, the first a program may use: before the static initialisers of every other file
// (command registration, tables), any of which the compiler may have vectorised.
__attribute__((constructor(101))) void refuse_a_cpu_without_the_build_isa() {
  const std::string missing = missing_cpu_features();
  if (missing.empty()) return;
  std::fprintf(stderr,
               "moet: this binary was built for a CPU with %s, which this CPU lacks; rebuild it "
               "here (./moet.sh build) or for every node with "
               "-DMOET_ARCH_FLAGS=\"-march=x86-64-v3\"\n",
               missing.c_str());
  std::_Exit(1);
}

}  // namespace

std::string missing_isa_names(uint32_t build_bits, uint32_t cpu_bits) {
  std::string missing;
  for (int i = 0; i < int(kIsaCount); ++i) {
    if ((build_bits >> i & 1u) == 0 || (cpu_bits >> i & 1u) != 0) continue;
    if (!missing.empty()) missing += ' ';
    missing += kIsaNames[size_t(i)];
  }
  return missing;
}

std::string missing_cpu_features() { return missing_isa_names(kBuildIsaBits, cpu_isa_bits()); }

}  // namespace moet

// Referenced from the link line (CMakeLists.txt: -u) so a static link keeps this file, and with
// it the constructor above.
extern "C" void moet_cpu_check_anchor() {}
