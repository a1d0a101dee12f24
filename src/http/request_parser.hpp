// The HTTP/1.1 request parser of the server: Beast's parser (the same grammar, limits and
// errors) writing straight into the connection's reused Request instead of Beast's own field
// list, so that a request costs no allocation of its own. Private to src/http/.
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/message.hpp"

namespace replideploy::http::server_internal {

class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  // Clears `request`'s method, target, headers and body (their storage is kept for the next
  // request; a large body's is let go) and parses the next request into them. The other fields
  // of `request` are the caller's. `request` must outlive the parser.
  explicit RequestParser(Request& request);

  boost::beast::http::verb Method() const { return method_; }
  // 10 or 11.
  unsigned Version() const { return version_; }

  // The request as a Beast message (for the WebSocket handshake, which takes one).
  boost::beast::http::request<boost::beast::http::string_body> ToBeast() const;

 private:
  using error_code = boost::system::error_code;
  using string_view = boost::beast::string_view;

  void on_request_impl(boost::beast::http::verb method, string_view method_str, string_view target,
                       int version, error_code& ec) override;
  void on_response_impl(int code, string_view reason, int version, error_code& ec) override;
  void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                     error_code& ec) override;
  void on_header_impl(error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         error_code& ec) override;
  std::size_t on_body_impl(string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, string_view extensions, error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code& ec) override;
  void on_finish_impl(error_code& ec) override;

  Request& request_;
  boost::beast::http::verb method_ = boost::beast::http::verb::unknown;
  unsigned version_ = 11;
};

}  // namespace replideploy::http::server_internal
