#include "sweep/run_shape.h"

#include "train/schema.h"
#include "train/train_config.h"

namespace moet::sweep {

RunShape run_shape_of(const Config& config) {
  const TrainConfig train = train_config_from(config);
  return {train.steps * train.tokens_per_step(config.get_int("model.seq")), train.batch,
          train.steps};
}

RunShape run_shape_of(const std::string& config_toml, const std::string& what) {
  static const std::vector<KeySpec> schema = full_config_schema();
  return run_shape_of(Config::parse(schema, config_toml, what));
}

}  // namespace moet::sweep
