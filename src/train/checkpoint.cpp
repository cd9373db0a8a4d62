#include "train/checkpoint.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/fault.h"
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
    file.tensors.push_back(
        {t.name + suffix, t.shape,
         std::vector<float>(flat.begin() + t.offset, flat.begin() + t.offset + t.numel)});
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

// The directory name `latest` holds; "" when there is no `latest`.
std::string latest_name(const std::string& run_dir) {
  const std::string pointer = run_dir + "/latest";
  if (!file_exists(pointer)) return "";
  std::string name = read_file(pointer);
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
  if (name.empty() || name.find('/') != std::string::npos)
    fail("{}: corrupt checkpoint pointer", pointer);
  return name;
}

std::string latest_dir(const std::string& run_dir) {
  const std::string name = latest_name(run_dir);
  if (name.empty()) fail("{}: no checkpoint (missing {}/latest)", run_dir, run_dir);
  return run_dir + "/" + name;
}

}  // namespace

void save_checkpoint(const std::string& run_dir, const std::vector<TensorInfo>& tensors,
                     const Checkpoint& c) {
  const std::string name = checkpoint_name(c.step);
  const std::string dir = run_dir + "/" + name;
  // Written whole under a temporary name, then renamed: a ckpt-* directory is always complete.
  const std::string tmp = temporary_path(dir);
  std::error_code ec;
  fs::remove_all(tmp, ec);
  make_dirs(tmp);

  Safetensors model = pack(tensors, c.params, "");
  model.metadata = {{"format", kFormat},
                    {"step", std::to_string(c.step)},
                    {"config", c.config_toml},
                    {"parameterization", c.parameterization.dump()}};
  write_safetensors(tmp + "/model.safetensors", model);
  fault_point("ckpt.model");

  Safetensors optimizer = pack(tensors, c.first_moment, ".m");
  if (!c.second_moment.empty()) {
    Safetensors v = pack(tensors, c.second_moment, ".v");
    for (auto& t : v.tensors) optimizer.tensors.push_back(std::move(t));
  }
  optimizer.metadata = {{"format", kFormat},
                        {"optimizer_steps", std::to_string(c.optimizer_steps)}};
  write_safetensors(tmp + "/optimizer.safetensors", optimizer);
  fault_point("ckpt.optimizer");
  write_file_atomic(tmp + "/state.json", c.state.dump(1));
  sync_directory(tmp);  // the files are durable before anything points at them
  fault_point("ckpt.state");

  // A ckpt-<step> already here is one a killed run published but never pointed `latest` at.
  MOET_CHECK(latest_name(run_dir) != name);
  fs::remove_all(dir, ec);
  if (::rename(tmp.c_str(), dir.c_str()) != 0)
    fail("{}: cannot rename into place ({})", dir, std::strerror(errno));
  sync_directory(run_dir);
  fault_point("ckpt.published");

  write_file_atomic(run_dir + "/latest", name + "\n");
  sync_directory(run_dir);
  fault_point("ckpt.latest");
  remove_stale_checkpoints(run_dir);  // only now is the previous checkpoint unneeded
}

void remove_stale_checkpoints(const std::string& run_dir) {
  const std::string keep = latest_name(run_dir);
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(run_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    // Temporaries (ckpt-*.tmp.<pid>) are remove_stale_temporaries' to judge.
    if (name.rfind("ckpt-", 0) == 0 && name != keep && name.find(".tmp.") == std::string::npos &&
        it->is_directory())
      stale.push_back(*it);
  }
  if (ec) fail("{}: cannot list the run directory ({})", run_dir, ec.message());
  for (const fs::path& path : stale) {
    fs::remove_all(path, ec);
    if (ec) fail("{}: cannot remove an old checkpoint ({})", path.string(), ec.message());
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
