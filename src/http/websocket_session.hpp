// The server side of one WebSocket connection, after an HTTP session accepted the upgrade.
// Private to src/http/.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "http/message.hpp"
#include "http/server_internal.hpp"

namespace replideploy::http::server_internal {

// Messages are queued from any thread (the WebSocket interface) and written in order on the
// connection's strand, one write in flight at a time; the read loop runs in the connection's
// coroutine. Members without a note are strand-only.
class WebSocketSession final : public WebSocket,
                               public std::enable_shared_from_this<WebSocketSession> {
 public:
  static constexpr std::size_t kMaxMessageBytes = std::size_t{64} << 10;

  // Takes over an HTTP connection's socket.
  explicit WebSocketSession(tcp::socket socket);

  // WebSocket: thread-safe, never blocks.
  void SendText(std::string message) override;
  void Close(std::uint16_t code, std::string reason) override;
  bool IsOpen() const override { return open_; }
  std::size_t QueuedBytes() const override { return queued_bytes_; }

  // Answers the handshake request with 101 (and `protocol` as Sec-WebSocket-Protocol unless it
  // is empty). The error is the handshake's.
  asio::awaitable<error_code> Accept(
      const beast::http::request<beast::http::string_body>& handshake, const std::string& protocol);
  // Reads until the peer closes or the connection fails, handing each message to `on_message`
  // (an exception from it is logged and the loop goes on).
  asio::awaitable<void> ReadLoop(const std::function<void(std::string_view)>& on_message);
  // For shutdown: drops the queue and sends a close frame.
  void CloseNow(std::uint16_t code, std::string_view reason);
  // Closes the socket without a close frame.
  void Cut();

 private:
  // Starts the next write unless one is in flight.
  void WriteNext();
  void OnWritten(const error_code& ec);

  beast::websocket::stream<tcp::socket> ws_;
  std::atomic<bool> open_{true};              // any thread
  std::atomic<std::size_t> queued_bytes_{0};  // any thread
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool closing_ = false;
  bool close_requested_ = false;
  beast::websocket::close_reason close_reason_;
};

// The hand-off from an HTTP session: moves the connection's socket into a new WebSocketSession
// (which Stop() then reaches through conn->websocket), completes the handshake with one
// access-log line, runs `accept`'s callbacks and serves the connection until it closes. On the
// connection's strand.
asio::awaitable<void> ServeWebSocket(
    const std::shared_ptr<Connection>& conn,
    const beast::http::request<beast::http::string_body>& handshake,
    std::shared_ptr<WebSocketAccept> accept, const Exchange& exchange);

}  // namespace replideploy::http::server_internal
