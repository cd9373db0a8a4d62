// Precision: the number format of the model's large matrix multiplies (key train.precision).
//
// fp32 runs everything in float. bf16 is mixed precision: the GEMMs of the attention projections,
// the experts, dense and shared FFNs and the readout take bf16 operands (weights rounded from the
// fp32 master copy once per forward pass, activations and gradients as they are consumed) and
// accumulate in fp32; the router, the attention scores and softmax, norms, the loss and the
// optimizer stay in fp32. Master weights, gradients and optimizer state are fp32 throughout.
#pragma once

#include <string>

#include "core/enum_names.h"

namespace moet {

enum class Precision { fp32, bf16 };

inline constexpr EnumName<Precision> kPrecisions[] = {{Precision::fp32, "fp32"},
                                                      {Precision::bf16, "bf16"}};

inline const char* precision_name(Precision p) { return enum_name(p, kPrecisions); }
// Throws Error "train.precision: 'x' is not one of fp32|bf16".
inline Precision precision_from_name(const std::string& name) {
  return parse_enum("train.precision", name, kPrecisions);
}

}  // namespace moet
