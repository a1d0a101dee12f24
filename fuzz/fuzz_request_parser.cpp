// The server's HTTP/1.1 request parser (src/http/request_parser.hpp): pipelined requests from
// one connection's bytes, fed in two pieces split where the input's first byte says, into one
// reused Request, with the server's kind of limits.
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/message.hpp"
#include "http/request_parser.hpp"

using namespace replideploy;
namespace bhttp = boost::beast::http;

namespace {

constexpr std::size_t kBodyLimit = 4096;

// Parses what it can of `bytes` into `request`; returns the bytes used, stops on an error.
std::size_t Feed(http::server_internal::RequestParser& parser, std::string_view bytes,
                 boost::beast::error_code& ec) {
  std::size_t used = 0;
  while (used < bytes.size() && !parser.is_done()) {
    const std::size_t n =
        parser.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    used += n;
    if (ec == bhttp::error::need_more) {
      ec = {};
      break;
    }
    if (ec || n == 0) break;
  }
  return used;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t split = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  http::Request request;
  for (int n = 0; n < 16 && !rest.empty(); ++n) {
    http::server_internal::RequestParser parser(request);
    parser.header_limit(1024);
    parser.body_limit(kBodyLimit);
    parser.eager(true);
    boost::beast::error_code ec;
    // A first piece, then the rest: a head or body split across reads.
    const std::string_view first = rest.substr(0, std::min(split, rest.size()));
    std::size_t used = Feed(parser, first, ec);
    if (!ec && !parser.is_done()) {
      // The parser keeps nothing of unused bytes: give them again with what follows.
      used += Feed(parser, rest.substr(used), ec);
    }
    if (ec || !parser.is_done()) return 0;
    // A complete request keeps to the limits it was parsed with.
    if (request.body.size() > kBodyLimit) __builtin_trap();
    if (request.method.empty()) __builtin_trap();
    (void)parser.ToBeast();
    if (used == 0) return 0;
    rest.remove_prefix(used);
  }
  return 0;
}
