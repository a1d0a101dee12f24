// netlify.toml: the rule tables (edge) and the build settings (builder) from one file.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "edge/rules.hpp"

using namespace replideploy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto rules = edge::ParseNetlifyToml(text);
  if (!rules.ok()) return 0;
  if (!edge::RedirectMatcher::Compile(std::move(rules->redirects)).ok()) __builtin_trap();
  if (!edge::HeaderMatcher::Compile(std::move(rules->headers)).ok()) __builtin_trap();
  return 0;
}
