#include "core/cpu_check.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/build_isa.h"

namespace moet {
namespace {

// In IsaBit order, as GCC's __builtin_cpu_supports and /proc/cpuinfo spell them.
constexpr std::array<const char*, kIsaCount> kIsaNames = {
    "avx",          "avx2",
    "fma",          "f16c",
    "bmi",          "bmi2",
    "avx512f",      "avx512bw",
    "avx512vl",     "avx512dq",
    "avx512cd",     "avx512vnni",
    "avx512bf16",   "avx512ifma",
    "avx512vbmi",   "avx512vbmi2",
    "avx512bitalg", "avx512vpopcntdq",
    "avx512fp16",   "gfni",
    "vpclmulqdq",   "avx512vp2intersect",
    "avxvnni",      "amx-tile",
    "amx-int8",     "amx-bf16",
    "vaes",         "sha",
    "movbe",        "lzcnt",
    "popcnt",
};
constexpr bool every_bit_named() {
  for (const char* name : kIsaNames)
    if (name == nullptr) return false;
  return true;
}
static_assert(every_bit_named(), "kIsaNames must name every IsaBit");

// __builtin_cpu_supports takes only literals, hence one line per extension, in IsaBit order.
uint32_t cpu_isa_bits() {
  __builtin_cpu_init();  // needed before the builtins when called from a constructor
  const bool present[kIsaCount] = {
      bool(__builtin_cpu_supports("avx")),
      bool(__builtin_cpu_supports("avx2")),
      bool(__builtin_cpu_supports("fma")),
      bool(__builtin_cpu_supports("f16c")),
      bool(__builtin_cpu_supports("bmi")),
      bool(__builtin_cpu_supports("bmi2")),
      bool(__builtin_cpu_supports("avx512f")),
      bool(__builtin_cpu_supports("avx512bw")),
      bool(__builtin_cpu_supports("avx512vl")),
      bool(__builtin_cpu_supports("avx512dq")),
      bool(__builtin_cpu_supports("avx512cd")),
      bool(__builtin_cpu_supports("avx512vnni")),
      bool(__builtin_cpu_supports("avx512bf16")),
      bool(__builtin_cpu_supports("avx512ifma")),
      bool(__builtin_cpu_supports("avx512vbmi")),
      bool(__builtin_cpu_supports("avx512vbmi2")),
      bool(__builtin_cpu_supports("avx512bitalg")),
      bool(__builtin_cpu_supports("avx512vpopcntdq")),
      bool(__builtin_cpu_supports("avx512fp16")),
      bool(__builtin_cpu_supports("gfni")),
      bool(__builtin_cpu_supports("vpclmulqdq")),
      bool(__builtin_cpu_supports("avx512vp2intersect")),
      bool(__builtin_cpu_supports("avxvnni")),
      bool(__builtin_cpu_supports("amx-tile")),
      bool(__builtin_cpu_supports("amx-int8")),
      bool(__builtin_cpu_supports("amx-bf16")),
      bool(__builtin_cpu_supports("vaes")),
      bool(__builtin_cpu_supports("sha")),
      bool(__builtin_cpu_supports("movbe")),
      bool(__builtin_cpu_supports("lzcnt")),
      bool(__builtin_cpu_supports("popcnt")),
  };
  uint32_t bits = 0;
  for (int i = 0; i < int(kIsaCount); ++i)
    if (present[i]) bits |= uint32_t(1) << i;
  return bits;
}

// Room for every name and its separator.
constexpr size_t kNamesCapacity = 512;

// The missing names into a plain char buffer: the constructor below must not call a
// std::string member, whose out-of-line copy the linker may take from a file built for the
// build's ISA.
void write_missing_names(uint32_t build_bits, uint32_t cpu_bits, char (&out)[kNamesCapacity]) {
  size_t used = 0;
  for (int i = 0; i < int(kIsaCount); ++i) {
    if ((build_bits >> i & 1u) == 0 || (cpu_bits >> i & 1u) != 0) continue;
    const size_t length = std::strlen(kIsaNames[size_t(i)]);
    if (used + length + 2 > kNamesCapacity) break;
    if (used > 0) out[used++] = ' ';
    std::memcpy(out + used, kIsaNames[size_t(i)], length);
    used += length;
  }
  out[used] = '\0';
}

// Priority 101, the first a program may use: before the static initialisers of every other file
// (command registration, tables), any of which the compiler may have vectorised.
__attribute__((constructor(101))) void refuse_a_cpu_without_the_build_isa() {
  char missing[kNamesCapacity];
  write_missing_names(kBuildIsaBits, cpu_isa_bits(), missing);
  if (missing[0] == '\0') return;
  std::fprintf(stderr,
               "moet: this binary was built for a CPU with %s, which this CPU lacks; rebuild it "
               "here (./moet.sh build) or for every node with "
               "-DMOET_ARCH_FLAGS=\"-march=x86-64-v3\"\n",
               missing);
  std::_Exit(1);
}

}  // namespace

std::string missing_isa_names(uint32_t build_bits, uint32_t cpu_bits) {
  char missing[kNamesCapacity];
  write_missing_names(build_bits, cpu_bits, missing);
  return missing;
}

std::string missing_cpu_features() { return missing_isa_names(kBuildIsaBits, cpu_isa_bits()); }

}  // namespace moet

// Referenced from the link line (CMakeLists.txt: -u) so a static link keeps this file, and with
// it the constructor above.
extern "C" void moet_cpu_check_anchor() {}
