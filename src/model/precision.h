// Precision: the number format of the model's large matrix multiplies (key train.precision).
//
// fp32 runs everything in float. bf16 is mixed precision: the GEMMs of the attention projections,
// the experts, dense and shared FFNs and the readout take bf16 operands (weights rounded from the
// fp32 master copy once per forward pass, activations and gradients as they are consumed) and
// accumulate in fp32; the router, the attention scores and softmax, norms, the loss and the
// optimizer stay in fp32. Master weights, gradients and optimizer state are fp32 throughout.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"

namespace moet {

enum class Precision { fp32, bf16 };

inline std::vector<std::string> precision_names() { return {"fp32", "bf16"}; }
inline const char* precision_name(Precision p) { return p == Precision::bf16 ? "bf16" : "fp32"; }
// Throws Error on a name that is not one of precision_names().
inline Precision precision_from_name(const std::string& name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "bf16") return Precision::bf16;
  fail("train.precision: '{}' is not one of fp32|bf16", name);
}

}  // namespace moet
