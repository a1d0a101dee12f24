// Transport-neutral HTTP request and response, so handlers never include Beast.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/unique_fd.hpp"

namespace replideploy::http {

// Case-insensitive header list; keeps order and repeats. Copies share one list until either
// is changed (copy on write), so a list built once (a cached file's headers) costs a reference
// count per answer, not a copy of every string.
class Headers {
 public:
  using Item = std::pair<std::string, std::string>;

  void Add(std::string name, std::string value);
  // The same with copies of `name` and `value`, into the storage of headers that Clear() dropped
  // (a reused Request's next request costs no allocation for headers no longer than before).
  void AddCopy(std::string_view name, std::string_view value);
  // Replaces every header of that name.
  void Set(std::string name, std::string value);
  // The first value, or an empty view when absent.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  const std::vector<Item>& All() const;
  // Drops every header; keeps the list's storage when no copy shares it (a reused Request).
  void Clear();

  // Renders the list once as "Name: value\r\n" lines, which the HTTP/1.1 server then sends as
  // they are instead of checking and rendering each header per answer. Only a list the server
  // would send unchanged is rendered: valid names and values, and none of the headers it sets
  // itself or drops (Content-Length, Transfer-Encoding, Connection, Server, X-Request-Id); false
  // otherwise. Any change to the list (or to a copy) drops the rendering. Not thread-safe: call
  // it before the list is shared between threads.
  bool Prerender();
  // The rendering of Prerender; null when there is none.
  const std::string* Rendered() const;

 private:
  struct Block {
    std::vector<Item> items;
    // Items dropped by Clear(), last first, whose strings AddCopy reuses.
    std::vector<Item> spare;
    std::string rendered;
    bool has_rendered = false;
  };
  // The list, unshared, to change.
  std::vector<Item>& Mutable();

  std::shared_ptr<Block> block_;
};

// What the server may send as a header: an RFC 9110 token as the name, and a value without CR,
// LF or NUL.
bool IsToken(std::string_view s);
bool HasLineBreakOrNul(std::string_view s);

struct Request {
  std::string method;  // "GET", upper case as sent
  std::string target;  // raw request-target ("/api/v1/sites?x=1")
  std::string path;    // percent-decoded path without the query
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  Headers headers;
  std::string body;
  std::string remote_address;  // peer IP, no port
  // True when the request came over TLS (the HTTPS listener), by HTTP/1.1 or HTTP/2.
  bool secure = false;
  std::string request_id;                          // set by the server, echoed as X-Request-Id
  std::map<std::string, std::string> path_params;  // from the route pattern ("{site_id}")

  // Host header without the port, lower-cased.
  std::string HostName() const;
  // The same into `out` (its storage reused: no allocation once it has grown).
  void HostNameTo(std::string& out) const;
  std::optional<std::string> QueryParam(std::string_view name) const;
  std::string_view Header(std::string_view name) const { return headers.Get(name); }
};

// A WebSocket connection the server accepted (see Response::websocket). Every member is
// thread-safe and never blocks: messages queue in memory and go out in order.
class WebSocket {
 public:
  virtual ~WebSocket() = default;
  // Queues a text message. Ignored once the connection is closing or closed.
  virtual void SendText(std::string message) = 0;
  // Sends the queued messages, then a close frame with `code` and `reason` (at most 123 bytes).
  virtual void Close(std::uint16_t code, std::string reason) = 0;
  // False once either side started closing or the connection failed.
  virtual bool IsOpen() const = 0;
  // Bytes queued and not yet written: lets a producer slow down for a slow reader.
  virtual std::size_t QueuedBytes() const = 0;
};

// A handler's answer to a WebSocket handshake (a GET with "Upgrade: websocket").
struct WebSocketAccept {
  // The Sec-WebSocket-Protocol to answer with (one the client offered), or empty.
  std::string protocol;
  // Called once the handshake completed, on an I/O thread: must not block.
  std::function<void(std::shared_ptr<WebSocket>)> on_open;
  // Called with each text or binary message from the client, on an I/O thread: must not block.
  // Messages over 64 KiB close the connection (1009).
  std::function<void(std::string_view)> on_message;
};

// The comma-separated tokens of a header value ("keep-alive, Upgrade"), trimmed, empty ones
// dropped.
std::vector<std::string> SplitHeaderTokens(std::string_view value);

// The value of the cookie `name` in a Cookie header value ("a=1; b=\"2\""), without quotes;
// nullopt when it is absent. The first of repeated names wins.
std::optional<std::string_view> CookieValue(std::string_view cookie_header, std::string_view name);

// The user name and password of an "Authorization: Basic ..." value (scheme case-insensitive);
// nullopt when it is not Basic or does not decode to "user:password".
std::optional<std::pair<std::string, std::string>> BasicCredentials(std::string_view header);

// True for a GET that asks to upgrade to a WebSocket (RFC 6455 section 4.1).
bool IsWebSocketUpgrade(const Request& request);
// The subprotocols a WebSocket client offered (Sec-WebSocket-Protocol), in order.
std::vector<std::string> WebSocketProtocols(const Request& request);

// A response body that is `length` bytes of an open file from `offset`: the server sends it as
// the client takes it (sendfile(2) on plain TCP), holding at most a small buffer of it per
// connection however large it is and however slowly it is read. The file's bytes must not change
// while it is sent (stored blobs never do); the descriptor is closed when the last holder of it
// goes. Reads take explicit offsets, so one open file may serve any number of bodies at once.
struct FileBody {
  core::UniqueFd fd;                                // owned by this body, or
  std::shared_ptr<const core::UniqueFd> shared_fd;  // shared (a cache of open files)
  std::uint64_t offset = 0;
  std::uint64_t length = 0;

  int Descriptor() const { return shared_fd ? shared_fd->get() : fd.get(); }
};

// A body produced while it is sent (a function's streamed response). The server asks for the
// next piece on its slow pool (Next blocks) and sends each as soon as it has it (an HTTP/1.1
// chunk, HTTP/2 DATA frames); to HTTP/1.0 clients it collects the whole body first. Cancel() is
// called when the client is gone (and for HEAD).
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // The next piece (non-empty), or nullopt at the end.
  virtual std::optional<std::string> Next() = 0;
  // After Next answered nullopt: whether the whole body came (else the connection is closed
  // without the last chunk, so the client sees the body cut).
  virtual bool Complete() const = 0;
  virtual void Cancel() = 0;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // Set instead of `body`: a slice of immutable bytes shared with a cache, sent without a copy.
  std::shared_ptr<const std::string> shared_body;
  std::size_t shared_offset = 0;
  std::size_t shared_length = 0;
  // Set instead of `body`: bytes of a file, streamed (see FileBody).
  std::shared_ptr<const FileBody> file_body;
  // Set instead of `body`: a body produced while it is sent (see BodyStream).
  std::shared_ptr<BodyStream> body_stream;
  // Set by a handler that finds late that its answer waits on the outside world (another
  // origin, say): the server runs it on its slow pool (Pool::kSlow) and sends what it returns
  // instead of this response. It must not throw and must not refer to the Request.
  std::function<Response()> deferred;
  // Set (on a WebSocket handshake request only) to accept the upgrade: the server completes the
  // handshake instead of sending this response. Ignored for other requests.
  std::shared_ptr<WebSocketAccept> websocket;

  std::size_t BodySize() const {
    if (file_body) return static_cast<std::size_t>(file_body->length);
    return shared_body ? shared_length : body.size();
  }
  // The body in memory; empty for a file body (read the file).
  std::string_view BodyView() const {
    if (file_body) return {};
    return shared_body ? std::string_view(*shared_body).substr(shared_offset, shared_length)
                       : std::string_view(body);
  }

  // JSON body with content-type application/json; charset=utf-8.
  static Response Json(int status, std::string json_body);
  // {"error":{"code":code,"message":message}} with the given status.
  static Response Error(int status, std::string_view code, std::string_view message);
  static Response Text(int status, std::string text,
                       std::string content_type = "text/plain; charset=utf-8");
};

// A CGI program's output (RFC 3875) as a response: the header block ("Status:" sets the
// status, 200 without it; framing headers are dropped, the server frames the body) and the body
// after the blank line. nullopt when there is no header block.
std::optional<Response> ParseCgiOutput(std::string_view output);

// Handlers run on the blocking thread pool: they may call the database, hash passwords, etc.
// They must not throw; the server turns an escaped exception into a 500 and logs it.
using Handler = std::function<Response(Request&)>;

// Splits "a=1&b=%20" into decoded pairs ('+' is a space). Malformed escapes, and "%00", are
// kept verbatim.
std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query);

// Percent-decodes; fails (nullopt) on a malformed escape or a decoded NUL byte.
std::optional<std::string> PercentDecode(std::string_view s);

}  // namespace replideploy::http
