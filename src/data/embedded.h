// The bundled corpus and default tokenizer, compiled into the binary (see corpus/README.md).
//
// They are assembled in with .incbin, so `moet` needs neither network nor the source tree: it
// runs from any directory. The texts are stored zstd-compressed and decompressed on demand.
#pragma once

#include <string>
#include <string_view>

#include "data/tokenizer.h"

namespace moet {

enum class BundledText { Sotu, Moby };

// Decompressed text: one document per blank-line-separated block.
std::string bundled_text(BundledText which);
// corpus/tokenizer: byte-level BPE, vocabulary 2048, trained on the SOTU text.
const Tokenizer& bundled_tokenizer();
// corpus/<name> as compiled in: "sotu.txt.zst", "moby.txt.zst", "tokenizer/encoder.json",
// "tokenizer/vocab.bpe". Throws Error for any other name.
std::string_view embedded_file(std::string_view name);

}  // namespace moet
