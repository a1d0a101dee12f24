// _redirects: parse, compile, and match the request path of the second part against the rules.
// Input: "<rules>\n----\n<raw request path>\n----\n<query>".
#include <cstddef>
#include <cstdint>
#include <string>

#include "edge/paths.hpp"
#include "edge/rules.hpp"
#include "fuzz_input.hpp"

using namespace replideploy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = fuzz::Parts(data, size, 3);
  auto rules = edge::ParseRedirectsFile(parts[0]);
  if (!rules.ok()) return 0;
  auto matcher = edge::RedirectMatcher::Compile(std::move(*rules));
  if (!matcher.ok()) __builtin_trap();  // the parser's output must always compile
  auto path = edge::NormalizeRequestPath(parts[1].empty() ? "/" : parts[1]);
  if (!path.ok()) return 0;
  edge::RedirectRequest request;
  request.path = *path;
  request.query = parts[2];
  request.host = "site.example";
  request.accept_language = "de-AT,en;q=0.5";
  auto match = matcher->Match(request, [](std::string_view p) { return p.size() % 2 == 0; });
  if (match.kind == edge::RedirectMatch::Kind::kRule &&
      match.rule_index >= matcher->rules().size()) {
    __builtin_trap();
  }
  return 0;
}
