#include "http/h2_session.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <cerrno>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

namespace replideploy::http::server_internal {

namespace {

constexpr std::size_t kReadBytes = std::size_t{16} << 10;
// The writer gathers up to this much of nghttp2's output per write.
constexpr std::size_t kWriteBytes = std::size_t{64} << 10;
// Room for a request body in flight per stream (SETTINGS_INITIAL_WINDOW_SIZE).
constexpr std::int32_t kStreamWindow = std::int32_t{1} << 20;
// HPACK's per-field overhead (RFC 7541 section 4.1), counted towards max_header_bytes.
constexpr std::size_t kFieldOverhead = 32;

std::string_view View(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

nghttp2_nv Field(std::string_view name, std::string_view value) {
  // nghttp2 copies the fields when the response is submitted.
  return nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

// Headers that mean something for one HTTP/1.1 connection only: not allowed in HTTP/2.
bool IsConnectionSpecific(std::string_view name) {
  for (std::string_view bad : {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                               "upgrade", "content-length"}) {
    if (beast::iequals(name, bad)) return true;
  }
  return false;
}

// WebSockets need an HTTP/1.1 connection: no RFC 8441 extended CONNECT here (the SETTINGS never
// offer SETTINGS_ENABLE_CONNECT_PROTOCOL, so browsers open a separate HTTP/1.1 connection, and
// nghttp2 resets a stream that sends :protocol all the same). A request that still carries a
// WebSocket handshake's fields gets this instead of whatever its route would answer.
Response WebSocketNeedsHttp1() {
  return Response::Error(400, "websocket_needs_http1",
                         "WebSockets are not served over HTTP/2; open the WebSocket on an "
                         "HTTP/1.1 connection");
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

struct H2Session::Stream {
  std::int32_t id = 0;
  Request request;
  Exchange exchange;
  std::string cookies;
  std::string authority;
  bool has_host = false;
  std::size_t header_bytes = 0;
  int rejected = 0;  // a status to answer with instead of running the handler
  Dispatch dispatch;
  bool dispatched = false;  // the handler was started (or an error answered)
  bool answered = false;
  int status = 0;
  // The answer's body, as the data provider sends it.
  Response response;
  std::uint64_t body_bytes = 0;
  std::uint64_t sent = 0;
  // A body produced while it is sent (Response::body_stream): the piece in hand and how much of
  // it went out; `fetching` while the next piece is awaited on the slow pool, `ended` once the
  // stream said it has no more.
  std::shared_ptr<BodyStream> body_stream;
  std::string piece;
  std::size_t piece_sent = 0;
  bool fetching = false;
  bool ended = false;
};

H2Session::H2Session(const SessionContext& context, std::shared_ptr<Connection> conn,
                     TlsStream& stream, const TlsListenerOptions& tls)
    : context_(context),
      conn_(std::move(conn)),
      stream_(stream),
      tls_(tls),
      done_(conn_->socket.get_executor()) {}

H2Session::~H2Session() {
  if (session_ != nullptr) nghttp2_session_del(session_);
}

bool H2Session::Setup() {
  nghttp2_session_callbacks* callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&callbacks) != 0) return false;
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &H2Session::OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &H2Session::OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &H2Session::OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &H2Session::OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &H2Session::OnStreamClose);
  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  // Request heads past the limit are answered 431 by us; this only bounds what nghttp2 buffers.
  nghttp2_option_set_max_send_header_block_length(option, 64 * 1024);
  const int rv = nghttp2_session_server_new2(&session_, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  if (rv != 0) return false;
  const std::array<nghttp2_settings_entry, 3> settings{{
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, tls_.h2_max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<std::uint32_t>(kStreamWindow)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(std::min<std::size_t>(
                                                  context_.options.max_header_bytes, UINT32_MAX))},
  }};
  return nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size()) ==
         0;
}

asio::awaitable<void> H2Session::Run() {
  if (!Setup()) {
    spdlog::error("connection from {}: cannot start an HTTP/2 session", conn_->remote_address);
    failed_ = true;
  } else {
    Kick();
  }
  std::vector<std::uint8_t> buffer(kReadBytes);
  for (bool first = true; !failed_; first = false) {
    if (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0) {
      break;
    }
    // Stop() may have begun before this connection was idle, when nothing woke it.
    GoAwayIfDraining();
    if (going_away_ && streams_.empty()) break;
    ArmReadDeadline(first);
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(buffer), kAwaitable);
    if (ec || conn_->timed_out) {
      if (!conn_->timed_out && context_.shutting_down && conn_->socket.is_open() &&
          ec == asio::error::operation_aborted && !going_away_) {
        // Stop() woke an idle connection: say goodbye properly.
        GoAwayIfDraining();
        continue;
      }
      break;
    }
    const ssize_t used = nghttp2_session_mem_recv(session_, buffer.data(), n);
    if (used < 0) {
      spdlog::debug("connection from {}: HTTP/2 error: {}", conn_->remote_address,
                    nghttp2_strerror(static_cast<int>(used)));
      // nghttp2 queued a GOAWAY for most errors: let the writer send it, then stop.
      Kick();
      break;
    }
    GoAwayIfDraining();
    Kick();
  }
  // Wait for what we started; nothing more is read. A streamed body still awaited is given up.
  for (auto& [id, stream] : streams_) {
    if (stream->body_stream) stream->body_stream->Cancel();
  }
  while (running_ > 0) {
    if (!writing_ || failed_) {
      error_code ignored;
      conn_->socket.cancel(ignored);
    }
    done_.expires_at(steady_clock::time_point::max());
    co_await done_.async_wait(kAwaitable);
  }
  StopDeadline(*conn_);
  error_code ignored;
  conn_->socket.shutdown(tcp::socket::shutdown_both, ignored);
  conn_->socket.close(ignored);
}

void H2Session::ArmReadDeadline(bool first) {
  conn_->idle = streams_.empty();
  if (streams_.empty()) {
    ArmDeadline(conn_, first ? context_.options.header_timeout : context_.options.idle_timeout);
    return;
  }
  const bool awaiting_request =
      std::any_of(streams_.begin(), streams_.end(),
                  [](const auto& entry) { return !entry.second->dispatched; });
  ArmDeadline(conn_,
              awaiting_request ? context_.options.read_timeout : context_.options.idle_timeout);
}

void H2Session::GoAwayIfDraining() {
  if (!context_.shutting_down || going_away_ || session_ == nullptr || !streams_.empty()) return;
  going_away_ = true;
  nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
  Kick();
}

void H2Session::Kick() {
  if (writing_ || failed_ || session_ == nullptr) return;
  if (nghttp2_session_want_write(session_) == 0) return;
  writing_ = true;
  ++running_;
  asio::co_spawn(conn_->socket.get_executor(), WriteLoop(), [this](const std::exception_ptr& e) {
    LogFailure("HTTP/2 writer")(e);
    writing_ = false;
    Finished();
  });
}

void H2Session::Finished() {
  --running_;
  if (running_ == 0) done_.cancel();
}

asio::awaitable<void> H2Session::WriteLoop() {
  std::string out;
  for (;;) {
    out.clear();
    while (out.size() < kWriteBytes) {
      const std::uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n < 0) {
        spdlog::debug("connection from {}: HTTP/2 send error: {}", conn_->remote_address,
                      nghttp2_strerror(static_cast<int>(n)));
        failed_ = true;
        break;
      }
      if (n == 0) break;
      out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    }
    if (out.empty()) break;
    ArmDeadline(conn_, context_.options.read_timeout);
    auto [ec, written] = co_await asio::async_write(stream_, asio::buffer(out), kAwaitable);
    if (ec || conn_->timed_out) {
      failed_ = true;
      break;
    }
    ArmReadDeadline(false);
  }
  // The GOAWAY is out, or the connection broke: the reader is to stop too.
  if (failed_ ||
      (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0)) {
    error_code ignored;
    conn_->socket.cancel(ignored);
  }
}

int H2Session::OnBeginHeaders(nghttp2_session* /*session*/, const nghttp2_frame* frame,
                              void* self_ptr) {
  auto* self = static_cast<H2Session*>(self_ptr);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  auto stream = std::make_shared<Stream>();
  stream->id = frame->hd.stream_id;
  stream->request.remote_address = self->conn_->remote_address;
  stream->request.secure = true;
  stream->exchange.version = 20;
  self->streams_[stream->id] = std::move(stream);
  return 0;
}

int H2Session::OnHeader(nghttp2_session* /*session*/, const nghttp2_frame* frame,
                        const std::uint8_t* name_data, std::size_t namelen,
                        const std::uint8_t* value_data, std::size_t valuelen,
                        std::uint8_t /*flags*/, void* self_ptr) {
  auto* self = static_cast<H2Session*>(self_ptr);
  const auto it = self->streams_.find(frame->hd.stream_id);
  if (it == self->streams_.end() || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  Stream& s = *it->second;
  s.header_bytes += namelen + valuelen + kFieldOverhead;
  if (s.header_bytes > self->context_.options.max_header_bytes) {
    s.rejected = 431;
    return 0;
  }
  const std::string_view name = View(name_data, namelen);
  const std::string_view value = View(value_data, valuelen);
  if (name == ":method") {
    s.request.method = std::string(value);
  } else if (name == ":path") {
    s.request.target = std::string(value);
  } else if (name == ":authority") {
    s.authority = std::string(value);
  } else if (name.empty() || name.front() == ':') {
    // :scheme and :protocol: nothing for the handlers.
  } else if (name == "cookie") {
    // HTTP/2 splits cookies into fields; HTTP/1.1 handlers expect one header (RFC 9113 8.2.3).
    if (!s.cookies.empty()) s.cookies += "; ";
    s.cookies += value;
  } else {
    if (name == "host") s.has_host = true;
    s.request.headers.Add(std::string(name), std::string(value));
  }
  return 0;
}

bool H2Session::EndOfHeaders(Stream& s) {
  Request& request = s.request;
  if (!s.cookies.empty()) request.headers.Add("cookie", s.cookies);
  if (!s.has_host && !s.authority.empty()) request.headers.Add("host", s.authority);
  const std::string_view incoming_id = request.Header("x-request-id");
  request.request_id = IsValidRequestId(incoming_id) ? std::string(incoming_id) : NewRequestId();
  s.exchange.request_id = request.request_id;
  s.exchange.method = request.method;
  s.exchange.target = request.target;
  s.exchange.head_only = request.method == "HEAD";
  s.exchange.metrics = context_.options.request_metrics;
  s.dispatched = true;
  if (s.rejected == 431) {
    Respond(s, Response::Error(431, "headers_too_large",
                               fmt::format("request head exceeds {} bytes",
                                           context_.options.max_header_bytes)));
    return false;
  }
  if (request.method.empty() || request.target.empty() || request.target.front() != '/') {
    Respond(s, Response::Error(400, "bad_request", "malformed HTTP/2 request"));
    return false;
  }
  std::optional<std::string> path = PercentDecode(TargetPath(request.target));
  if (!path) {
    Respond(s, Response::Error(400, "bad_request", "request path is not valid percent-encoding"));
    return false;
  }
  if (!request.Header("sec-websocket-key").empty()) {
    Respond(s, WebSocketNeedsHttp1());
    return false;
  }
  request.path = std::move(*path);
  request.query = ParseQuery(TargetQuery(request.target));
  s.dispatch = Resolve(context_.resolver, request);
  if (!s.dispatch.handler) {
    Respond(s, Response::Error(500, "internal", "internal server error"));
    return false;
  }
  request.path_params = std::move(s.dispatch.path_params);
  if (s.dispatch.metrics != nullptr) s.exchange.metrics = s.dispatch.metrics;
  const std::string_view length_text = request.Header("content-length");
  std::uint64_t length = 0;
  if (!length_text.empty() &&
      std::from_chars(length_text.data(), length_text.data() + length_text.size(), length).ec ==
          std::errc{} &&
      length > s.dispatch.body_limit) {
    Respond(s,
            Response::Error(413, "payload_too_large",
                            fmt::format("request body exceeds {} bytes", s.dispatch.body_limit)));
    return false;
  }
  s.dispatched = false;  // until the body is in
  return true;
}

int H2Session::OnFrameRecv(nghttp2_session* /*session*/, const nghttp2_frame* frame,
                           void* self_ptr) {
  auto* self = static_cast<H2Session*>(self_ptr);
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  const auto it = self->streams_.find(frame->hd.stream_id);
  if (it == self->streams_.end()) return 0;
  const std::shared_ptr<Stream> stream = it->second;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    if (!self->EndOfHeaders(*stream)) return 0;
  }
  if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0 && !stream->dispatched) {
    self->StartHandler(stream);
  }
  return 0;
}

int H2Session::OnDataChunk(nghttp2_session* /*session*/, std::uint8_t /*flags*/,
                           std::int32_t stream_id, const std::uint8_t* data, std::size_t len,
                           void* self_ptr) {
  auto* self = static_cast<H2Session*>(self_ptr);
  const auto it = self->streams_.find(stream_id);
  if (it == self->streams_.end()) return 0;
  Stream& s = *it->second;
  if (s.dispatched) return 0;  // answered already: the rest is dropped
  if (s.request.body.size() + len > s.dispatch.body_limit) {
    s.dispatched = true;
    self->Respond(
        s, Response::Error(413, "payload_too_large",
                           fmt::format("request body exceeds {} bytes", s.dispatch.body_limit)));
    return 0;
  }
  s.request.body.append(reinterpret_cast<const char*>(data), len);
  return 0;
}

int H2Session::OnStreamClose(nghttp2_session* /*session*/, std::int32_t stream_id,
                             std::uint32_t error_code, void* self_ptr) {
  auto* self = static_cast<H2Session*>(self_ptr);
  const auto it = self->streams_.find(stream_id);
  if (it == self->streams_.end()) return 0;
  const std::shared_ptr<Stream> stream = it->second;
  self->streams_.erase(it);
  if (stream->answered) {
    const bool complete = stream->sent == stream->body_bytes && error_code == NGHTTP2_NO_ERROR;
    LogExchange(stream->exchange, self->conn_->remote_address, stream->status, stream->sent,
                complete ? "" : "stream reset");
  }
  // A handler still running sees the stream gone from the map and drops its answer; a function
  // still producing a streamed body is stopped.
  stream->response = Response{};
  if (stream->body_stream) stream->body_stream->Cancel();
  return 0;
}

void H2Session::StartHandler(const std::shared_ptr<Stream>& stream) {
  stream->dispatched = true;
  ++running_;
  asio::co_spawn(conn_->socket.get_executor(), Serve(stream), [this](const std::exception_ptr& e) {
    LogFailure("HTTP/2 stream")(e);
    Finished();
  });
}

asio::awaitable<void> H2Session::Serve(std::shared_ptr<Stream> stream) {
  Response response = co_await RunDispatch(context_, stream->dispatch, stream->request);
  if (response.websocket) response = WebSocketNeedsHttp1();
  const auto it = streams_.find(stream->id);
  if (it == streams_.end() || it->second != stream || failed_) {
    if (response.body_stream) response.body_stream->Cancel();
    co_return;
  }
  Respond(*stream, std::move(response));
  Kick();
}

void H2Session::FetchPiece(const std::shared_ptr<Stream>& stream) {
  if (stream->fetching) return;
  stream->fetching = true;
  ++running_;
  asio::co_spawn(conn_->socket.get_executor(), AwaitPiece(stream),
                 [this](const std::exception_ptr& e) {
                   LogFailure("HTTP/2 streamed body")(e);
                   Finished();
                 });
}

asio::awaitable<void> H2Session::AwaitPiece(std::shared_ptr<Stream> stream) {
  // Blocks a thread of the slow pool until the function writes (bounded by its own timeout).
  std::optional<std::string> piece = co_await NextBodyPiece(context_, stream->body_stream);
  stream->fetching = false;
  const auto it = streams_.find(stream->id);
  if (it == streams_.end() || it->second != stream || failed_) co_return;  // reset: cancelled
  if (piece) {
    stream->piece = std::move(*piece);
    stream->piece_sent = 0;
  } else {
    stream->ended = true;
  }
  nghttp2_session_resume_data(session_, stream->id);
  Kick();
}

void H2Session::Respond(Stream& s, Response response) {
  if (response.status < 200 || response.status > 599) {
    spdlog::error("request {}: handler returned invalid status {}", s.exchange.request_id,
                  response.status);
    response = Response::Error(500, "internal", "internal server error");
  }
  if (s.exchange.request_id.empty()) s.exchange.request_id = NewRequestId();
  const bool has_body = response.status != 204 && response.status != 304;
  // A streamed body goes out in DATA frames as it is produced, without a length. HEAD, and a
  // status without a body, stop it at once.
  if (response.body_stream && (!has_body || s.exchange.head_only)) {
    response.body_stream->Cancel();
    response.body_stream.reset();
  }
  const bool streamed = response.body_stream != nullptr;
  const std::uint64_t body_bytes = has_body && !streamed ? response.BodySize() : 0;
  const std::string status = std::to_string(response.status);
  const std::string length = std::to_string(body_bytes);
  // Lower-case names (HTTP/2 requires them), kept alive until nghttp2 has copied them.
  std::vector<std::string> names;
  std::vector<nghttp2_nv> fields;
  names.reserve(response.headers.All().size());
  fields.push_back(Field(":status", status));
  for (const auto& [name, value] : response.headers.All()) {
    if (!IsToken(name) || HasLineBreakOrNul(value) || IsConnectionSpecific(name)) continue;
    names.push_back(Lower(name));
    if (names.back() == "server" || names.back() == "x-request-id") {
      names.pop_back();
      continue;
    }
    fields.push_back(Field(names.back(), value));
  }
  fields.push_back(Field("server", "replideploy"));
  fields.push_back(Field("x-request-id", s.exchange.request_id));
  if (has_body && !streamed) fields.push_back(Field("content-length", length));

  s.answered = true;
  s.status = response.status;
  s.sent = 0;
  s.body_bytes = s.exchange.head_only ? 0 : body_bytes;
  // Until the stream ends, its length is unknown (a reset before then counts as cut short).
  if (streamed) s.body_bytes = UINT64_MAX;
  s.body_stream = std::move(response.body_stream);
  s.response = std::move(response);
  nghttp2_data_provider provider{};
  provider.source.ptr = &s;
  provider.read_callback = &H2Session::ReadBody;
  const int rv = nghttp2_submit_response(session_, s.id, fields.data(), fields.size(),
                                         s.body_bytes > 0 ? &provider : nullptr);
  if (rv != 0 && s.body_stream) s.body_stream->Cancel();
  if (rv != 0) {
    spdlog::debug("request {}: cannot submit the HTTP/2 response: {}", s.exchange.request_id,
                  nghttp2_strerror(rv));
  }
}

ssize_t H2Session::ReadBody(nghttp2_session* /*session*/, std::int32_t /*stream_id*/,
                            std::uint8_t* buf, std::size_t length, std::uint32_t* data_flags,
                            nghttp2_data_source* source, void* self_ptr) {
  auto& s = *static_cast<Stream*>(source->ptr);
  if (s.body_stream)
    return static_cast<H2Session*>(self_ptr)->ReadStreamed(s, buf, length, data_flags);
  const std::uint64_t left = s.body_bytes - s.sent;
  std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, length));
  if (const auto& file = s.response.file_body) {
    for (;;) {
      const ssize_t got =
          ::pread(file->Descriptor(), buf, n, static_cast<off_t>(file->offset + s.sent));
      if (got < 0 && errno == EINTR) continue;
      // The file ended early or broke: the promised length cannot be kept.
      if (got <= 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      n = static_cast<std::size_t>(got);
      break;
    }
  } else {
    const std::string_view body = s.response.BodyView();
    std::copy_n(body.data() + s.sent, n, buf);
  }
  s.sent += n;
  if (s.sent == s.body_bytes) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

}  // namespace replideploy::http::server_internal

namespace replideploy::http::server_internal {

ssize_t H2Session::ReadStreamed(Stream& s, std::uint8_t* buf, std::size_t length,
                                std::uint32_t* data_flags) {
  if (s.piece_sent < s.piece.size()) {
    const std::size_t n = std::min(length, s.piece.size() - s.piece_sent);
    std::copy_n(s.piece.data() + s.piece_sent, n, buf);
    s.piece_sent += n;
    s.sent += n;
    return static_cast<ssize_t>(n);
  }
  if (s.ended) {
    // Cut short (the function threw, timed out or went past its limit): the stream is reset
    // (RST_STREAM, INTERNAL_ERROR), so the client sees a failed body, never a short one.
    if (!s.body_stream->Complete()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    s.body_bytes = s.sent;
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return 0;
  }
  const auto it = streams_.find(s.id);
  if (it == streams_.end()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  FetchPiece(it->second);
  return NGHTTP2_ERR_DEFERRED;
}

}  // namespace replideploy::http::server_internal
