// The server side of one WebSocket connection, after an HTTP/1.1 session accepted the upgrade,
// over plain TCP or TLS. Private to src/http/.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "http/message.hpp"
#include "http/server_internal.hpp"

namespace replideploy::http::server_internal {

// What Stop() reaches through Connection::websocket, on the connection's strand.
class WebSocketSession : public WebSocket {
 public:
  // For shutdown: drops the queue and sends a close frame.
  virtual void CloseNow(std::uint16_t code, std::string_view reason) = 0;
  // Closes the socket without a close frame.
  virtual void Cut() = 0;
};

// Messages are queued from any thread (the WebSocket interface) and written in order on the
// connection's strand, one write in flight at a time; the read loop runs in the connection's
// coroutine. Members without a note are strand-only.
//
// The WebSocket stream only refers to the connection's stream (`Stream` is tcp::socket or
// TlsStream), which belongs to the connection's coroutine frame; the session itself may be kept
// (by a log stream, say) after that frame is gone. So ServeWebSocket waits for the last
// operation on the stream and then Release()s it before it returns: from then on the session
// only answers that it is closed.
template <class Stream>
class BasicWebSocketSession final
    : public WebSocketSession,
      public std::enable_shared_from_this<BasicWebSocketSession<Stream>> {
 public:
  static constexpr std::size_t kMaxMessageBytes = std::size_t{64} << 10;

  explicit BasicWebSocketSession(Stream& stream);

  // WebSocket: thread-safe, never blocks.
  void SendText(std::string message) override;
  void Close(std::uint16_t code, std::string reason) override;
  bool IsOpen() const override { return open_; }
  std::size_t QueuedBytes() const override { return queued_bytes_; }

  void CloseNow(std::uint16_t code, std::string_view reason) override;
  void Cut() override;

  // Answers the handshake request with 101 (and `protocol` as Sec-WebSocket-Protocol unless it
  // is empty). The error is the handshake's.
  asio::awaitable<error_code> Accept(
      const beast::http::request<beast::http::string_body>& handshake, const std::string& protocol);
  // Reads until the peer closes or the connection fails, handing each message to `on_message`
  // (an exception from it is logged and the loop goes on).
  asio::awaitable<void> ReadLoop(const std::function<void(std::string_view)>& on_message);
  // Once the read loop is over and the socket cut: waits for the write or close in flight, then
  // lets go of the stream.
  asio::awaitable<void> Release();
  // Lets go of every I/O object, and from then on SendText and Close post nothing: the
  // connection's io_context may go at any time while the session is still kept. On the strand,
  // when ServeWebSocket's frame ends (returned or destroyed).
  void Detach();

 private:
  // Starts the next write unless one is in flight.
  void WriteNext();
  void OnWritten(const error_code& ec);
  void WriteDone();
  // Posts `task` to the connection's strand unless Detach()ed (then false). Any thread.
  template <class Task>
  bool Post(Task&& task);

  const asio::any_io_executor executor_;
  std::mutex post_mu_;  // guards detached_ and the posts it allows
  bool detached_ = false;
  std::optional<beast::websocket::stream<Stream&>> ws_;  // empty once released
  // Cancelled when a write or close completes; empty once detached.
  std::optional<asio::steady_timer> drained_;
  std::atomic<bool> open_{true};              // any thread
  std::atomic<std::size_t> queued_bytes_{0};  // any thread
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool closing_ = false;
  bool close_requested_ = false;
  beast::websocket::close_reason close_reason_;
};

// The hand-off from an HTTP/1.1 session: makes a WebSocket session over `stream` (which Stop()
// then reaches through conn->websocket), completes the handshake with one access-log line, runs
// `accept`'s callbacks and serves the connection until it closes; the socket is closed and the
// session has let go of `stream` when it returns. On the connection's strand.
template <class Stream>
asio::awaitable<void> ServeWebSocket(
    const std::shared_ptr<Connection>& conn, Stream& stream,
    const beast::http::request<beast::http::string_body>& handshake,
    std::shared_ptr<WebSocketAccept> accept, const Exchange& exchange);

}  // namespace replideploy::http::server_internal
