#include "data/embedded.h"

#include "core/error.h"
#include "data/text_input.h"

// MOET_CORPUS_DIR is set by CMakeLists.txt for this file only.
#ifndef MOET_CORPUS_DIR
#error "MOET_CORPUS_DIR must name the corpus/ directory"
#endif

#define MOET_EMBED(symbol, file)                        \
  asm(".pushsection .rodata\n"                          \
      ".balign 16\n"                                    \
      ".global " #symbol "_begin\n" #symbol "_begin:\n" \
      ".incbin \"" MOET_CORPUS_DIR "/" file "\"\n"      \
      ".global " #symbol "_end\n" #symbol "_end:\n"     \
      ".byte 0\n"                                       \
      ".popsection\n");                                 \
  extern "C" const char symbol##_begin[];               \
  extern "C" const char symbol##_end[];

MOET_EMBED(moet_corpus_sotu, "sotu.txt.zst")
MOET_EMBED(moet_corpus_moby, "moby.txt.zst")
MOET_EMBED(moet_tokenizer_encoder, "tokenizer/encoder.json")
MOET_EMBED(moet_tokenizer_vocab, "tokenizer/vocab.bpe")

namespace moet {

std::string_view embedded_file(std::string_view name) {
  const auto view = [](const char* begin, const char* end) {
    return std::string_view(begin, size_t(end - begin));
  };
  if (name == "sotu.txt.zst") return view(moet_corpus_sotu_begin, moet_corpus_sotu_end);
  if (name == "moby.txt.zst") return view(moet_corpus_moby_begin, moet_corpus_moby_end);
  if (name == "tokenizer/encoder.json")
    return view(moet_tokenizer_encoder_begin, moet_tokenizer_encoder_end);
  if (name == "tokenizer/vocab.bpe")
    return view(moet_tokenizer_vocab_begin, moet_tokenizer_vocab_end);
  fail("no bundled file '{}'", name);
}

std::string bundled_text(BundledText which) {
  const char* name = which == BundledText::Sotu ? "sotu.txt.zst" : "moby.txt.zst";
  return zstd_decompress(embedded_file(name), std::string("bundled corpus/") + name);
}

const Tokenizer& bundled_tokenizer() {
  static const Tokenizer tokenizer = Tokenizer::from_gpt2(
      embedded_file("tokenizer/encoder.json"), embedded_file("tokenizer/vocab.bpe"),
      "bundled corpus/tokenizer/encoder.json", "bundled corpus/tokenizer/vocab.bpe");
  return tokenizer;
}

}  // namespace moet
