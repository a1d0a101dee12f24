#include "http/websocket_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <exception>

#include "http/http_session.hpp"

namespace replideploy::http::server_internal {

namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;

template <class Stream>
BasicWebSocketSession<Stream>::BasicWebSocketSession(Stream& stream)
    : executor_(stream.get_executor()) {
  drained_.emplace(executor_);
  ws_.emplace(stream);
  ws_->read_message_max(kMaxMessageBytes);
  // Pings an idle peer and drops one that stops answering; bounds the handshake and close.
  ws_->set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
}

template <class Stream>
void BasicWebSocketSession<Stream>::SendText(std::string message) {
  if (!open_) return;
  const std::size_t size = message.size();
  queued_bytes_ += size;
  const bool posted = Post([self = this->shared_from_this(), m = std::move(message)]() mutable {
    if (self->closing_) {
      self->queued_bytes_ -= m.size();
      return;
    }
    self->queue_.push_back(std::move(m));
    self->WriteNext();
  });
  if (!posted) queued_bytes_ -= size;
}

template <class Stream>
void BasicWebSocketSession<Stream>::Close(std::uint16_t code, std::string reason) {
  if (reason.size() > 123) reason.resize(123);
  Post([self = this->shared_from_this(), code, r = std::move(reason)] {
    if (self->closing_ || self->close_requested_) return;
    self->close_requested_ = true;
    self->close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), r);
    self->WriteNext();
  });
}

template <class Stream>
asio::awaitable<error_code> BasicWebSocketSession<Stream>::Accept(
    const bhttp::request<bhttp::string_body>& handshake, const std::string& protocol) {
  ws_->set_option(websocket::stream_base::decorator([protocol](websocket::response_type& res) {
    res.set(bhttp::field::server, "replideploy");
    if (!protocol.empty()) res.set(bhttp::field::sec_websocket_protocol, protocol);
  }));
  auto [ec] = co_await ws_->async_accept(handshake, kAwaitable);
  co_return ec;
}

template <class Stream>
asio::awaitable<void> BasicWebSocketSession<Stream>::ReadLoop(
    const std::function<void(std::string_view)>& on_message) {
  beast::flat_buffer buffer;
  for (;;) {
    auto [ec, n] = co_await ws_->async_read(buffer, kAwaitable);
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

template <class Stream>
asio::awaitable<void> BasicWebSocketSession<Stream>::Release() {
  // Cut() closed the socket: what is in flight completes soon, with an error at worst.
  while (writing_) {
    drained_->expires_at(asio::steady_timer::time_point::max());
    co_await drained_->async_wait(kAwaitable);
  }
  ws_.reset();
}

template <class Stream>
void BasicWebSocketSession<Stream>::Detach() {
  open_ = false;
  closing_ = true;
  // Both hold I/O objects of the io_context, which may be gone when the session is.
  ws_.reset();
  drained_.reset();
  std::lock_guard lock(post_mu_);
  detached_ = true;
}

template <class Stream>
template <class Task>
bool BasicWebSocketSession<Stream>::Post(Task&& task) {
  std::lock_guard lock(post_mu_);
  if (detached_) return false;
  asio::post(executor_, std::forward<Task>(task));
  return true;
}

template <class Stream>
void BasicWebSocketSession<Stream>::CloseNow(std::uint16_t code, std::string_view reason) {
  if (closing_) return;
  // The message being written stays until its write completes (OnWritten pops it): the write
  // reads its bytes, and OnWritten expects it at the front. Only what waits behind it goes.
  const auto keep = writing_ && !queue_.empty() ? queue_.begin() + 1 : queue_.begin();
  for (auto it = keep; it != queue_.end(); ++it) queued_bytes_ -= it->size();
  queue_.erase(keep, queue_.end());
  close_requested_ = true;
  close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
  WriteNext();
}

template <class Stream>
void BasicWebSocketSession<Stream>::Cut() {
  open_ = false;
  closing_ = true;
  if (!ws_) return;
  error_code ignored;
  auto& socket = beast::get_lowest_layer(*ws_);
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

template <class Stream>
void BasicWebSocketSession<Stream>::WriteNext() {
  if (writing_ || closing_) return;
  if (!queue_.empty()) {
    writing_ = true;
    ws_->text(true);
    ws_->async_write(asio::buffer(queue_.front()),
                     [self = this->shared_from_this()](const error_code& ec, std::size_t) {
                       self->OnWritten(ec);
                     });
    return;
  }
  if (close_requested_) {
    open_ = false;
    closing_ = true;
    writing_ = true;
    ws_->async_close(close_reason_,
                     [self = this->shared_from_this()](const error_code&) { self->WriteDone(); });
  }
}

template <class Stream>
void BasicWebSocketSession<Stream>::OnWritten(const error_code& ec) {
  // The message just written is at the front (CloseNow keeps it while it is written).
  queued_bytes_ -= queue_.front().size();
  queue_.pop_front();
  WriteDone();
  if (ec) {
    open_ = false;
    closing_ = true;
    return;
  }
  WriteNext();
}

template <class Stream>
void BasicWebSocketSession<Stream>::WriteDone() {
  writing_ = false;
  if (drained_) drained_->cancel();
}

template <class Stream>
asio::awaitable<void> ServeWebSocket(const std::shared_ptr<Connection>& conn, Stream& stream,
                                     const bhttp::request<bhttp::string_body>& handshake,
                                     std::shared_ptr<WebSocketAccept> accept,
                                     const Exchange& exchange) {
  StopDeadline(*conn);
  auto session = std::make_shared<BasicWebSocketSession<Stream>>(stream);
  // However the frame ends, nothing is posted to the connection's executor afterwards (a log
  // stream may keep the session past the server's io_context).
  const std::unique_ptr<BasicWebSocketSession<Stream>, void (*)(BasicWebSocketSession<Stream>*)>
      detach(session.get(), [](BasicWebSocketSession<Stream>* s) { s->Detach(); });
  conn->websocket = session;
  const error_code ec = co_await session->Accept(handshake, accept->protocol);
  LogExchange(exchange, conn->remote_address, ec ? 400 : 101, 0, ec ? "handshake failed" : "");
  if (!ec) {
    if (accept->on_open) {
      try {
        accept->on_open(session);
      } catch (const std::exception& e) {
        spdlog::error("request {}: websocket open handler threw: {}", exchange.request_id,
                      e.what());
        session->CloseNow(1011, "internal error");
      }
    }
    co_await session->ReadLoop(accept->on_message);
  }
  session->Cut();
  co_await session->Release();
  conn->websocket.reset();
}

template class BasicWebSocketSession<tcp::socket>;
template class BasicWebSocketSession<TlsStream>;
template asio::awaitable<void> ServeWebSocket(const std::shared_ptr<Connection>&, tcp::socket&,
                                              const bhttp::request<bhttp::string_body>&,
                                              std::shared_ptr<WebSocketAccept>, const Exchange&);
template asio::awaitable<void> ServeWebSocket(const std::shared_ptr<Connection>&, TlsStream&,
                                              const bhttp::request<bhttp::string_body>&,
                                              std::shared_ptr<WebSocketAccept>, const Exchange&);

}  // namespace replideploy::http::server_internal
