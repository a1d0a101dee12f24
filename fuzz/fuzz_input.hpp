// Splits a fuzzer's input into parts at "\n----\n" lines, so one target can drive a parser and
// what consumes its result (rules, then a request path) from one byte string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace replideploy::fuzz {

inline std::vector<std::string_view> Parts(const std::uint8_t* data, std::size_t size,
                                           std::size_t max_parts) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  constexpr std::string_view kSeparator = "\n----\n";
  while (parts.size() + 1 < max_parts) {
    const std::size_t at = rest.find(kSeparator);
    if (at == std::string_view::npos) break;
    parts.push_back(rest.substr(0, at));
    rest.remove_prefix(at + kSeparator.size());
  }
  parts.push_back(rest);
  while (parts.size() < max_parts) parts.emplace_back();
  return parts;
}

}  // namespace replideploy::fuzz
