#include "http/client_address.hpp"

#include <algorithm>
#include <optional>

namespace replideploy::http {

namespace {

// Hops past this many are not read: a chain that long is not from our proxies.
constexpr std::size_t kMaxHops = 64;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// "192.0.2.7", "192.0.2.7:4711", "[2001:db8::1]", "[2001:db8::1]:4711", "2001:db8::1".
std::optional<core::Cidr> ParseHop(std::string_view hop) {
  hop = Trim(hop);
  if (hop.size() >= 2 && hop.front() == '"' && hop.back() == '"') {
    hop = hop.substr(1, hop.size() - 2);
  }
  if (!hop.empty() && hop.front() == '[') {
    const auto close = hop.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    return core::ParseIpAddress(hop.substr(1, close - 1));
  }
  if (std::count(hop.begin(), hop.end(), ':') == 1) hop = hop.substr(0, hop.find(':'));
  return core::ParseIpAddress(hop);
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(separator, start), text.size());
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// The hops a request names, left (client side) to right (nearest proxy), as written.
std::vector<std::string_view> ForwardingChain(const Request& request) {
  std::vector<std::string_view> hops;
  for (const auto& [name, value] : request.headers.All()) {
    if (!EqualsIgnoreCase(name, "X-Forwarded-For")) continue;
    for (std::string_view hop : Split(value, ',')) hops.push_back(Trim(hop));
  }
  if (!hops.empty()) return hops;
  for (const auto& [name, value] : request.headers.All()) {
    if (!EqualsIgnoreCase(name, "Forwarded")) continue;
    for (std::string_view element : Split(value, ',')) {
      std::string_view hop;  // an element without for= still is a hop, of unknown address
      for (std::string_view pair : Split(element, ';')) {
        pair = Trim(pair);
        if (pair.size() > 4 && EqualsIgnoreCase(pair.substr(0, 4), "for=")) hop = pair.substr(4);
      }
      hops.push_back(hop);
    }
  }
  return hops;
}

std::string Format(const core::Cidr& address) {
  std::string text = core::FormatCidr(address);
  return text.substr(0, text.rfind('/'));
}

bool IsTrusted(const core::Cidr& address, const std::vector<core::Cidr>& trusted) {
  return std::any_of(trusted.begin(), trusted.end(),
                     [&](const core::Cidr& net) { return core::CidrContains(net, address); });
}

}  // namespace

Result<std::vector<core::Cidr>> ParseCidrList(std::string_view list, std::string_view setting) {
  std::vector<core::Cidr> out;
  for (std::string_view item : Split(list, ',')) {
    item = Trim(item);
    if (item.empty()) continue;
    auto cidr = core::ParseCidr(item);
    if (!cidr.ok()) {
      return MakeError(ErrorCode::kBadRequest, std::string(setting) + ": " + cidr.error().message);
    }
    out.push_back(*cidr);
  }
  return out;
}

std::string ClientAddress(const Request& request, const std::vector<core::Cidr>& trusted_proxies) {
  const std::optional<core::Cidr> peer = core::ParseIpAddress(request.remote_address);
  if (!peer) return request.remote_address;
  if (trusted_proxies.empty() || !IsTrusted(*peer, trusted_proxies)) return Format(*peer);
  const std::vector<std::string_view> chain = ForwardingChain(request);
  core::Cidr nearest_trusted = *peer;
  const std::size_t stop = chain.size() > kMaxHops ? chain.size() - kMaxHops : 0;
  for (std::size_t i = chain.size(); i > stop; --i) {
    const std::optional<core::Cidr> hop = ParseHop(chain[i - 1]);
    if (!hop) break;
    if (!IsTrusted(*hop, trusted_proxies)) return Format(*hop);
    nearest_trusted = *hop;
  }
  return Format(nearest_trusted);
}

}  // namespace replideploy::http
