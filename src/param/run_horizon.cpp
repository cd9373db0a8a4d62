#include "param/run_horizon.h"

#include "core/checked_size.h"
#include "core/error.h"

namespace moet::param {

namespace {

int64_t positive(const Config& config, const char* key) {
  const int64_t v = config.get_int(key);
  if (v < 1) fail("{}: must be positive (got {})", key, v);
  return v;
}

}  // namespace

RunHorizon run_horizon_of(const Config& config) {
  const CheckedSize batch = CheckedSize(positive(config, "train.batch")) *
                            positive(config, "train.accum") * positive(config, "model.seq");
  const CheckedSize tokens = batch * positive(config, "train.steps");
  if (tokens.overflow())
    fail("train.steps: {} steps of {} x {} x {} tokens overflow int64",
         config.get_int("train.steps"), config.get_int("train.batch"),
         config.get_int("train.accum"), config.get_int("model.seq"));
  return {tokens.value(), batch.value()};
}

}  // namespace moet::param
