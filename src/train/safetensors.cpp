#include "train/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>

#include "core/checked_size.h"
#include "core/error.h"
#include "core/files.h"
#include "core/json_text.h"

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
    header[t.name] = {
        {"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
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

namespace {

std::vector<int64_t> integer_list(const nlohmann::json& value, const std::string& where) {
  std::vector<int64_t> out;
  if (value.is_array())
    for (const auto& item : value)
      if (const auto n = json_int64(item); n && *n >= 0) out.push_back(*n);
  if (!value.is_array() || out.size() != value.size())
    fail("{}: expected an array of non-negative integers, got {}", where, json_excerpt(value, 40));
  return out;
}

struct Entry {
  int64_t begin = 0, end = 0;
  SafetensorsTensor tensor;
};

// One tensor's header entry, checked against the data section of `data_size` bytes.
Entry read_entry(const std::string& name, const nlohmann::json& entry, int64_t data_size,
                 const std::string& source) {
  const std::string where = fmt::format("{}: tensor {}", source, escaped_excerpt(name, 80));
  if (!entry.is_object()) fail("{}: expected an object with dtype, shape and data_offsets", where);
  for (const auto& [key, value] : entry.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      fail("{}: unknown field {}", where, escaped_excerpt(key, 40));
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(key)) fail("{}: field {} is missing", where, key);
  const nlohmann::json& dtype = entry.at("dtype");
  if (!dtype.is_string() || dtype.get<std::string>() != "F32")
    fail("{}: field dtype: {} (moet reads F32)", where, json_excerpt(dtype, 20));
  Entry e;
  e.tensor.name = name;
  e.tensor.shape = integer_list(entry.at("shape"), where + ": field shape");
  CheckedSize bytes = int64_t(sizeof(float));
  for (const int64_t d : e.tensor.shape) bytes *= d;
  if (bytes.overflow())
    fail("{}: field shape: {} is too large (its byte size overflows int64)", where,
         nlohmann::json(e.tensor.shape).dump());
  const std::vector<int64_t> offsets =
      integer_list(entry.at("data_offsets"), where + ": field data_offsets");
  if (offsets.size() != 2 || offsets[0] > offsets[1])
    fail("{}: field data_offsets: expected [begin, end] with begin <= end, got {}", where,
         nlohmann::json(offsets).dump());
  if (offsets[1] > data_size)
    fail("{}: field data_offsets: [{}, {}] runs past the {} bytes of data (truncated file?)", where,
         offsets[0], offsets[1], data_size);
  if (offsets[1] - offsets[0] != bytes.value())
    fail("{}: field data_offsets: [{}, {}] holds {} bytes, shape {} needs {}", where, offsets[0],
         offsets[1], offsets[1] - offsets[0], nlohmann::json(e.tensor.shape).dump(), bytes.value());
  e.begin = offsets[0];
  e.end = offsets[1];
  return e;
}

}  // namespace

Safetensors decode_safetensors(const std::string& bytes, const std::string& source) {
  if (bytes.size() < 8) fail("{}: not a safetensors file (only {} bytes)", source, bytes.size());
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(bytes[i])) << (8 * i);
  if (n > bytes.size() - 8)
    fail("{}: truncated safetensors file (header of {} bytes, file of {})", source, n,
         bytes.size());
  const nlohmann::json header =
      parse_json(std::string_view(bytes).substr(8, n), source + ": safetensors header");
  if (!header.is_object()) fail("{}: safetensors header: expected a JSON object", source);
  const int64_t data_size = int64_t(bytes.size() - 8 - n);
  const char* data = bytes.data() + 8 + n;
  Safetensors file;
  std::vector<Entry> entries;
  for (const auto& [name, entry] : header.items()) {
    if (name != "__metadata__") {
      entries.push_back(read_entry(name, entry, data_size, source));
      continue;
    }
    if (!entry.is_object()) fail("{}: __metadata__: expected an object of strings", source);
    for (const auto& [key, value] : entry.items()) {
      if (!value.is_string())
        fail("{}: __metadata__: field {}: expected a string, got {}", source,
             escaped_excerpt(key, 40), value.type_name());
      file.metadata[key] = value.get<std::string>();
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < entries.size(); ++i)
    if (entries[i].begin < entries[i - 1].end)
      fail("{}: tensor {}: field data_offsets: bytes [{}, {}) overlap tensor {}", source,
           escaped_excerpt(entries[i].tensor.name, 80), entries[i].begin, entries[i].end,
           escaped_excerpt(entries[i - 1].tensor.name, 80));
  for (Entry& e : entries) {
    e.tensor.data.resize(size_t((e.end - e.begin) / int64_t(sizeof(float))));
    std::memcpy(e.tensor.data.data(), data + e.begin, size_t(e.end - e.begin));
    file.tensors.push_back(std::move(e.tensor));
  }
  return file;
}

void write_safetensors(const std::string& path, const Safetensors& file) {
  write_file_atomic(path, encode_safetensors(file));
}

Safetensors read_safetensors(const std::string& path) {
  return decode_safetensors(read_file(path), path);
}

}  // namespace moet
