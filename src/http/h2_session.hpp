// One HTTP/2 connection (RFC 9113) on the HTTPS listener, with nghttp2's server session: every
// stream's request goes through the same resolver and handlers as HTTP/1.1 (RunDispatch), and
// its answer goes out through a data provider that copies in-memory bodies, reads file bodies
// in frame-sized chunks, and sends a streamed body (a function's) piece by piece as it is
// produced, as the peer's flow-control window allows. Private to src/http/.
//
// Limits: SETTINGS_MAX_CONCURRENT_STREAMS (TlsListenerOptions), ServerOptions'
// max_header_bytes per request head (431) and the route's body limit (413). On Stop() the
// connection gets a GOAWAY once its open streams are answered (at once when it has none).
#pragma once

#include <nghttp2/nghttp2.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "http/http_session.hpp"
#include "http/server.hpp"
#include "http/server_internal.hpp"

namespace replideploy::http::server_internal {

// Lives in the connection coroutine's frame; strand-only. Run() returns once the connection is
// over and nothing it started (writer, handlers) is still running.
class H2Session {
 public:
  H2Session(const SessionContext& context, std::shared_ptr<Connection> conn, TlsStream& stream,
            const TlsListenerOptions& tls);
  ~H2Session();
  H2Session(const H2Session&) = delete;
  H2Session& operator=(const H2Session&) = delete;

  asio::awaitable<void> Run();

 private:
  struct Stream;

  bool Setup();
  // Starts the writer unless it is running: it sends what nghttp2 has queued.
  void Kick();
  asio::awaitable<void> WriteLoop();
  // Runs the stream's handler and submits its answer.
  asio::awaitable<void> Serve(std::shared_ptr<Stream> stream);
  // A streamed body's next piece: awaited on the slow pool, then the stream's data resumed.
  void FetchPiece(const std::shared_ptr<Stream>& stream);
  asio::awaitable<void> AwaitPiece(std::shared_ptr<Stream> stream);
  // The data provider of a streamed body: the piece in hand, the end, or deferred until the
  // next piece comes.
  ssize_t ReadStreamed(Stream& s, std::uint8_t* buf, std::size_t length, std::uint32_t* data_flags);
  void StartHandler(const std::shared_ptr<Stream>& stream);
  void Respond(Stream& stream, Response response);
  // The request head is complete: checks it, resolves its route; false once answered (an
  // error) instead.
  bool EndOfHeaders(Stream& stream);
  void ArmReadDeadline(bool first);
  // Once shutting down with no stream open: GOAWAY, and the connection ends after it.
  void GoAwayIfDraining();
  void Finished();

  static int OnBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* self);
  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame,
                      const std::uint8_t* name, std::size_t namelen, const std::uint8_t* value,
                      std::size_t valuelen, std::uint8_t flags, void* self);
  static int OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* self);
  static int OnDataChunk(nghttp2_session* session, std::uint8_t flags, std::int32_t stream_id,
                         const std::uint8_t* data, std::size_t len, void* self);
  static int OnStreamClose(nghttp2_session* session, std::int32_t stream_id,
                           std::uint32_t error_code, void* self);
  static ssize_t ReadBody(nghttp2_session* session, std::int32_t stream_id, std::uint8_t* buf,
                          std::size_t length, std::uint32_t* data_flags,
                          nghttp2_data_source* source, void* self);

  const SessionContext& context_;
  const std::shared_ptr<Connection> conn_;
  TlsStream& stream_;
  const TlsListenerOptions& tls_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<std::int32_t, std::shared_ptr<Stream>> streams_;
  bool writing_ = false;
  bool failed_ = false;
  bool going_away_ = false;
  // Coroutines started by the session (the writer, handlers) still running; Run() waits for
  // them, woken by `done_`.
  int running_ = 0;
  asio::steady_timer done_;
};

}  // namespace replideploy::http::server_internal
