#include "train/schema.h"

#include "data/dataset.h"
#include "model/config.h"
#include "optim/config.h"
#include "param/resolve.h"
#include "train/train_config.h"

namespace moet {

std::vector<KeySpec> full_config_schema() {
  std::vector<KeySpec> keys;
  const auto append = [&keys](std::vector<KeySpec> more) {
    keys.insert(keys.end(), more.begin(), more.end());
  };
  append(model_config_keys());
  append(optim_config_keys());
  append(param::param_config_keys());
  append(data_config_keys());
  append(train_config_keys());
  return keys;
}

}  // namespace moet
