// Reading text inputs: plain files, or zstd-compressed ones (*.zst), like the bundled corpus.
#pragma once

#include <string>
#include <string_view>

namespace moet {

// Decompresses one or more zstd frames; source names the data in error messages.
std::string zstd_decompress(std::string_view compressed, const std::string& source);
// The file's text, decompressed when the name ends in .zst.
std::string read_text_input(const std::string& path);

}  // namespace moet
