// OptimizerKind: which update rule a run uses (optim.name). It lives in param/ because the
// parameterization already needs it (SGD reads a preset's sgd_lr column and has no Adam
// epsilon; Muon reads muon_lr for the roles that have it and AdamW's adam_lr for the rest), and
// param/ sits below optim/, which applies it.
#pragma once

#include <string>

#include "core/enum_names.h"

namespace moet {

enum class OptimizerKind { adam, adamw, sgd, muon };

inline constexpr EnumName<OptimizerKind> kOptimizerKinds[] = {{OptimizerKind::adam, "adam"},
                                                              {OptimizerKind::adamw, "adamw"},
                                                              {OptimizerKind::sgd, "sgd"},
                                                              {OptimizerKind::muon, "muon"}};

inline const char* name_of(OptimizerKind kind) { return enum_name(kind, kOptimizerKinds); }
// Throws Error "key: 'x' is not one of adam|adamw|sgd|muon".
inline OptimizerKind optimizer_kind_from(const std::string& key, const std::string& name) {
  return parse_enum(key, name, kOptimizerKinds);
}

}  // namespace moet
