#include "http/request_parser.hpp"

#include <boost/beast/http/error.hpp>
#include <string>

namespace replideploy::http::server_internal {

namespace bhttp = boost::beast::http;
using string_view = boost::beast::string_view;

namespace {

// A body's storage above this is not kept for the connection's next request.
constexpr std::size_t kKeptBodyCapacity = std::size_t{64} << 10;

}  // namespace

RequestParser::RequestParser(Request& request) : request_(request) {
  request_.method.clear();
  request_.target.clear();
  request_.headers.Clear();
  if (request_.body.capacity() > kKeptBodyCapacity) {
    std::string().swap(request_.body);
  } else {
    request_.body.clear();
  }
}

void RequestParser::on_request_impl(bhttp::verb method, string_view method_str, string_view target,
                                    int version, error_code& ec) {
  method_ = method;
  version_ = static_cast<unsigned>(version);
  request_.method.assign(std::string_view(method_str));
  request_.target.assign(std::string_view(target));
  ec = {};
}

void RequestParser::on_response_impl(int, string_view, int, error_code& ec) {
  ec = bhttp::error::bad_method;  // a request parser never sees a status line
}

void RequestParser::on_field_impl(bhttp::field, string_view name_string, string_view value,
                                  error_code& ec) {
  request_.headers.AddCopy(name_string, value);
  ec = {};
}

void RequestParser::on_header_impl(error_code& ec) { ec = {}; }

// As Beast's string_body: room for a declared length up front.
void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                      error_code& ec) {
  ec = {};
  if (!content_length) return;
  if (*content_length > request_.body.max_size()) {
    ec = bhttp::error::buffer_overflow;
    return;
  }
  request_.body.reserve(static_cast<std::size_t>(*content_length));
}

std::size_t RequestParser::on_body_impl(string_view body, error_code& ec) {
  if (body.size() > request_.body.max_size() - request_.body.size()) {
    ec = bhttp::error::buffer_overflow;
    return 0;
  }
  request_.body.append(std::string_view(body));
  ec = {};
  return body.size();
}

void RequestParser::on_chunk_header_impl(std::uint64_t, string_view, error_code& ec) { ec = {}; }

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) {
  return on_body_impl(body, ec);
}

void RequestParser::on_finish_impl(error_code& ec) { ec = {}; }

bhttp::request<bhttp::string_body> RequestParser::ToBeast() const {
  bhttp::request<bhttp::string_body> out;
  out.method_string(request_.method);
  out.target(request_.target);
  out.version(version_);
  for (const auto& [name, value] : request_.headers.All()) out.insert(name, value);
  out.body() = request_.body;
  return out;
}

}  // namespace replideploy::http::server_internal
