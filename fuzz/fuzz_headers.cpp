// _headers: parse, compile, and ask for the headers of the second part's path.
#include <cstddef>
#include <cstdint>

#include "edge/paths.hpp"
#include "edge/rules.hpp"
#include "fuzz_input.hpp"

using namespace replideploy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = fuzz::Parts(data, size, 2);
  auto rules = edge::ParseHeadersFile(parts[0]);
  if (!rules.ok()) return 0;
  auto matcher = edge::HeaderMatcher::Compile(std::move(*rules));
  if (!matcher.ok()) __builtin_trap();  // the parser's output must always compile
  auto path = edge::NormalizeRequestPath(parts[1].empty() ? "/" : parts[1]);
  if (path.ok()) (void)matcher->HeadersFor(*path);
  return 0;
}
