// A GitHub webhook delivery: "<X-GitHub-Event>\n----\n<body>".
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "git/webhook.hpp"

using namespace replideploy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = fuzz::Parts(data, size, 2);
  (void)git::ParseGithubEvent(parts[0], parts[1]);
  return 0;
}
