#include "http/http_session.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <exception>
#include <limits>
#include <string>
#include <string_view>
#include <tuple>

#include "core/crypto.hpp"
#include "http/websocket_session.hpp"

namespace replideploy::http::server_internal {

namespace {

namespace bhttp = boost::beast::http;

// First read of a request: enough for most request heads in one go.
constexpr std::size_t kFirstReadBytes = 4096;
// After an error answer with request bytes still unread, keep reading (and discarding) for a
// while before closing, so the client reads our answer instead of a connection reset.
constexpr milliseconds kLingerTime{2000};
constexpr std::size_t kLingerBytes = std::size_t{8} << 20;
constexpr std::size_t kLingerChunkBytes = std::size_t{64} << 10;
constexpr std::size_t kMaxRequestIdLength = 64;
// A file body goes out at most this much per system call (and per buffer when copied)...
constexpr std::size_t kFileChunkBytes = std::size_t{256} << 10;
// ... and a reader fast enough to take this much without waiting lets the other connections
// of its I/O thread have a turn.
constexpr std::uint64_t kFileBytesBeforeYield = std::uint64_t{4} << 20;

}  // namespace

bool IsValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

namespace {

std::uint64_t RequestIdSeed() {
  const std::string bytes = core::RandomBytes(8);
  std::uint64_t seed = 0;
  std::memcpy(&seed, bytes.data(), sizeof seed);
  return seed;
}

}  // namespace

// 16 hex digits, as 8 random bytes would give: a splitmix64 sequence per thread, seeded once from
// the system's random source (ids are for correlating log lines, not secrets), so that a request
// costs no system call.
void NewRequestId(std::string& out) {
  thread_local std::uint64_t state = RequestIdSeed();
  state += 0x9E3779B97F4A7C15ULL;
  std::uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  static constexpr char kHex[] = "0123456789abcdef";
  out.resize(16);
  for (int i = 15; i >= 0; --i, z >>= 4) out[static_cast<std::size_t>(i)] = kHex[z & 0xF];
}

std::string NewRequestId() {
  std::string id;
  NewRequestId(id);
  return id;
}

namespace {

bool HasCloseToken(std::string_view connection) {
  const auto tokens = SplitHeaderTokens(connection);
  return std::any_of(tokens.begin(), tokens.end(),
                     [](const std::string& t) { return beast::iequals(t, "close"); });
}

}  // namespace

std::string_view TargetPath(std::string_view target) {
  target = target.substr(0, target.find('?'));
  if (!target.empty() && target.front() != '/') {
    const std::size_t scheme_end = target.find("://");
    if (scheme_end != std::string_view::npos) {
      const std::size_t path_start = target.find('/', scheme_end + 3);
      return path_start == std::string_view::npos ? std::string_view("/")
                                                  : target.substr(path_start);
    }
  }
  return target;
}

std::string_view TargetQuery(std::string_view target) {
  const std::size_t question = target.find('?');
  return question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
}

namespace {

// Parses the request head from what `buffer` holds and consumes it; need_more while the head
// is not all there (the parser keeps nothing: the next call starts over with more bytes).
error_code ParseBufferedHead(RequestParser& parser, beast::flat_buffer& buffer) {
  error_code ec;
  if (buffer.size() == 0) return bhttp::error::need_more;
  const std::size_t used = parser.put(buffer.data(), ec);
  buffer.consume(used);
  if (!ec && !parser.is_header_done()) ec = bhttp::error::need_more;
  return ec;
}

bool IsHttpParseError(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category();
}

bool IsPeerGone(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor ||
         ec == asio::error::broken_pipe || ec == asio::error::not_connected;
}

// The rest of the request as handlers see it once RequestParser has its head: peer, request id
// (the client's X-Request-Id when it is a sane one); path, query and path parameters cleared
// (nothing of the previous request on the connection stays).
void FinishRequestHead(Request& request, const std::string& remote_address, bool secure) {
  request.path.clear();
  request.query.clear();
  request.remote_address.assign(remote_address);
  request.secure = secure;
  const std::string_view incoming_id = request.headers.Get("X-Request-Id");
  if (IsValidRequestId(incoming_id)) {
    request.request_id.assign(incoming_id);
  } else {
    NewRequestId(request.request_id);
  }
  request.path_params.clear();
}

}  // namespace

Dispatch Resolve(const Resolver& resolver, const Request& request) {
  try {
    return resolver(request);
  } catch (const std::exception& e) {
    spdlog::error("request {}: resolver threw: {}", request.request_id, e.what());
  } catch (...) {
    spdlog::error("request {}: resolver threw a non-standard exception", request.request_id);
  }
  return Dispatch{};
}

namespace {

Response CallHandler(const Handler& handler, Request& request) {
  try {
    return handler(request);
  } catch (const std::exception& e) {
    spdlog::error("request {}: handler for {} {} threw: {}", request.request_id, request.method,
                  request.target, e.what());
  } catch (...) {
    spdlog::error("request {}: handler for {} {} threw a non-standard exception",
                  request.request_id, request.method, request.target);
  }
  return Response::Error(500, "internal", "internal server error");
}

asio::awaitable<Response> CallHandlerOnPool(const Handler& handler, Request& request) {
  co_return CallHandler(handler, request);
}

asio::awaitable<Response> CallDeferredOnPool(std::function<Response()> work,
                                             std::string request_id) {
  try {
    co_return work();
  } catch (const std::exception& e) {
    spdlog::error("request {}: deferred work threw: {}", request_id, e.what());
  } catch (...) {
    spdlog::error("request {}: deferred work threw a non-standard exception", request_id);
  }
  co_return Response::Error(500, "internal", "internal server error");
}

void AppendHeaderLine(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

// Appends the handler's headers minus those with invalid characters, the framing ones and
// Server/X-Request-Id (ours); a "Connection: close" clears `keep_alive`.
void AppendHeaders(std::string& out, const Headers& headers, const Exchange& exchange,
                   bool& keep_alive) {
  for (const auto& [name, value] : headers.All()) {
    if (!IsToken(name) || HasLineBreakOrNul(value)) {
      spdlog::warn("request {}: dropped response header '{}' with invalid characters",
                   exchange.request_id, name);
      continue;
    }
    if (beast::iequals(name, "Content-Length") || beast::iequals(name, "Transfer-Encoding") ||
        beast::iequals(name, "Server") || beast::iequals(name, "X-Request-Id")) {
      continue;
    }
    if (beast::iequals(name, "Connection")) {
      if (HasCloseToken(value)) keep_alive = false;
      continue;
    }
    AppendHeaderLine(out, name, value);
  }
}

// Makes the socket non-blocking, so that a read with nothing there or a write to a full send
// buffer answers would_block instead of waiting (asynchronous operations behave the same either
// way). Set once per connection: every call is an ioctl. False with `ec` when it cannot be.
bool MakeNonBlocking(tcp::socket& socket, error_code& ec) {
  if (!socket.non_blocking()) socket.non_blocking(true, ec);
  return !ec;
}

// A non-blocking call's "nothing now, try again later".
bool IsTryAgain(const error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

// The Date header's value (RFC 9110 IMF-fixdate) for now, rendered once per second per thread.
std::string_view HttpDate() {
  thread_local std::time_t rendered_second = -1;
  thread_local char value[32];
  thread_local std::size_t length = 0;
  const std::time_t now = std::time(nullptr);  // the vDSO's coarse clock: no system call
  if (now != rendered_second) {
    std::tm utc{};
    gmtime_r(&now, &utc);
    // English day and month names: the process keeps the "C" locale.
    length = std::strftime(value, sizeof value, "%a, %d %b %Y %H:%M:%S GMT", &utc);
    rendered_second = now;
  }
  return {value, length};
}

// A handler's status outside 200-599 becomes a 500.
void CheckStatus(Response& response, const Exchange& exchange) {
  if (response.status < 200 || response.status > 599) {
    spdlog::error("request {}: handler returned invalid status {}", exchange.request_id,
                  response.status);
    response = Response::Error(500, "internal", "internal server error");
  }
}

// Renders the response head for `response` into `out` (cleared first), as Beast would serialize
// it: the status line, its headers in order minus those with invalid characters, the framing
// ones and Server/X-Request-Id (ours), then Date (unless the handler set one), Server,
// X-Request-Id, Connection and, when `content_length` is set, Content-Length (or, when
// `chunked`, Transfer-Encoding). A "Connection: close" from the handler clears `keep_alive`.
void RenderResponseHead(std::string& out, const Response& response, const Exchange& exchange,
                        bool& keep_alive, std::optional<std::size_t> content_length,
                        bool chunked = false) {
  const std::string* rendered = response.headers.Rendered();
  // A pre-rendered list never has a Date; a handler's own (a proxied answer's) is kept.
  const bool add_date = rendered != nullptr || !response.headers.Has("Date");
  const auto status = static_cast<unsigned>(response.status);
  const std::string_view reason = bhttp::obsolete_reason(bhttp::int_to_status(status));
  const std::string_view date = add_date ? HttpDate() : std::string_view();
  out.clear();
  if (rendered == nullptr) {
    // A handler's own list: each header checked and appended.
    out.append(exchange.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    const char digits[3] = {static_cast<char>('0' + status / 100 % 10),
                            static_cast<char>('0' + status / 10 % 10),
                            static_cast<char>('0' + status % 10)};
    out.append(digits, 3);
    out.push_back(' ');
    out.append(reason);
    out.append("\r\n");
    AppendHeaders(out, response.headers, exchange, keep_alive);
  }
  // The rest is written in place, into room made once: the lines with known lengths are
  // constant copies, not an append each (this runs for every answer).
  const std::size_t start = out.size();
  const std::size_t room = 64 + reason.size() + (rendered != nullptr ? rendered->size() : 0) +
                           date.size() + exchange.request_id.size() + 160;
  out.resize(start + room);
  char* p = out.data() + start;
  const auto put = [&p](std::string_view text) {
    std::memcpy(p, text.data(), text.size());
    p += text.size();
  };
  if (rendered != nullptr) {
    put(exchange.version == 10 ? std::string_view("HTTP/1.0 ") : std::string_view("HTTP/1.1 "));
    *p++ = static_cast<char>('0' + status / 100 % 10);
    *p++ = static_cast<char>('0' + status / 10 % 10);
    *p++ = static_cast<char>('0' + status % 10);
    *p++ = ' ';
    put(reason);
    put("\r\n");
    put(*rendered);  // checked when it was rendered; no header of ours in it
  }
  if (add_date) {
    put("Date: ");
    put(date);
    put("\r\n");
  }
  put("Server: replideploy\r\nX-Request-Id: ");
  put(exchange.request_id);
  put(keep_alive ? std::string_view("\r\nConnection: keep-alive\r\n")
                 : std::string_view("\r\nConnection: close\r\n"));
  if (content_length) {
    put("Content-Length: ");
    p = std::to_chars(p, p + 24, *content_length).ptr;
    put("\r\n");
  }
  if (chunked) put("Transfer-Encoding: chunked\r\n");
  put("\r\n");
  out.resize(static_cast<std::size_t>(p - out.data()));
}

}  // namespace

namespace {
asio::awaitable<std::optional<std::string>> NextPieceOnPool(std::shared_ptr<BodyStream> body) {
  co_return body->Next();
}
}  // namespace

asio::awaitable<std::optional<std::string>> NextBodyPiece(const SessionContext& context,
                                                          std::shared_ptr<BodyStream> body) {
  co_return co_await asio::co_spawn(context.slow_pool, NextPieceOnPool(std::move(body)),
                                    asio::use_awaitable);
}

asio::awaitable<void> CollectBodyStream(const SessionContext& context, Response& response) {
  std::shared_ptr<BodyStream> body = std::move(response.body_stream);
  response.body_stream.reset();
  if (!body) co_return;
  std::string all;
  for (;;) {
    std::optional<std::string> piece = co_await NextBodyPiece(context, body);
    if (!piece) break;
    all += *piece;
  }
  if (!body->Complete()) {
    response = Response::Text(502, "Bad Gateway: the streamed response was cut short\n");
    co_return;
  }
  response.body = std::move(all);
}

std::optional<Response> RunFastHandler(const Dispatch& dispatch, Request& request) {
  if (!dispatch.fast_handler) return std::nullopt;
  try {
    return dispatch.fast_handler(request);
  } catch (const std::exception& e) {
    spdlog::error("request {}: fast handler threw: {}", request.request_id, e.what());
  }
  return std::nullopt;
}

asio::awaitable<Response> FinishDispatch(const SessionContext& context, const Dispatch& dispatch,
                                         Request& request, std::optional<Response> fast) {
  // Plain statements: GCC 12 mishandles a co_await inside a conditional expression.
  Response response;
  if (fast) {
    response = std::move(*fast);
  } else {
    response =
        co_await asio::co_spawn(context.PoolFor(dispatch.pool),
                                CallHandlerOnPool(dispatch.handler, request), asio::use_awaitable);
  }
  // The handler found late that the answer waits on the outside world.
  while (response.deferred) {
    std::function<Response()> work = std::move(response.deferred);
    response = co_await asio::co_spawn(context.slow_pool,
                                       CallDeferredOnPool(std::move(work), request.request_id),
                                       asio::use_awaitable);
  }
  co_return std::move(response);
}

asio::awaitable<Response> RunDispatch(const SessionContext& context, const Dispatch& dispatch,
                                      Request& request) {
  co_return co_await FinishDispatch(context, dispatch, request, RunFastHandler(dispatch, request));
}

asio::awaitable<void> ServeConnection(const SessionContext& context,
                                      std::shared_ptr<Connection> conn, std::uint64_t id) {
  struct Unregisterer {
    ConnectionRegistry& connections;
    std::uint64_t id;
    ~Unregisterer() { connections.Unregister(id); }
  } unregisterer{context.connections, id};
  tcp::socket& socket = conn->socket;
  HttpSession<tcp::socket> session(context, std::move(conn), socket);
  co_await session.Run();
}

asio::awaitable<void> RefuseConnection(const SessionContext& context,
                                       std::shared_ptr<Connection> conn, Response answer) {
  tcp::socket& socket = conn->socket;
  HttpSession<tcp::socket> session(context, std::move(conn), socket);
  co_await session.Refuse(std::move(answer));
}

template <class Stream>
HttpSession<Stream>::HttpSession(const SessionContext& context, std::shared_ptr<Connection> conn,
                                 Stream& stream)
    : context_(context), conn_(std::move(conn)), stream_(stream) {}

template <class Stream>
asio::awaitable<void> HttpSession<Stream>::Refuse(Response answer) {
  Exchange exchange;
  exchange.request_id = NewRequestId();
  conn_->idle = false;
  if (co_await WriteResponse(std::move(answer), exchange, /*keep_alive=*/false)) {
    co_await Linger();
  }
  error_code ec;
  StopDeadline(*conn_);
  conn_->socket.shutdown(tcp::socket::shutdown_both, ec);
  conn_->socket.close(ec);
}

template <class Stream>
asio::awaitable<void> HttpSession<Stream>::Run() {
  Outcome outcome = Outcome::kKeepAlive;
  // One request per turn, in this one frame: a request answered at once costs no coroutine
  // frame of its own. Every way out of a turn but a kept-alive answer sets `outcome`.
  for (bool first = true; outcome == Outcome::kKeepAlive; first = false) {
    outcome = Outcome::kClose;
    // The request's first bytes.
    Connection& c = *conn_;
    if (c.buffer.size() != 0) {
      ArmDeadline(conn_, context_.options.header_timeout);  // pipelined: already buffered
      c.idle = false;
    } else {
      c.idle = true;
      if (!first) {
        // The answer has just gone out: the client's next request is seldom here yet. Reading now
        // would mostly answer EAGAIN and cost a second read once epoll reports it; the other ready
        // connections of this thread go first, which gives it the time to arrive.
        co_await asio::post(c.socket.get_executor(), asio::use_awaitable);
        if (c.timed_out) continue;
      }
      if (context_.shutting_down) continue;
      // The first request's header_timeout runs from the connect; a follow-up's from its first
      // byte.
      ArmDeadline(conn_, first ? context_.options.header_timeout : context_.options.idle_timeout);
      // A read straight from the socket; only when it has nothing yet, a wait for it (one
      // system call and no asynchronous read operation for a request already there).
      error_code ec;
      std::size_t n = 0;
      while (!ReadNow(n, ec)) {
        if constexpr (kTls) {
          std::tie(ec, n) =
              co_await stream_.async_read_some(c.buffer.prepare(kFirstReadBytes), kAwaitable);
          if (!ec) c.buffer.commit(n);
          break;
        } else {
          std::tie(ec) = co_await c.socket.async_wait(tcp::socket::wait_read, kAwaitable);
          if (ec || c.timed_out) break;
        }
      }
      if (ec || c.timed_out) continue;
      if (!first) ArmDeadline(conn_, context_.options.header_timeout);
      c.idle = false;
    }

    Exchange& exchange = exchange_;
    exchange.request_id.clear();
    exchange.method.clear();
    exchange.target.clear();
    exchange.version = 11;
    exchange.head_only = false;
    exchange.started = steady_clock::now();
    exchange.metrics = nullptr;
    Request& request = request_;
    RequestParser parser(request);
    parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(
        context_.options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    // The route's limit applies once it is known; Beast would otherwise check its default here.
    parser.body_limit(boost::none);
    {
      // The head is usually in the buffer whole by now: parsed without a read operation.
      error_code ec = ParseBufferedHead(parser, conn_->buffer);
      if (ec == bhttp::error::need_more && !conn_->timed_out) ec = co_await ReadHead(parser);
      if (ec || conn_->timed_out) {
        outcome = co_await AnswerReadError(ec, exchange);
        continue;
      }
    }
    // The body has a timeout of its own, from the end of the head.
    ArmDeadline(conn_, context_.options.read_timeout);

    FinishRequestHead(request, conn_->remote_address, kTls);
    exchange.request_id.assign(request.request_id);
    exchange.method.assign(request.method);
    exchange.target.assign(request.target);
    exchange.version = parser.Version();
    exchange.head_only = parser.Method() == bhttp::verb::head;
    exchange.metrics = context_.options.request_metrics;
    bool keep_alive = parser.keep_alive();
    const bool expects_continue =
        parser.Version() >= 11 && beast::iequals(request.headers.Get("Expect"), "100-continue");

    const std::string_view raw_path = TargetPath(request.target);
    if (raw_path.find_first_of(std::string_view("%\0", 2)) == std::string_view::npos) {
      request.path.assign(raw_path);  // nothing to decode: into the reused string
    } else {
      std::optional<std::string> path = PercentDecode(raw_path);
      if (!path) {
        outcome = co_await AnswerAndClose(
            Response::Error(400, "bad_request", "request path is not valid percent-encoding"),
            exchange, Outcome::kLingerThenClose);
        continue;
      }
      request.path = std::move(*path);
    }
    if (const std::string_view query = TargetQuery(request.target); !query.empty()) {
      request.query = ParseQuery(query);
    }

    Dispatch dispatch = Resolve(context_.resolver, request);
    if (!dispatch.handler) {
      outcome = co_await AnswerAndClose(Response::Error(500, "internal", "internal server error"),
                                        exchange, Outcome::kLingerThenClose);
      continue;
    }
    request.path_params = std::move(dispatch.path_params);
    if (dispatch.metrics != nullptr) exchange.metrics = dispatch.metrics;

    if (auto read_outcome =
            co_await ReadBody(parser, dispatch.body_limit, expects_continue, exchange)) {
      outcome = *read_outcome;
      continue;
    }
    DisarmDeadline(*conn_);

    // A fast answer (a file from the cache, say) costs no coroutine of its own.
    std::optional<Response> fast = RunFastHandler(dispatch, request);
    Response response;
    if (fast && !fast->deferred) {
      response = std::move(*fast);
    } else {
      response = co_await FinishDispatch(context_, dispatch, request, std::move(fast));
    }
    if (response.websocket && IsWebSocketUpgrade(request) && !context_.shutting_down) {
      const bhttp::request<bhttp::string_body> handshake = parser.ToBeast();
      co_await ServeWebSocket(conn_, stream_, handshake, std::move(response.websocket), exchange);
      continue;
    }
    // A handler's "Connection: close" ends the connection after this answer (RenderResponseHead
    // writes it; the loop has to stop too).
    keep_alive =
        keep_alive && !context_.shutting_down && !HasCloseToken(response.headers.Get("Connection"));
    bool written = false;
    if (!response.body_stream && !response.file_body) {
      // In memory (most answers): written from this frame, without WriteResponse's.
      std::size_t body_bytes = 0;
      std::array<asio::const_buffer, 2> buffers =
          StartAnswer(response, exchange, keep_alive, body_bytes);
      error_code ec;
      if (!WriteNow(buffers, /*more=*/false, ec)) {
        std::tie(ec, std::ignore) = co_await asio::async_write(stream_, buffers, kAwaitable);
      }
      written = EndAnswer(response, exchange, body_bytes, ec);
    } else {
      written = co_await WriteResponse(std::move(response), exchange, keep_alive);
    }
    if (written && keep_alive) outcome = Outcome::kKeepAlive;
  }
  if (outcome == Outcome::kLingerThenClose && conn_->socket.is_open()) co_await Linger();
  error_code ec;
  StopDeadline(*conn_);
  conn_->socket.shutdown(tcp::socket::shutdown_both, ec);
  conn_->socket.close(ec);
}

template <class Stream>
asio::awaitable<error_code> HttpSession<Stream>::ReadHead(RequestParser& parser) {
  Connection& c = *conn_;
  for (;;) {
    auto [ec, n] = co_await stream_.async_read_some(c.buffer.prepare(kFirstReadBytes), kAwaitable);
    if (ec == asio::error::eof) {
      // As Beast's read: a head cut short is a partial message, none at all the end of stream.
      error_code eof_ec;
      if (parser.got_some()) {
        parser.put_eof(eof_ec);
      } else {
        eof_ec = bhttp::error::end_of_stream;
      }
      co_return eof_ec ? eof_ec : bhttp::error::partial_message;
    }
    if (ec || c.timed_out) co_return ec;
    c.buffer.commit(n);
    ec = ParseBufferedHead(parser, c.buffer);
    if (ec != bhttp::error::need_more) co_return ec;
  }
}

template <class Stream>
asio::awaitable<std::optional<typename HttpSession<Stream>::Outcome>> HttpSession<Stream>::ReadBody(
    RequestParser& parser, std::size_t body_limit, bool expects_continue,
    const Exchange& exchange) {
  parser.body_limit(body_limit);
  const auto too_large = [body_limit] {
    return Response::Error(413, "payload_too_large",
                           fmt::format("request body exceeds {} bytes", body_limit));
  };
  // Refuse a declared oversize body up front, before the client is told to send it.
  if (const auto length = parser.content_length(); length && *length > body_limit) {
    co_return co_await AnswerAndClose(too_large(), exchange, Outcome::kLingerThenClose);
  }
  if (parser.is_done()) co_return std::nullopt;
  if (expects_continue) {
    // Beast leaves the interim response to us; curl waits for it before sending large bodies.
    bhttp::response<bhttp::empty_body> proceed{bhttp::status::continue_, exchange.version};
    auto [ec, n] = co_await bhttp::async_write(stream_, proceed, kAwaitable);
    if (ec || conn_->timed_out) co_return Outcome::kClose;
  }
  auto [ec, n] = co_await bhttp::async_read(stream_, conn_->buffer, parser, kAwaitable);
  if (ec == bhttp::error::body_limit && !conn_->timed_out) {
    co_return co_await AnswerAndClose(too_large(), exchange, Outcome::kLingerThenClose);
  }
  if (ec || conn_->timed_out) co_return co_await AnswerReadError(ec, exchange);
  co_return std::nullopt;
}

template <class Stream>
asio::awaitable<typename HttpSession<Stream>::Outcome> HttpSession<Stream>::AnswerReadError(
    const error_code& ec, const Exchange& exchange) {
  // Bytes of this request were read by now: a timeout deserves an answer.
  if (conn_->timed_out) {
    co_return co_await AnswerAndClose(
        Response::Error(408, "request_timeout", "request not received in time"), exchange,
        Outcome::kClose);
  }
  if (IsPeerGone(ec)) co_return Outcome::kClose;
  if (ec == bhttp::error::header_limit) {
    co_return co_await AnswerAndClose(
        Response::Error(
            431, "headers_too_large",
            fmt::format("request head exceeds {} bytes", context_.options.max_header_bytes)),
        exchange, Outcome::kLingerThenClose);
  }
  if (IsHttpParseError(ec)) {
    co_return co_await AnswerAndClose(Response::Error(400, "bad_request", "malformed HTTP request"),
                                      exchange, Outcome::kLingerThenClose);
  }
  spdlog::debug("connection from {}: read failed: {}", conn_->remote_address, ec.message());
  co_return Outcome::kClose;
}

template <class Stream>
asio::awaitable<typename HttpSession<Stream>::Outcome> HttpSession<Stream>::AnswerAndClose(
    Response response, const Exchange& exchange, Outcome outcome) {
  // The deadline may have fired already; the answer gets a fresh one.
  conn_->timed_out = false;
  Exchange answered = exchange;
  if (answered.request_id.empty()) answered.request_id = NewRequestId();
  if (!co_await WriteResponse(std::move(response), answered, /*keep_alive=*/false)) {
    co_return Outcome::kClose;
  }
  co_return outcome;
}

template <class Stream>
std::array<asio::const_buffer, 2> HttpSession<Stream>::StartAnswer(Response& response,
                                                                   const Exchange& exchange,
                                                                   bool keep_alive,
                                                                   std::size_t& body_bytes) {
  CheckStatus(response, exchange);
  const bool has_body = response.status != 204 && response.status != 304;
  const bool streamed = response.body_stream != nullptr;
  body_bytes = has_body && !streamed ? response.BodySize() : 0;
  // HEAD: the length of the body a GET would get, and no body. A stream goes out chunked.
  RenderResponseHead(conn_->head, response, exchange, keep_alive,
                     has_body && !streamed ? std::optional<std::size_t>(body_bytes) : std::nullopt,
                     has_body && streamed);
  // Large bodies get more time to drain to a slow client than a request head gets to arrive.
  ArmDeadline(conn_, context_.options.read_timeout + milliseconds(body_bytes / 64));
  // Head and body in one gather write; a shared body is sent from the cache's bytes.
  std::array<asio::const_buffer, 2> buffers{asio::buffer(conn_->head), asio::const_buffer()};
  if (has_body && !exchange.head_only && !streamed && !response.file_body) {
    const std::string_view body = response.BodyView();
    buffers[1] = asio::buffer(body.data(), body.size());
  }
  return buffers;
}

template <class Stream>
bool HttpSession<Stream>::EndAnswer(const Response& response, const Exchange& exchange,
                                    std::size_t body_bytes, const error_code& ec) {
  if (exchange.head_only) body_bytes = 0;
  const bool written = !ec && !conn_->timed_out;
  DisarmDeadline(*conn_);
  LogExchange(exchange, conn_->remote_address, response.status, body_bytes,
              written ? "" : "write failed");
  return written;
}

template <class Stream>
asio::awaitable<bool> HttpSession<Stream>::WriteResponse(Response response,
                                                         const Exchange& exchange,
                                                         bool keep_alive) {
  CheckStatus(response, exchange);
  if (response.body_stream && (exchange.version == 10 || exchange.head_only)) {
    if (exchange.head_only) {
      response.body_stream->Cancel();
      response.body_stream.reset();
    } else {
      co_await CollectBodyStream(context_, response);
    }
  }
  std::size_t body_bytes = 0;
  std::array<asio::const_buffer, 2> buffers =
      StartAnswer(response, exchange, keep_alive, body_bytes);
  const bool has_body = response.status != 204 && response.status != 304;
  error_code ec;
  if (response.body_stream) {
    if (has_body) {
      ec = co_await SendStream(response.body_stream, body_bytes);
    } else {
      response.body_stream->Cancel();
      std::tie(ec, std::ignore) = co_await asio::async_write(stream_, buffers[0], kAwaitable);
    }
  } else {
    // A file body follows its head: the head waits in the socket for the file's first bytes
    // (MSG_MORE), rather than going out as a packet of its own.
    const bool file_follows = has_body && !exchange.head_only && response.file_body;
    if (!WriteNow(buffers, file_follows, ec)) {
      std::tie(ec, std::ignore) = co_await asio::async_write(stream_, buffers, kAwaitable);
    }
    if (!ec && !conn_->timed_out && file_follows) {
      ec = co_await SendFile(*response.file_body);
    }
  }
  co_return EndAnswer(response, exchange, body_bytes, ec);
}

template <class Stream>
bool HttpSession<Stream>::WriteNow(std::array<asio::const_buffer, 2>& buffers, bool more,
                                   error_code& ec) {
  ec = {};
  if constexpr (kTls) {
    return false;
  } else {
    if (!MakeNonBlocking(conn_->socket, ec)) {
      ec = {};
      return false;
    }
    std::size_t written = conn_->socket.send(buffers, more ? MSG_MORE : 0, ec);
    if (IsTryAgain(ec)) {
      ec = {};
      written = 0;
    }
    if (ec) return true;
    for (asio::const_buffer& b : buffers) {
      const std::size_t taken = std::min(written, b.size());
      b += taken;
      written -= taken;
    }
    return asio::buffer_size(buffers) == 0;
  }
}

template <class Stream>
bool HttpSession<Stream>::ReadNow(std::size_t& n, error_code& ec) {
  ec = {};
  n = 0;
  if constexpr (kTls) {
    return false;
  } else {
    if (!MakeNonBlocking(conn_->socket, ec)) return true;
    n = conn_->socket.read_some(conn_->buffer.prepare(kFirstReadBytes), ec);
    if (IsTryAgain(ec)) {
      ec = {};
      return false;
    }
    if (!ec) conn_->buffer.commit(n);
    return true;
  }
}

template <class Stream>
asio::awaitable<error_code> HttpSession<Stream>::SendStream(std::shared_ptr<BodyStream> body,
                                                            std::size_t& sent) {
  auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(conn_->head), kAwaitable);
  (void)n;
  while (!ec && !conn_->timed_out) {
    // The function takes its time between pieces (bounded by its own timeout): no send
    // deadline meanwhile.
    DisarmDeadline(*conn_);
    std::optional<std::string> piece = co_await NextBodyPiece(context_, body);
    ArmDeadline(conn_, context_.options.read_timeout);
    if (!piece) {
      if (!body->Complete()) ec = asio::error::operation_aborted;
      break;
    }
    std::tie(ec, std::ignore) =
        co_await asio::async_write(stream_, bhttp::make_chunk(asio::buffer(*piece)), kAwaitable);
    sent += piece->size();
  }
  if (!ec && conn_->timed_out) ec = asio::error::timed_out;
  if (ec) {
    body->Cancel();
    co_return ec;
  }
  std::tie(ec, std::ignore) =
      co_await asio::async_write(stream_, bhttp::make_chunk_last(), kAwaitable);
  co_return ec;
}

template <class Stream>
asio::awaitable<error_code> HttpSession<Stream>::SendFile(const FileBody& file) {
  Connection& c = *conn_;
  // TLS encrypts in user space: the file goes through a buffer.
  if constexpr (kTls)
    co_return co_await CopyFile(file, static_cast<off_t>(file.offset), file.length);
  error_code ec;
  if (!MakeNonBlocking(c.socket, ec)) co_return ec;
  auto offset = static_cast<off_t>(file.offset);
  std::uint64_t remaining = file.length;
  std::uint64_t since_yield = 0;
  while (remaining > 0) {
    // The send timeout runs from the last progress: a reader that takes nothing for that long
    // is cut, one that keeps reading however slowly is not.
    ArmDeadline(conn_, context_.options.read_timeout);
    const std::size_t chunk =
        static_cast<std::size_t>(std::min<std::uint64_t>(remaining, kFileChunkBytes));
    const ssize_t n = ::sendfile(c.socket.native_handle(), file.Descriptor(), &offset, chunk);
    if (n > 0) {
      remaining -= static_cast<std::uint64_t>(n);
      since_yield += static_cast<std::uint64_t>(n);
      // A fast reader must not keep this I/O thread from the other connections.
      if (since_yield >= kFileBytesBeforeYield) {
        since_yield = 0;
        co_await asio::post(c.socket.get_executor(), asio::use_awaitable);
        if (c.timed_out) co_return asio::error::timed_out;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // Only what the socket's send buffer takes is handed over: backpressure is the kernel's.
      since_yield = 0;
      std::tie(ec) = co_await c.socket.async_wait(tcp::socket::wait_write, kAwaitable);
      if (ec) co_return ec;
      if (c.timed_out) co_return asio::error::timed_out;
      continue;
    }
    if (n < 0 && (errno == EINVAL || errno == ENOSYS))
      co_return co_await CopyFile(file, offset, remaining);
    // The file ended early (n == 0) or broke: the promised length cannot be kept.
    const int err = n == 0 ? EIO : errno;
    // The client went away (EPIPE, ECONNRESET): nothing wrong on this side.
    if (err == EPIPE || err == ECONNRESET) {
      spdlog::debug("connection from {}: gone during sendfile", c.remote_address);
    } else {
      spdlog::warn("connection from {}: sendfile failed: {}", c.remote_address, std::strerror(err));
    }
    co_return error_code(err, boost::system::system_category());
  }
  co_return error_code{};
}

template <class Stream>
asio::awaitable<error_code> HttpSession<Stream>::CopyFile(const FileBody& file, off_t offset,
                                                          std::uint64_t remaining) {
  Connection& c = *conn_;
  std::string buffer(static_cast<std::size_t>(std::min<std::uint64_t>(remaining, kFileChunkBytes)),
                     '\0');
  while (remaining > 0) {
    ArmDeadline(conn_, context_.options.read_timeout);
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(remaining, buffer.size()));
    const ssize_t n = ::pread(file.Descriptor(), buffer.data(), want, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) co_return error_code(n == 0 ? EIO : errno, boost::system::system_category());
    // One chunk in flight: the next is read only once the socket took this one.
    auto [ec, written] = co_await asio::async_write(
        stream_, asio::buffer(buffer.data(), static_cast<std::size_t>(n)), kAwaitable);
    if (ec) co_return ec;
    if (c.timed_out) co_return asio::error::timed_out;
    offset += n;
    remaining -= static_cast<std::uint64_t>(n);
  }
  co_return error_code{};
}

template <class Stream>
asio::awaitable<void> HttpSession<Stream>::Linger() {
  Connection& c = *conn_;
  c.idle = true;
  error_code ec;
  c.socket.shutdown(tcp::socket::shutdown_send, ec);
  if (ec || context_.shutting_down) co_return;
  ArmDeadline(conn_, std::min(kLingerTime, context_.options.read_timeout));
  std::size_t discarded = 0;
  while (discarded < kLingerBytes) {
    c.buffer.clear();
    auto [read_ec, n] =
        co_await stream_.async_read_some(c.buffer.prepare(kLingerChunkBytes), kAwaitable);
    if (read_ec || c.timed_out) break;
    discarded += n;
  }
}

template class HttpSession<tcp::socket>;
template class HttpSession<TlsStream>;

}  // namespace replideploy::http::server_internal
