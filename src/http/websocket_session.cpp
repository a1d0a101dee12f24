#include "http/websocket_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <exception>

namespace replideploy::http::server_internal {

namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;

WebSocketSession::WebSocketSession(tcp::socket socket) : ws_(std::move(socket)) {
  ws_.read_message_max(kMaxMessageBytes);
  // Pings an idle peer and drops one that stops answering; bounds the handshake and close.
  ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
}

void WebSocketSession::SendText(std::string message) {
  if (!open_) return;
  queued_bytes_ += message.size();
  asio::post(ws_.get_executor(), [self = shared_from_this(), m = std::move(message)]() mutable {
    if (self->closing_) {
      self->queued_bytes_ -= m.size();
      return;
    }
    self->queue_.push_back(std::move(m));
    self->WriteNext();
  });
}

void WebSocketSession::Close(std::uint16_t code, std::string reason) {
  if (reason.size() > 123) reason.resize(123);
  asio::post(ws_.get_executor(), [self = shared_from_this(), code, r = std::move(reason)] {
    if (self->closing_ || self->close_requested_) return;
    self->close_requested_ = true;
    self->close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), r);
    self->WriteNext();
  });
}

asio::awaitable<error_code> WebSocketSession::Accept(
    const bhttp::request<bhttp::string_body>& handshake, const std::string& protocol) {
  ws_.set_option(websocket::stream_base::decorator([protocol](websocket::response_type& res) {
    res.set(bhttp::field::server, "replideploy");
    if (!protocol.empty()) res.set(bhttp::field::sec_websocket_protocol, protocol);
  }));
  auto [ec] = co_await ws_.async_accept(handshake, kAwaitable);
  co_return ec;
}

asio::awaitable<void> WebSocketSession::ReadLoop(
    const std::function<void(std::string_view)>& on_message) {
  beast::flat_buffer buffer;
  for (;;) {
    auto [ec, n] = co_await ws_.async_read(buffer, kAwaitable);
    if (ec) break;
    if (on_message) {
      try {
        on_message(beast::buffers_to_string(buffer.data()));
      } catch (const std::exception& e) {
        spdlog::error("websocket message handler threw: {}", e.what());
      }
    }
    buffer.consume(buffer.size());
  }
  open_ = false;
  closing_ = true;
}

void WebSocketSession::CloseNow(std::uint16_t code, std::string_view reason) {
  if (closing_) return;
  queue_.clear();
  close_requested_ = true;
  close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
  WriteNext();
}

void WebSocketSession::Cut() {
  open_ = false;
  closing_ = true;
  error_code ignored;
  ws_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
  ws_.next_layer().close(ignored);
}

void WebSocketSession::WriteNext() {
  if (writing_ || closing_) return;
  if (!queue_.empty()) {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(
        asio::buffer(queue_.front()),
        [self = shared_from_this()](const error_code& ec, std::size_t) { self->OnWritten(ec); });
    return;
  }
  if (close_requested_) {
    open_ = false;
    closing_ = true;
    writing_ = true;
    ws_.async_close(close_reason_,
                    [self = shared_from_this()](const error_code&) { self->writing_ = false; });
  }
}

void WebSocketSession::OnWritten(const error_code& ec) {
  writing_ = false;
  queued_bytes_ -= queue_.front().size();
  queue_.pop_front();
  if (ec) {
    open_ = false;
    closing_ = true;
    return;
  }
  WriteNext();
}

asio::awaitable<void> ServeWebSocket(const std::shared_ptr<Connection>& conn,
                                     const bhttp::request<bhttp::string_body>& handshake,
                                     std::shared_ptr<WebSocketAccept> accept,
                                     const Exchange& exchange) {
  StopDeadline(*conn);
  auto session = std::make_shared<WebSocketSession>(std::move(conn->socket));
  conn->websocket = session;
  const error_code ec = co_await session->Accept(handshake, accept->protocol);
  LogExchange(exchange, conn->remote_address, ec ? 400 : 101, 0, ec ? "handshake failed" : "");
  if (ec) {
    session->Cut();
    co_return;
  }
  if (accept->on_open) {
    try {
      accept->on_open(session);
    } catch (const std::exception& e) {
      spdlog::error("request {}: websocket open handler threw: {}", exchange.request_id, e.what());
      session->CloseNow(1011, "internal error");
    }
  }
  co_await session->ReadLoop(accept->on_message);
  session->Cut();
}

}  // namespace replideploy::http::server_internal
