#include "data/documents.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "data/bpe_encoder.h"

namespace moet {

std::vector<std::string_view> split_documents(std::string_view text) {
  std::vector<std::string_view> documents;
  size_t doc_start = std::string_view::npos, doc_end = 0;
  for (size_t at = 0; at < text.size();) {
    size_t line_end = text.find('\n', at);
    if (line_end == std::string_view::npos) line_end = text.size();
    const std::string_view line = text.substr(at, line_end - at);
    const bool blank = line.find_first_not_of(" \t\r\f\v") == std::string_view::npos;
    if (!blank) {
      if (doc_start == std::string_view::npos) doc_start = at;
      doc_end = line_end;
    } else if (doc_start != std::string_view::npos) {
      documents.push_back(text.substr(doc_start, doc_end - doc_start));
      doc_start = std::string_view::npos;
    }
    at = line_end + 1;
  }
  if (doc_start != std::string_view::npos)
    documents.push_back(text.substr(doc_start, doc_end - doc_start));
  return documents;
}

EncodedDocuments encode_documents(const Tokenizer& tokenizer,
                                  const std::vector<std::string_view>& documents) {
  const int64_t count = int64_t(documents.size());
  std::vector<std::vector<int32_t>> per_document(documents.size());
  std::vector<int32_t> separator;
  if (tokenizer.eot() >= 0)
    separator.push_back(tokenizer.eot());
  else
    separator = encode_text(tokenizer, "\n\n");
#pragma omp parallel
  {
    BpeEncoder encoder(tokenizer);
    // Dynamic: speeches differ in length by 20x.
#pragma omp for schedule(dynamic, 1)
    for (int64_t d = 0; d < count; ++d) {
      if (tokenizer.eot() >= 0 || d > 0) per_document[d] = separator;
      encoder.encode(documents[d], per_document[d]);
    }
  }
  EncodedDocuments out;
  size_t total = 0;
  for (const auto& ids : per_document) total += ids.size();
  out.tokens.reserve(total);
  for (const auto& ids : per_document) {
    out.starts.push_back(int64_t(out.tokens.size()));
    out.tokens.insert(out.tokens.end(), ids.begin(), ids.end());
  }
  return out;
}

int64_t validation_start(const EncodedDocuments& encoded, double val_fraction) {
  MOET_CHECK(val_fraction > 0 && val_fraction < 1);
  const int64_t total = int64_t(encoded.tokens.size());
  MOET_CHECK(total >= 2);
  const double target = (1.0 - val_fraction) * double(total);
  if (encoded.starts.size() < 2) return std::clamp<int64_t>(std::llround(target), 1, total - 1);
  int64_t best = encoded.starts[1];
  for (size_t d = 1; d < encoded.starts.size(); ++d)
    if (std::abs(double(encoded.starts[d]) - target) < std::abs(double(best) - target))
      best = encoded.starts[d];
  return best;
}

}  // namespace moet
