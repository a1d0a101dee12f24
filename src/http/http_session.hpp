// One HTTP/1.1 connection on the server side, over plain TCP or TLS. Private to src/http/.
#pragma once

#include <sys/types.h>

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "http/message.hpp"
#include "http/request_parser.hpp"
#include "http/server.hpp"
#include "http/server_internal.hpp"

namespace replideploy::http::server_internal {

// A TLS connection's stream over the connection's own socket (so that deadlines and shutdown,
// which act on the socket, reach it too).
using TlsStream = asio::ssl::stream<tcp::socket&>;

// What the HTTP/1.1 and HTTP/2 sessions share (http_session.cpp).
bool IsValidRequestId(std::string_view id);
std::string NewRequestId();
// The same into `out`, reusing its storage.
void NewRequestId(std::string& out);
// The path part of a request-target; absolute-form ("http://host/p?q") is reduced to "/p".
std::string_view TargetPath(std::string_view target);
std::string_view TargetQuery(std::string_view target);
// The resolver's answer; one without a handler when the resolver threw.
Dispatch Resolve(const Resolver& resolver, const Request& request);
// The dispatch's fast path if it answers, else its handler on its pool; then any deferred work
// on the slow pool. Never throws out a handler's exception (a 500 instead).
// Reads all of `response`'s body_stream into its body (on the slow pool), for the HTTP/2 and
// HTTP/1.0 paths that send whole bodies. An incomplete stream becomes a 502.
asio::awaitable<void> CollectBodyStream(const SessionContext& context, Response& response);
// The next piece of `body`, read on the slow pool.
asio::awaitable<std::optional<std::string>> NextBodyPiece(const SessionContext& context,
                                                          std::shared_ptr<BodyStream> body);

asio::awaitable<Response> RunDispatch(const SessionContext& context, const Dispatch& dispatch,
                                      Request& request);
// RunDispatch in two parts, so that a fast answer costs no coroutine: the fast path's answer
// (nullopt when there is none or it declined), then the rest (the handler on its pool unless
// `fast` is set, then any deferred work).
std::optional<Response> RunFastHandler(const Dispatch& dispatch, Request& request);
asio::awaitable<Response> FinishDispatch(const SessionContext& context, const Dispatch& dispatch,
                                         Request& request, std::optional<Response> fast);

// Serves the connection registered as `id` (see Listener) and unregisters it when done, also
// when the coroutine's frame is destroyed unfinished with the io_context. Runs on the
// connection's strand; `context` outlives it.
asio::awaitable<void> ServeConnection(const SessionContext& context,
                                      std::shared_ptr<Connection> conn, std::uint64_t id);

// Answers a connection that is over a limit with `answer`, without reading its request (the
// client reads the answer after sending it), then closes it. Not registered: it ends with the
// io_context at the latest.
asio::awaitable<void> RefuseConnection(const SessionContext& context,
                                       std::shared_ptr<Connection> conn, Response answer);

// Reads requests one after the other (a deadline before every read, the route's body limit on
// every body), runs each handler on the handler pool (or its fast path on the strand), writes
// the answers, keeps the connection alive while both sides want it, and hands it to a WebSocket
// session when a handler accepts an upgrade. Lives in its coroutine's frame;
// strand-only. `Stream` is tcp::socket or TlsStream, and `stream` is, or wraps, conn->socket.
template <class Stream>
class HttpSession {
 public:
  HttpSession(const SessionContext& context, std::shared_ptr<Connection> conn, Stream& stream);

  // Serves requests until the connection is to close, then closes it (lingering first after an
  // error answer that left request bytes unread).
  asio::awaitable<void> Run();
  // Writes `answer` (Connection: close), lingers, closes.
  asio::awaitable<void> Refuse(Response answer);

 private:
  enum class Outcome { kKeepAlive, kClose, kLingerThenClose };

  // Reads until `parser` has the whole head (what is buffered was tried already); an error as
  // Beast's read of a head gives (end_of_stream, partial_message, header_limit, a parse error).
  asio::awaitable<error_code> ReadHead(RequestParser& parser);
  // Reads the body within `body_limit` (answering "Expect: 100-continue" first); nullopt once it
  // is read, else how the connection goes on after the error answer.
  asio::awaitable<std::optional<Outcome>> ReadBody(RequestParser& parser, std::size_t body_limit,
                                                   bool expects_continue, const Exchange& exchange);
  // Answers a failed read of the request head or body.
  asio::awaitable<Outcome> AnswerReadError(const error_code& ec, const Exchange& exchange);
  asio::awaitable<Outcome> AnswerAndClose(Response response, const Exchange& exchange,
                                          Outcome outcome);
  // Writes the answer and its access-log line; false when the connection cannot be used any
  // more.
  asio::awaitable<bool> WriteResponse(Response response, const Exchange& exchange, bool keep_alive);
  // WriteResponse's parts around the write of an answer: checks the status,
  // renders the head and arms the send deadline, and gives the buffers to send (head, and the
  // body unless it is a file's, or there is none to send) and the body's length for the log;
  // then disarms the deadline and logs the exchange (true when the answer went out).
  std::array<asio::const_buffer, 2> StartAnswer(Response& response, const Exchange& exchange,
                                                bool keep_alive, std::size_t& body_bytes);
  bool EndAnswer(const Response& response, const Exchange& exchange, std::size_t body_bytes,
                 const error_code& ec);
  // Over plain TCP, hands `buffers` straight to the (non-blocking) socket, which takes a small
  // answer whole, and drops from them what it took: true when nothing is left or the write
  // failed (`ec`), false when the rest is for an asynchronous write (always so over TLS). `more`:
  // more bytes follow at once (MSG_MORE), so the kernel may hold these for them.
  bool WriteNow(std::array<asio::const_buffer, 2>& buffers, bool more, error_code& ec);
  // Over plain TCP, reads what the (non-blocking) socket has into the connection's buffer:
  // true with `ec` set or `n` bytes committed, false when nothing is there yet (always so over
  // TLS, whose reads go through the stream).
  bool ReadNow(std::size_t& n, error_code& ec);
  // Sends a file body after its head: sendfile(2) as the socket takes it (falling back to
  // CopyFile where the file system cannot, and over TLS), never more than one chunk at a time.
  asio::awaitable<error_code> SendFile(const FileBody& file);
  // Sends the rendered head, then `body` chunked as it comes; adds the bytes sent to `sent`. An
  // error when the stream was cut or the client left (the connection must close).
  asio::awaitable<error_code> SendStream(std::shared_ptr<BodyStream> body, std::size_t& sent);
  asio::awaitable<error_code> CopyFile(const FileBody& file, off_t offset, std::uint64_t remaining);
  // Reads and discards what the client still sends for a while, so it reads our answer instead
  // of a connection reset.
  asio::awaitable<void> Linger();

  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;

  const SessionContext& context_;
  const std::shared_ptr<Connection> conn_;
  Stream& stream_;
  // The request being served and its access-log record, reused from request to request so
  // that their strings keep their storage (each is refilled whole for every request).
  Request request_;
  Exchange exchange_;
};

extern template class HttpSession<tcp::socket>;
extern template class HttpSession<TlsStream>;

}  // namespace replideploy::http::server_internal
