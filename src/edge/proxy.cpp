#include "edge/proxy.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <spdlog/spdlog.h>

#include <boost/url/parse.hpp>
#include <cstring>

#include "http/client.hpp"

namespace replideploy::edge {

namespace {

http::Response BadGateway(std::string_view why) {
  spdlog::warn("proxy refused: {}", why);
  return http::Response::Text(502, "Bad Gateway\n");
}

bool IsHopByHop(std::string_view name) {
  static constexpr std::string_view kHop[] = {
      "connection", "keep-alive",    "proxy-authenticate", "proxy-authorization",
      "te",         "trailer",       "transfer-encoding",  "upgrade",
      "host",       "content-length"};
  for (auto h : kHop) {
    if (name.size() == h.size() &&
        std::equal(name.begin(), name.end(), h.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool IsNonPublicAddress(const std::string& ip) {
  in6_addr v6{};
  in_addr v4{};
  std::uint32_t a = 0;
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) {
    a = ntohl(v4.s_addr);
  } else if (inet_pton(AF_INET6, ip.c_str(), &v6) == 1) {
    const unsigned char* b = v6.s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
      a = (std::uint32_t{b[12]} << 24) | (std::uint32_t{b[13]} << 16) |
          (std::uint32_t{b[14]} << 8) | b[15];
    } else {
      if (IN6_IS_ADDR_LOOPBACK(&v6) || IN6_IS_ADDR_UNSPECIFIED(&v6) || IN6_IS_ADDR_LINKLOCAL(&v6) ||
          IN6_IS_ADDR_MULTICAST(&v6) || IN6_IS_ADDR_SITELOCAL(&v6)) {
        return true;
      }
      return (b[0] & 0xfe) == 0xfc;  // unique local fc00::/7
    }
  } else {
    return true;  // not an address at all: refuse
  }
  auto in = [a](std::uint32_t net, int bits) {
    return bits == 0 || (a >> (32 - bits)) == (net >> (32 - bits));
  };
  return in(0x00000000, 8) || in(0x0a000000, 8) || in(0x7f000000, 8) || in(0xa9fe0000, 16) ||
         in(0xac100000, 12) || in(0xc0a80000, 16) || in(0x64400000, 10) || in(0xc0000000, 24) ||
         in(0xe0000000, 4) || in(0xf0000000, 4);
}

http::Response ProxyRequest(const http::Request& request, const std::string& url,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            const ProxyOptions& options) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return BadGateway("invalid proxy URL " + url);
  const std::string scheme(parsed->scheme());
  if (scheme != "http" && scheme != "https") return BadGateway("proxy scheme must be http(s)");
  std::string host(parsed->encoded_host());
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  const std::string port =
      parsed->has_port() ? std::string(parsed->port()) : (scheme == "https" ? "443" : "80");

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) {
    return BadGateway("cannot resolve " + host);
  }
  std::string chosen;
  bool refused = false;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* addr =
        ai->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr);
    inet_ntop(ai->ai_family, addr, text, sizeof text);
    // Every address must pass: a name that also resolves to a private address is refused.
    if (!options.allow_private && IsNonPublicAddress(text)) refused = true;
    if (chosen.empty()) chosen = text;
  }
  freeaddrinfo(found);
  if (refused || chosen.empty()) return BadGateway(host + " resolves to a non-public address");

  http::ClientRequest out;
  out.method = request.method;
  out.url = url;
  out.body = request.body;
  out.timeout = options.timeout;
  out.connect_to = host + ":" + port + ":" + chosen;
  out.max_response_bytes = options.max_response_bytes;
  for (const auto& [name, value] : request.headers.All()) {
    if (!IsHopByHop(name)) out.headers.Add(name, value);
  }
  out.headers.Set("X-Forwarded-Host", request.HostName());
  out.headers.Set("X-Forwarded-For", request.remote_address);
  for (const auto& [name, value] : headers) out.headers.Set(name, value);
  auto answer = http::Fetch(out);
  if (!answer.ok()) return BadGateway(answer.error().message);
  http::Response response;
  response.status = answer->status;
  for (const auto& [name, value] : answer->headers.All()) {
    if (!IsHopByHop(name)) response.headers.Add(name, value);
  }
  response.body = std::move(answer->body);
  return response;
}

}  // namespace replideploy::edge
