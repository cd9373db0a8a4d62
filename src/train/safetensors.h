// safetensors files: an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte range (plus a "__metadata__" map of strings), then the raw bytes.
//
// moet writes F32 tensors and puts the run's config and resolved parameterization in the
// metadata, so a checkpoint is readable by any safetensors tool and still carries what it
// needs to be resumed exactly. Reading validates everything a corrupt or truncated file can
// get wrong and fails with one line naming the file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace moet {

struct SafetensorsTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

struct Safetensors {
  std::map<std::string, std::string> metadata;
  std::vector<SafetensorsTensor> tensors;  // in file order
  const SafetensorsTensor* find(const std::string& name) const;
};

// Serialises to bytes (tensors in the given order, 8-byte aligned data).
std::string encode_safetensors(const Safetensors& file);
// Parses bytes; `source` names the file in errors.
Safetensors decode_safetensors(const std::string& bytes, const std::string& source);

void write_safetensors(const std::string& path, const Safetensors& file);  // atomic
Safetensors read_safetensors(const std::string& path);

}  // namespace moet
