#include "edge/proxy.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <spdlog/spdlog.h>

#include <boost/url/parse.hpp>
#include <cstring>

#include "core/net.hpp"
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

  auto resolved = core::ResolvePublicAddress(host, port, options.allow_private);
  if (!resolved.ok()) return BadGateway(resolved.error().message);
  const std::string chosen = *resolved;

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
