#include "data/text_input.h"

#include <zstd.h>

#include <memory>

#include "core/error.h"
#include "core/files.h"

namespace moet {

std::string zstd_decompress(std::string_view compressed, const std::string& source) {
  // Streaming, so frames without a recorded content size (e.g. from `zstd -` pipes) work too.
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> context(ZSTD_createDCtx(), ZSTD_freeDCtx);
  MOET_CHECK(context != nullptr);
  if (compressed.empty()) fail("{}: empty, not zstd data", source);
  std::string out;
  const unsigned long long known = ZSTD_getFrameContentSize(compressed.data(), compressed.size());
  if (known != ZSTD_CONTENTSIZE_UNKNOWN && known != ZSTD_CONTENTSIZE_ERROR) out.reserve(known);
  ZSTD_inBuffer in{compressed.data(), compressed.size(), 0};
  std::string chunk(ZSTD_DStreamOutSize(), '\0');
  size_t last_result = 0;
  while (in.pos < in.size) {
    ZSTD_outBuffer buffer{chunk.data(), chunk.size(), 0};
    last_result = ZSTD_decompressStream(context.get(), &buffer, &in);
    if (ZSTD_isError(last_result))
      fail("{}: corrupt zstd data ({})", source, ZSTD_getErrorName(last_result));
    out.append(chunk.data(), buffer.pos);
  }
  // All input is consumed; drain what the decoder still holds. Needing more input means truncated.
  while (last_result != 0) {
    ZSTD_outBuffer buffer{chunk.data(), chunk.size(), 0};
    last_result = ZSTD_decompressStream(context.get(), &buffer, &in);
    if (ZSTD_isError(last_result))
      fail("{}: corrupt zstd data ({})", source, ZSTD_getErrorName(last_result));
    if (buffer.pos == 0) {
      if (last_result != 0) fail("{}: truncated zstd data", source);
      break;
    }
    out.append(chunk.data(), buffer.pos);
  }
  return out;
}

std::string read_text_input(const std::string& path) {
  std::string bytes = read_file(path);
  if (path.size() > 4 && path.ends_with(".zst")) return zstd_decompress(bytes, path);
  return bytes;
}

}  // namespace moet
