// Path normalisation and host routing: request targets, deploy file paths, Host headers.
// Whatever is accepted must be a canonical absolute path that normalises to itself.
#include <cstddef>
#include <cstdint>
#include <string>

#include "deploys/deploys.hpp"
#include "edge/host_route.hpp"
#include "edge/paths.hpp"
#include "fuzz_input.hpp"

using namespace replideploy;

namespace {

void CheckCanonical(const std::string& path) {
  if (path.empty() || path[0] != '/' || path.find("//") != std::string::npos ||
      path.find('\0') != std::string::npos) {
    __builtin_trap();
  }
  for (std::size_t at = 0; (at = path.find("/..", at)) != std::string::npos; ++at) {
    const std::size_t end = at + 3;
    if (end == path.size() || path[end] == '/') __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = fuzz::Parts(data, size, 2);
  if (auto request_path = edge::NormalizeRequestPath(parts[0]); request_path.ok()) {
    CheckCanonical(*request_path);
  }
  if (auto deploy_path = deploys::NormalizeDeployPath(parts[0]); deploy_path.ok()) {
    CheckCanonical(*deploy_path);
    auto again = deploys::NormalizeDeployPath(*deploy_path);
    if (!again.ok() || *again != *deploy_path) __builtin_trap();
  }
  (void)edge::ParseHostRoute(parts[1], "replideploy.localhost");
  return 0;
}
