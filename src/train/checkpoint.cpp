#include "train/checkpoint.h"

#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "core/json_text.h"
#include "train/checkpoint_fields.h"
#include "train/safetensors.h"

namespace moet {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "moet-checkpoint-1";

std::string checkpoint_name(int64_t step) { return fmt::format("ckpt-{:09d}", step); }

Safetensors pack(const std::vector<TensorInfo>& tensors, const std::vector<float>& flat,
                 const std::string& suffix) {
  Safetensors file;
  for (const TensorInfo& t : tensors)
    file.tensors.push_back({t.name + suffix, t.shape,
                            std::vector<float>(flat.begin() + t.offset,
                                               flat.begin() + t.offset + t.numel)});
  return file;
}

std::vector<float> unpack(const std::vector<TensorInfo>& tensors, const Safetensors& file,
                          const std::string& suffix, const std::string& path) {
  std::vector<float> flat(size_t(total_numel(tensors)));
  for (const TensorInfo& t : tensors) {
    const SafetensorsTensor* s = file.find(t.name + suffix);
    if (!s) fail("{}: missing tensor {} (checkpoint of a different model?)", path, t.name + suffix);
    if (s->shape != t.shape)
      fail("{}: tensor {} has the wrong shape (checkpoint of a different model?)", path, t.name);
    std::copy(s->data.begin(), s->data.end(), flat.begin() + t.offset);
  }
  if (file.tensors.size() != tensors.size())
    fail("{}: {} tensors where the model has {}", path, file.tensors.size(), tensors.size());
  return flat;
}

std::string latest_dir(const std::string& run_dir) {
  const std::string pointer = run_dir + "/latest";
  if (!file_exists(pointer)) fail("{}: no checkpoint (missing {})", run_dir, pointer);
  std::string name = read_file(pointer);
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
  if (name.empty() || name.find('/') != std::string::npos)
    fail("{}: corrupt checkpoint pointer", pointer);
  return run_dir + "/" + name;
}

}  // namespace

void save_checkpoint(const std::string& run_dir, const std::vector<TensorInfo>& tensors,
                     const Checkpoint& c) {
  const std::string name = checkpoint_name(c.step);
  const std::string dir = run_dir + "/" + name;
  std::error_code ec;
  fs::remove_all(dir, ec);  // a leftover of a run killed while writing this very step
  make_dirs(dir);

  Safetensors model = pack(tensors, c.params, "");
  model.metadata = {{"format", kFormat},
                    {"step", std::to_string(c.step)},
                    {"config", c.config_toml},
                    {"parameterization", c.parameterization.dump()}};
  write_safetensors(dir + "/model.safetensors", model);

  Safetensors optimizer = pack(tensors, c.first_moment, ".m");
  if (!c.second_moment.empty()) {
    Safetensors v = pack(tensors, c.second_moment, ".v");
    for (auto& t : v.tensors) optimizer.tensors.push_back(std::move(t));
  }
  optimizer.metadata = {{"format", kFormat}, {"optimizer_steps", std::to_string(c.optimizer_steps)}};
  write_safetensors(dir + "/optimizer.safetensors", optimizer);
  write_file_atomic(dir + "/state.json", c.state.dump(1));
  sync_directory(dir);  // the files are durable before anything points at them

  write_file_atomic(run_dir + "/latest", name + "\n");
  sync_directory(run_dir);
  // Only now is the previous checkpoint unneeded; remove every other ckpt-* (stale ones too).
  for (const auto& entry : fs::directory_iterator(run_dir)) {
    const std::string entry_name = entry.path().filename().string();
    if (entry.is_directory() && entry_name.rfind("ckpt-", 0) == 0 && entry_name != name)
      fs::remove_all(entry.path(), ec);
  }
}

bool has_checkpoint(const std::string& run_dir) { return file_exists(run_dir + "/latest"); }

Checkpoint load_checkpoint_metadata(const std::string& run_dir) {
  const std::string path = latest_dir(run_dir) + "/model.safetensors";
  const Safetensors model = read_safetensors(path);
  Checkpoint c;
  const auto meta = [&](const char* key) -> const std::string& {
    const auto it = model.metadata.find(key);
    if (it == model.metadata.end()) fail("{}: metadata has no '{}'", path, key);
    return it->second;
  };
  if (meta("format") != kFormat)
    fail("{}: format {}, expected '{}'", path, escaped_excerpt(meta("format"), 40), kFormat);
  c.step = metadata_integer(model.metadata, "step", path);
  c.parameterization = parse_json(meta("parameterization"), path + ": field parameterization");
  c.config_toml = meta("config");
  return c;
}

Checkpoint load_checkpoint(const std::string& run_dir, const std::vector<TensorInfo>& tensors) {
  Checkpoint c = load_checkpoint_metadata(run_dir);
  const std::string dir = latest_dir(run_dir);
  const std::string model_path = dir + "/model.safetensors";
  c.params = unpack(tensors, read_safetensors(model_path), "", model_path);

  const std::string opt_path = dir + "/optimizer.safetensors";
  const Safetensors optimizer = read_safetensors(opt_path);
  Safetensors m, v;
  for (const auto& t : optimizer.tensors) {
    const bool is_v = t.name.size() > 2 && t.name.compare(t.name.size() - 2, 2, ".v") == 0;
    (is_v ? v : m).tensors.push_back(t);
  }
  c.first_moment = unpack(tensors, m, ".m", opt_path);
  if (!v.tensors.empty()) c.second_moment = unpack(tensors, v, ".v", opt_path);
  c.optimizer_steps = metadata_integer(optimizer.metadata, "optimizer_steps", opt_path);

  const std::string state_path = dir + "/state.json";
  c.state = parse_json(read_file(state_path), state_path);
  validate_checkpoint_state(c.state, state_path);
  return c;
}

}  // namespace moet
