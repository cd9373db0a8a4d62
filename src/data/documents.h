// Documents: how plain text becomes one token sequence, and where its validation tail starts.
//
// A text file holds documents separated by blank lines (empty or whitespace-only); inside a
// document, single newlines are kept (the bundled corpus puts one speech or chapter per block).
// Each document is encoded on its own and preceded by <|endoftext|>, llm.c's convention, so the
// model sees where documents begin; a vocabulary without that token joins them with "\n\n".
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "data/tokenizer.h"

namespace moet {

std::vector<std::string_view> split_documents(std::string_view text);

struct EncodedDocuments {
  std::vector<int32_t> tokens;
  std::vector<int64_t> starts;  // index in tokens of each document's first token (its separator)
};

// Encodes in parallel (OpenMP, one BpeEncoder per thread); the result does not depend on the
// thread count.
EncodedDocuments encode_documents(const Tokenizer& tokenizer,
                                  const std::vector<std::string_view>& documents);

// Where the validation tail starts: at the document start nearest to a val_fraction share of the
// tokens, keeping at least one document on each side; a single document is cut mid-way.
// val_fraction is in (0, 1).
int64_t validation_start(const EncodedDocuments& encoded, double val_fraction);

}  // namespace moet
