#include "core/build_isa.h"

namespace moet {

namespace {
constexpr uint32_t bit(IsaBit b) { return uint32_t(1) << b; }
}  // namespace

// Compiled with the build's -march like every other file: the predefined macros say what it
// lets the compiler emit.
extern const uint32_t kBuildIsaBits = 0
#ifdef __AVX__
                                      | bit(kIsaAvx)
#endif
#ifdef __AVX2__
                                      | bit(kIsaAvx2)
#endif
#ifdef __FMA__
                                      | bit(kIsaFma)
#endif
#ifdef __F16C__
                                      | bit(kIsaF16c)
#endif
#ifdef __BMI__
                                      | bit(kIsaBmi)
#endif
#ifdef __BMI2__
                                      | bit(kIsaBmi2)
#endif
#ifdef __AVX512F__
                                      | bit(kIsaAvx512f)
#endif
#ifdef __AVX512BW__
                                      | bit(kIsaAvx512bw)
#endif
#ifdef __AVX512VL__
                                      | bit(kIsaAvx512vl)
#endif
#ifdef __AVX512DQ__
                                      | bit(kIsaAvx512dq)
#endif
#ifdef __AVX512CD__
                                      | bit(kIsaAvx512cd)
#endif
#ifdef __AVX512VNNI__
                                      | bit(kIsaAvx512vnni)
#endif
#ifdef __AVX512BF16__
                                      | bit(kIsaAvx512bf16)
#endif
#ifdef __AVX512IFMA__
                                      | bit(kIsaAvx512ifma)
#endif
#ifdef __AVX512VBMI__
                                      | bit(kIsaAvx512vbmi)
#endif
#ifdef __AVX512VBMI2__
                                      | bit(kIsaAvx512vbmi2)
#endif
#ifdef __AVX512BITALG__
                                      | bit(kIsaAvx512bitalg)
#endif
#ifdef __AVX512VPOPCNTDQ__
                                      | bit(kIsaAvx512vpopcntdq)
#endif
#ifdef __AVX512FP16__
                                      | bit(kIsaAvx512fp16)
#endif
#ifdef __GFNI__
                                      | bit(kIsaGfni)
#endif
#ifdef __VPCLMULQDQ__
                                      | bit(kIsaVpclmulqdq)
#endif
#ifdef __AVX512VP2INTERSECT__
                                      | bit(kIsaAvx512vp2intersect)
#endif
#ifdef __AVXVNNI__
                                      | bit(kIsaAvxvnni)
#endif
#ifdef __AMX_TILE__
                                      | bit(kIsaAmxTile)
#endif
#ifdef __AMX_INT8__
                                      | bit(kIsaAmxInt8)
#endif
#ifdef __AMX_BF16__
                                      | bit(kIsaAmxBf16)
#endif
#ifdef __VAES__
                                      | bit(kIsaVaes)
#endif
#ifdef __SHA__
                                      | bit(kIsaSha)
#endif
#ifdef __MOVBE__
                                      | bit(kIsaMovbe)
#endif
#ifdef __LZCNT__
                                      | bit(kIsaLzcnt)
#endif
#ifdef __POPCNT__
                                      | bit(kIsaPopcnt)
#endif
    ;

}  // namespace moet
