#include "train/safetensors.h"

#include <nlohmann/json.hpp>

#include <cstring>

#include "core/error.h"
#include "core/files.h"

namespace moet {

const SafetensorsTensor* Safetensors::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::string encode_safetensors(const Safetensors& file) {
  nlohmann::ordered_json header;
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  uint64_t offset = 0;
  for (const auto& t : file.tensors) {
    const uint64_t bytes = t.data.size() * sizeof(float);
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  // Pad the header with spaces so the data starts 8-byte aligned (allowed by the format).
  while ((8 + text.size()) % 8 != 0) text += ' ';
  std::string out;
  out.reserve(8 + text.size() + offset);
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out += char((n >> (8 * i)) & 0xff);
  out += text;
  for (const auto& t : file.tensors)
    out.append(reinterpret_cast<const char*>(t.data.data()), t.data.size() * sizeof(float));
  return out;
}

Safetensors decode_safetensors(const std::string& bytes, const std::string& source) {
  if (bytes.size() < 8) fail("{}: not a safetensors file (only {} bytes)", source, bytes.size());
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(bytes[i])) << (8 * i);
  if (n > bytes.size() - 8)
    fail("{}: truncated safetensors file (header of {} bytes, file of {})", source, n,
         bytes.size());
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.substr(8, n));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: corrupt safetensors header ({})", source, e.what());
  }
  if (!header.is_object()) fail("{}: corrupt safetensors header (not an object)", source);
  const uint64_t data_size = bytes.size() - 8 - n;
  const char* data = bytes.data() + 8 + n;
  Safetensors file;
  std::vector<std::pair<uint64_t, SafetensorsTensor>> by_offset;
  for (const auto& [name, entry] : header.items()) {
    try {
      if (name == "__metadata__") {
        for (const auto& [k, v] : entry.items()) file.metadata[k] = v.get<std::string>();
        continue;
      }
      if (entry.at("dtype").get<std::string>() != "F32")
        fail("{}: tensor {}: dtype {} (moet reads F32)", source, name,
             entry.at("dtype").get<std::string>());
      SafetensorsTensor t;
      t.name = name;
      t.shape = entry.at("shape").get<std::vector<int64_t>>();
      const auto offsets = entry.at("data_offsets").get<std::vector<uint64_t>>();
      uint64_t count = 1;
      for (const int64_t d : t.shape) {
        if (d < 0) fail("{}: tensor {}: negative dimension", source, name);
        count *= uint64_t(d);
      }
      if (offsets.size() != 2 || offsets[1] < offsets[0] || offsets[1] > data_size ||
          offsets[1] - offsets[0] != count * sizeof(float))
        fail("{}: tensor {}: byte range does not fit its shape or the file (truncated?)", source,
             name);
      t.data.resize(count);
      std::memcpy(t.data.data(), data + offsets[0], count * sizeof(float));
      by_offset.emplace_back(offsets[0], std::move(t));
    } catch (const nlohmann::json::exception& e) {
      fail("{}: tensor {}: malformed header entry ({})", source, name, e.what());
    }
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [offset, t] : by_offset) file.tensors.push_back(std::move(t));
  return file;
}

void write_safetensors(const std::string& path, const Safetensors& file) {
  write_file_atomic(path, encode_safetensors(file));
}

Safetensors read_safetensors(const std::string& path) {
  return decode_safetensors(read_file(path), path);
}

}  // namespace moet
