#include "core/ids.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include <array>

#include "core/crypto.hpp"

namespace replideploy::core {

std::string NewUuid() {
  std::string b = RandomBytes(16);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  std::string h = HexEncode(b);
  return fmt::format("{}-{}-{}-{}-{}", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4),
                     h.substr(16, 4), h.substr(20, 12));
}

std::string NewHexId() { return HexEncode(RandomBytes(12)); }

std::string NewReadableName() {
  static constexpr std::array<std::string_view, 32> kAdjectives = {
      "brave",  "calm",   "clever", "cosmic", "crisp",  "dapper", "eager",  "fancy",
      "gentle", "glossy", "golden", "happy",  "hidden", "jolly",  "keen",   "lively",
      "lucky",  "mellow", "nimble", "polite", "quiet",  "rapid",  "serene", "shiny",
      "silver", "smooth", "snappy", "sunny",  "swift",  "tidy",   "vivid",  "witty"};
  static constexpr std::array<std::string_view, 32> kNouns = {
      "badger", "beacon",  "canyon",  "comet",  "cougar", "delta",  "falcon", "fjord",
      "gecko",  "glacier", "harbor",  "heron",  "island", "jaguar", "kernel", "lagoon",
      "lynx",   "maple",   "meadow",  "nebula", "otter",  "panda",  "pebble", "quartz",
      "raven",  "river",   "sequoia", "tiger",  "tundra", "walrus", "willow", "zephyr"};
  const std::uint32_t a = randombytes_uniform(kAdjectives.size());
  const std::uint32_t n = randombytes_uniform(kNouns.size());
  return fmt::format("{}-{}-{}", kAdjectives[a], kNouns[n], HexEncode(RandomBytes(3)));
}

bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

}  // namespace replideploy::core
