// The HTTP text we parse ourselves: CGI responses (git http-backend), query strings, percent
// decoding, Accept-Language, listen addresses.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/text.hpp"
#include "edge/rules.hpp"
#include "http/message.hpp"

using namespace replideploy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)http::ParseCgiOutput(text);
  (void)http::ParseQuery(text);
  (void)http::PercentDecode(text);
  (void)edge::PrimaryLanguage(text);
  const auto strict = core::PercentDecodeStrict(text);
  const std::string lenient = core::PercentDecodeLenient(text);
  // Where strict decoding succeeds, lenient decoding agrees with it.
  if (strict && *strict != lenient) __builtin_trap();
  return 0;
}
