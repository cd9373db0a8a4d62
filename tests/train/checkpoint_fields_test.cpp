// Checkpoint fields read back on resume (train/checkpoint_fields.h) and safetensors headers
// (train/safetensors.h): every crafted value is one Error naming the file and the field.
#include <gtest/gtest.h>

#include <functional>

#include "../support/error_of.h"
#include "core/error.h"
#include "data/dataset.h"
#include "train/checkpoint_fields.h"
#include "train/safetensors.h"

namespace moet {
namespace {

using testing::error_of;

nlohmann::json good_state() {
  BatchLoader::State loader;
  loader.B = 4;
  loader.T = 16;
  loader.stream_tokens = 1000;
  loader.rng = Rng(7, 1).state();
  return {{"train_loader", loader}, {"first_loss", 4.2}, {"smoothed_loss", 4.1}};
}

std::string state_error(const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json state = good_state();
  edit(state);
  return error_of([&] { validate_checkpoint_state(state, "ck/state.json"); });
}

// Before, a resumed run read these with nlohmann's at()/get(), whose exceptions aborted moet.
TEST(CheckpointState, EveryFieldIsCheckedAndNamed) {
  EXPECT_EQ(state_error([](nlohmann::json&) {}), "");
  EXPECT_EQ(state_error([](nlohmann::json& s) { s = nlohmann::json::object(); }),
            "ck/state.json: field first_loss: missing");
  EXPECT_EQ(state_error([](nlohmann::json& s) { s = nlohmann::json::array(); }),
            "ck/state.json: expected a JSON object");
  EXPECT_EQ(state_error([](nlohmann::json& s) { s["smoothed_loss"] = "4.1"; }),
            "ck/state.json: field smoothed_loss: expected a number, got \"4.1\"");
  EXPECT_EQ(state_error([](nlohmann::json& s) { s["train_loader"] = 3; }),
            "ck/state.json: field train_loader.validation: missing");
  EXPECT_EQ(state_error([](nlohmann::json& s) { s["train_loader"]["B"] = 0; }),
            "ck/state.json: field train_loader.B: expected an integer >= 1, got \"0\"");
  EXPECT_EQ(state_error([](nlohmann::json& s) { s["train_loader"]["T"] = 16.5; }),
            "ck/state.json: field train_loader.T: expected an integer >= 1, got \"16.5\"");
  EXPECT_EQ(state_error([](nlohmann::json& s) { s["train_loader"]["batches"] = -1; }),
            "ck/state.json: field train_loader.batches: expected an integer >= 0, got \"-1\"");
  EXPECT_EQ(state_error([](nlohmann::json& s) { s["train_loader"]["validation"] = 0; }),
            "ck/state.json: field train_loader.validation: expected true or false, got \"0\"");
  const std::string rng = state_error([](nlohmann::json& s) { s["train_loader"]["rng"].erase(3); });
  EXPECT_EQ(rng.rfind("ck/state.json: field train_loader.rng: expected an array of 4 hex words", 0),
            0u)
      << rng;
  EXPECT_EQ(
      state_error([](nlohmann::json& s) { s["train_loader"]["rng_cached_normal_bits"] = "1g"; }),
      "ck/state.json: field train_loader.rng_cached_normal_bits: expected a 64-bit hex word, got "
      "\"1g\"");
}

TEST(CheckpointMetadata, IntegersAreDecimalAndInRange) {
  const std::map<std::string, std::string> meta = {
      {"step", "42"}, {"bad", "abc"}, {"neg", "-1"}, {"huge", "99999999999999999999"}, {"e", ""}};
  EXPECT_EQ(metadata_integer(meta, "step", "m.st"), 42);
  EXPECT_EQ(error_of([&] { metadata_integer(meta, "bad", "m.st"); }),
            "m.st: field bad: expected an integer >= 0, got \"abc\"");
  for (const char* key : {"neg", "huge", "e"})
    EXPECT_NE(error_of([&] { metadata_integer(meta, key, "m.st"); }).find("expected an integer"),
              std::string::npos)
        << key;
  EXPECT_EQ(error_of([&] { metadata_integer(meta, "optimizer_steps", "o.st"); }),
            "o.st: field optimizer_steps: missing from the metadata");
}

std::string encoded(const nlohmann::json& header, const std::string& data) {
  const std::string text = header.dump();
  std::string out;
  for (int i = 0; i < 8; ++i) out += char((uint64_t(text.size()) >> (8 * i)) & 0xff);
  return out + text + data;
}

std::string decode_error(const nlohmann::json& header, const std::string& data = "") {
  return error_of([&] { decode_safetensors(encoded(header, data), "m.st"); });
}

TEST(SafetensorsHeader, EveryEntryIsValidatedWithOverflowCheckedSizes) {
  const std::string data(32, '\0');
  const auto tensor = [](nlohmann::json shape, nlohmann::json offsets) {
    return nlohmann::json{{"dtype", "F32"}, {"shape", shape}, {"data_offsets", offsets}};
  };
  EXPECT_EQ(decode_error({{"a", tensor({2, 4}, {0, 32})}}, data), "");
  // 2^62 floats are 2^64 bytes, which wrapped to 0 and matched the empty range; the tensor was
  // then sized by its shape (std::length_error, an abort).
  EXPECT_EQ(decode_error({{"a", tensor({int64_t(1) << 62}, {0, 0})}}),
            "m.st: tensor \"a\": field shape: [4611686018427387904] is too large (its byte size "
            "overflows int64)");
  EXPECT_EQ(decode_error({{"a", tensor({2.5, 4}, {0, 32})}}, data),
            "m.st: tensor \"a\": field shape: expected an array of non-negative integers, got "
            "\"[2.5,4]\"");
  EXPECT_EQ(decode_error({{"a", tensor({2, 4}, {0, 16})}}, data),
            "m.st: tensor \"a\": field data_offsets: [0, 16] holds 16 bytes, shape [2,4] needs 32");
  EXPECT_EQ(decode_error({{"a", tensor({2, 4}, {8, 40})}}, data),
            "m.st: tensor \"a\": field data_offsets: [8, 40] runs past the 32 bytes of data "
            "(truncated file?)");
  EXPECT_EQ(decode_error({{"a", tensor({2, 4}, {0, 32})}, {"b", tensor({1}, {28, 32})}}, data),
            "m.st: tensor \"b\": field data_offsets: bytes [28, 32) overlap tensor \"a\"");
  EXPECT_EQ(decode_error({{"a", {{"dtype", "BF16"}, {"shape", {1}}, {"data_offsets", {0, 2}}}}}),
            "m.st: tensor \"a\": field dtype: \"BF16\" (moet reads F32)");
  EXPECT_EQ(decode_error({{"a", {{"dtype", "F32"}, {"shape", {1}}}}}),
            "m.st: tensor \"a\": field data_offsets is missing");
  EXPECT_EQ(decode_error({{"__metadata__", {{"step", 3}}}}),
            "m.st: __metadata__: field \"step\": expected a string, got number");
  EXPECT_EQ(decode_error(nlohmann::json::array()),
            "m.st: safetensors header: expected a JSON object");
}

TEST(SafetensorsHeader, ACorruptHeaderIsQuotedShortAndEscaped) {
  const std::string garbage = "{\"" + std::string(5000, 'x') + "\xff\x1b[2J";
  std::string file;
  for (int i = 0; i < 8; ++i) file += char((uint64_t(garbage.size()) >> (8 * i)) & 0xff);
  const std::string error = error_of([&] { decode_safetensors(file + garbage, "m.st"); });
  EXPECT_EQ(error.rfind("m.st: safetensors header: invalid JSON at byte 5002: \"xxx", 0), 0u)
      << error;
  EXPECT_LT(error.size(), 140u) << error;
  for (const char c : error) EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << int(c);
}

}  // namespace
}  // namespace moet
