#include "data/shard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/files.h"

namespace moet {

void write_shard(const std::string& path, std::span<const int32_t> tokens, int64_t vocab_size) {
  MOET_CHECK(vocab_size > 0 && vocab_size <= (int64_t(1) << 31));
  MOET_CHECK(int64_t(tokens.size()) < (int64_t(1) << 31));  // the header counts in int32
  const int bytes_per_token = vocab_size <= 65536 ? 2 : 4;
  std::string bytes(size_t(kShardHeaderBytes) + tokens.size() * bytes_per_token, '\0');
  const int32_t header[3] = {kShardMagic, bytes_per_token == 2 ? 1 : 2, int32_t(tokens.size())};
  std::memcpy(bytes.data(), header, sizeof header);
  char* out = bytes.data() + kShardHeaderBytes;
  for (size_t i = 0; i < tokens.size(); ++i) {
    MOET_CHECK(tokens[i] >= 0 && tokens[i] < vocab_size);
    if (bytes_per_token == 2) {
      const uint16_t token = uint16_t(tokens[i]);
      std::memcpy(out + 2 * i, &token, 2);
    } else {
      const uint32_t token = uint32_t(tokens[i]);
      std::memcpy(out + 4 * i, &token, 4);
    }
  }
  write_file_atomic(path, bytes);
}

std::shared_ptr<const MappedShard> MappedShard::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open token shard ({})", path, std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    fail("{}: not a regular file", path);
  }
  const int64_t file_bytes = info.st_size;
  if (file_bytes < kShardHeaderBytes) {
    ::close(fd);
    fail("{}: truncated token shard: {} bytes, shorter than the {}-byte llm.c header", path,
         file_bytes, kShardHeaderBytes);
  }
  void* map = ::mmap(nullptr, size_t(file_bytes), PROT_READ, MAP_SHARED, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (map == MAP_FAILED) fail("{}: cannot map token shard ({})", path, std::strerror(map_errno));
  std::shared_ptr<MappedShard> shard(new MappedShard());
  shard->path_ = path;
  shard->map_ = map;
  shard->map_bytes_ = size_t(file_bytes);

  int32_t header[3];
  std::memcpy(header, map, sizeof header);
  if (header[0] != kShardMagic)
    fail("{}: not an llm.c token shard (magic {}, expected {}; nanoGPT's headerless .bin files "
         "need the llm.c header)",
         path, header[0], kShardMagic);
  if (header[1] != 1 && header[1] != 2)
    fail("{}: unsupported token shard version {} (1 = uint16 tokens, 2 = uint32)", path, header[1]);
  shard->bytes_per_token_ = header[1] == 1 ? 2 : 4;
  shard->token_count_ = header[2];
  if (header[2] < 0) fail("{}: corrupt token shard: negative token count {}", path, header[2]);
  const int64_t expected = kShardHeaderBytes + int64_t(header[2]) * shard->bytes_per_token_;
  if (file_bytes < expected)
    fail("{}: truncated token shard: header says {} tokens ({} bytes) but the file has {} bytes",
         path, header[2], expected, file_bytes);
  if (file_bytes > expected)
    fail("{}: corrupt token shard: header says {} tokens ({} bytes) but the file has {} bytes",
         path, header[2], expected, file_bytes);
  return shard;
}

MappedShard::~MappedShard() {
  if (map_) ::munmap(map_, map_bytes_);
}

}  // namespace moet
