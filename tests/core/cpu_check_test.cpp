// The CPU check that stops a binary on a CPU without its ISA (core/cpu_check.h): the comparison
// on synthetic bit sets, and the build's own record against the flags this file was built with.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "core/build_isa.h"
#include "core/cpu_check.h"

namespace moet {
namespace {

constexpr uint32_t bit(IsaBit b) { return uint32_t(1) << b; }

TEST(CpuCheck, NamesWhatTheBuildUsesAndTheCpuLacksInOrder) {
  const uint32_t zen5_build =
      bit(kIsaAvx2) | bit(kIsaFma) | bit(kIsaAvx512f) | bit(kIsaAvx512bw) | bit(kIsaAvx512bf16);
  const uint32_t zen3_cpu = bit(kIsaAvx) | bit(kIsaAvx2) | bit(kIsaFma) | bit(kIsaBmi2);
  EXPECT_EQ(missing_isa_names(zen5_build, zen3_cpu), "avx512f avx512bw avx512bf16");
  EXPECT_EQ(missing_isa_names(zen3_cpu, zen5_build), "avx bmi2");
  EXPECT_EQ(missing_isa_names(zen5_build, zen5_build | zen3_cpu), "");
  EXPECT_EQ(missing_isa_names(0, 0), "");
  EXPECT_EQ(missing_isa_names(bit(kIsaPopcnt) | bit(kIsaAmxBf16) | bit(kIsaAvx), bit(kIsaAvx)),
            "amx-bf16 popcnt");
  // Every extension missing at once: all of them named, none cut off.
  const std::string all = missing_isa_names((uint64_t(1) << kIsaCount) - 1, 0);
  EXPECT_EQ(std::count(all.begin(), all.end(), ' '), kIsaCount - 1) << all;
  EXPECT_EQ(all.substr(all.rfind(' ') + 1), "popcnt");
}

// build_isa.cpp and this file are compiled with the same -march: their macros must agree.
TEST(CpuCheck, BuildRecordFollowsTheCompilerFlags) {
#ifdef __AVX2__
  EXPECT_TRUE(kBuildIsaBits & bit(kIsaAvx2));
#else
  EXPECT_FALSE(kBuildIsaBits & bit(kIsaAvx2));
#endif
#ifdef __AVX512F__
  EXPECT_TRUE(kBuildIsaBits & bit(kIsaAvx512f));
#else
  EXPECT_FALSE(kBuildIsaBits & bit(kIsaAvx512f));
#endif
#ifdef __AVX512BF16__
  EXPECT_TRUE(kBuildIsaBits & bit(kIsaAvx512bf16));
#else
  EXPECT_FALSE(kBuildIsaBits & bit(kIsaAvx512bf16));
#endif
}

// The tests were built on this machine for this machine.
TEST(CpuCheck, ThisCpuHasWhatThisBuildUses) { EXPECT_EQ(missing_cpu_features(), ""); }

}  // namespace
}  // namespace moet
