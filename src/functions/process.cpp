#include "functions/process.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "core/text.hpp"

namespace replideploy::functions {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kApiPrefix = "/2018-06-01/runtime";
// The bootstrap's own requests are small; an answer is at most a 6 MB body in base64 and JSON.
constexpr std::size_t kMaxApiRequest = std::size_t{10} << 20;

std::int64_t EpochMillis(std::chrono::steady_clock::time_point deadline) {
  const auto left = deadline - std::chrono::steady_clock::now();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             (std::chrono::system_clock::now() + left).time_since_epoch())
      .count();
}

// Every occurrence of a secret value (4 characters or longer) in `line` as "****" (the same
// rule as build logs).
std::string MaskSecrets(std::string_view line, const std::vector<std::string>& secrets) {
  std::string out(line);
  for (const std::string& secret : secrets) {
    if (secret.size() < 4) continue;
    for (auto pos = out.find(secret); pos != std::string::npos; pos = out.find(secret, pos + 4)) {
      out.replace(pos, secret.size(), "****");
    }
  }
  return out;
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool Reply(int fd, int status, std::string_view body,
           const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  std::string out =
      "HTTP/1.1 " + std::to_string(status) + (status < 300 ? " OK" : " Error") +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n";
  for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
  out += "\r\n";
  out += body;
  return WriteAll(fd, out);
}

struct ApiRequest {
  std::string method;
  std::string target;
  std::string body;
  // A streamed response (Lambda-Runtime-Function-Response-Mode: streaming, chunked): the body
  // is left on the socket for ReadChunk.
  bool streaming = false;
};

// Reads more of `fd` into `buffer`. While `stream` is null a request must come at once: a
// stalled one (5 s) is dropped. With a stream, waits as long as the stream is wanted and the
// process runs (the consumer's deadline bounds it).
bool Fill(int fd, std::string& buffer, const ResponseStream* stream, const std::stop_token& stop) {
  for (int waited = 0;; waited += 100) {
    if (stop.stop_requested() || (stream != nullptr && stream->cancelled())) return false;
    if (stream == nullptr && waited >= 5000) return false;
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, 100);
    if (n < 0 && errno != EINTR) return false;
    if (n > 0) break;
  }
  char chunk[64 * 1024];
  const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
  if (n <= 0) return false;
  buffer.append(chunk, static_cast<std::size_t>(n));
  return stream != nullptr || buffer.size() <= kMaxApiRequest;
}

// Reads one request from `fd` (`buffer` keeps bytes past it). Nullopt on EOF, error or a
// request we do not understand.
std::optional<ApiRequest> ReadApiRequest(int fd, std::string& buffer, const std::stop_token& stop) {
  std::size_t end;
  while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
    if (buffer.size() > 64 * 1024 || !Fill(fd, buffer, nullptr, stop)) return std::nullopt;
  }
  const std::string head = buffer.substr(0, end);
  buffer.erase(0, end + 4);
  ApiRequest req;
  const auto line_end = head.find("\r\n");
  const std::string line = head.substr(0, line_end);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) return std::nullopt;
  req.method = line.substr(0, sp1);
  req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::size_t length = 0;
  bool chunked = false;
  std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    auto next = head.find("\r\n", pos);
    if (next == std::string::npos) next = head.size();
    const std::string_view h(head.data() + pos, next - pos);
    pos = next + 2;
    const auto colon = h.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view v = h.substr(colon + 1);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    const std::string_view name = h.substr(0, colon);
    if (core::EqualsIgnoreCase(name, "content-length")) {
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), length);
      if (ec != std::errc() || length > kMaxApiRequest) return std::nullopt;
    } else if (core::EqualsIgnoreCase(name, "transfer-encoding")) {
      if (!core::EqualsIgnoreCase(v, "chunked")) return std::nullopt;
      chunked = true;
    } else if (core::EqualsIgnoreCase(name, "lambda-runtime-function-response-mode")) {
      req.streaming = core::EqualsIgnoreCase(v, "streaming");
    }
  }
  // Only a streamed response is chunked.
  if (chunked != req.streaming) return std::nullopt;
  if (req.streaming) return req;
  while (buffer.size() < length) {
    if (!Fill(fd, buffer, nullptr, stop)) return std::nullopt;
  }
  req.body = buffer.substr(0, length);
  buffer.erase(0, length);
  return req;
}

// The next piece of a chunked body: its data (empty at the last chunk, whose trailers go to
// `trailers`). Nullopt on EOF, a malformed chunk, or when the stream is no longer wanted.
std::optional<std::string> ReadChunk(int fd, std::string& buffer, const ResponseStream* stream,
                                     const std::stop_token& stop, std::string* trailers) {
  std::size_t eol;
  while ((eol = buffer.find("\r\n")) == std::string::npos) {
    if (buffer.size() > 1024 || !Fill(fd, buffer, stream, stop)) return std::nullopt;
  }
  std::string_view size_text(buffer.data(), eol);
  size_text = size_text.substr(0, size_text.find(';'));
  std::size_t size = 0;
  auto [p, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
  if (ec != std::errc() || p != size_text.data() + size_text.size() || size > (16U << 20)) {
    return std::nullopt;
  }
  buffer.erase(0, eol + 2);
  if (size == 0) {
    std::size_t end;
    while (!buffer.starts_with("\r\n") && (end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (buffer.size() > 64 * 1024 || !Fill(fd, buffer, stream, stop)) return std::nullopt;
    }
    if (buffer.starts_with("\r\n")) {
      buffer.erase(0, 2);
    } else {
      end = buffer.find("\r\n\r\n");
      if (trailers != nullptr) *trailers = buffer.substr(0, end);
      buffer.erase(0, end + 4);
    }
    return std::string();
  }
  while (buffer.size() < size + 2) {
    if (!Fill(fd, buffer, stream, stop)) return std::nullopt;
  }
  std::string data = buffer.substr(0, size);
  buffer.erase(0, size + 2);
  return data;
}

}  // namespace

FunctionProcess::FunctionProcess(sandbox::SandboxRunner& runner, ProcessSpec spec)
    : runner_(runner), spec_(std::move(spec)) {}

Result<std::unique_ptr<FunctionProcess>> FunctionProcess::Start(sandbox::SandboxRunner& runner,
                                                                ProcessSpec spec) {
  std::unique_ptr<FunctionProcess> p(new FunctionProcess(runner, std::move(spec)));
  const fs::path run(p->spec_.run_dir);
  std::error_code ec;
  fs::create_directories(run / "api", ec);
  if (!ec) fs::create_directories(run / "ws", ec);
  if (ec)
    return MakeError(ErrorCode::kInternal, "cannot make a function's folder: " + ec.message());
  ::chmod(run.c_str(), 0711);
  ::chmod((run / "api").c_str(), 0711);

  const std::string socket_path = (run / "api" / "runtime.sock").string();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    return MakeError(ErrorCode::kInternal, "the functions folder's path is too long for a socket");
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  p->listener_ = core::UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (p->listener_.get() < 0 ||
      ::bind(p->listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(p->listener_.get(), 4) != 0) {
    return MakeError(ErrorCode::kInternal,
                     std::string("cannot listen on a function's socket: ") + std::strerror(errno));
  }
  // Only the sandbox's user may connect (connecting needs write permission on the socket).
  if (geteuid() == 0) {
    auto user = sandbox::EnsureBuildUser("replideploy-build");
    if (!user.ok()) return std::move(user).error();
    if (::chown(socket_path.c_str(), user->uid, user->gid) != 0) {
      return MakeError(ErrorCode::kInternal, "cannot give a function's socket to its user");
    }
    RD_TRY_STATUS(sandbox::GiveTreeToUser((run / "ws").string(), *user));
  }
  ::chmod(socket_path.c_str(), 0600);

  p->sandbox_thread_ = std::thread([raw = p.get()] { raw->RunSandbox(); });
  p->api_thread_ = std::thread([raw = p.get()] { raw->ServeRuntimeApi(); });
  return p;
}

FunctionProcess::~FunctionProcess() {
  Kill();
  if (sandbox_thread_.joinable()) sandbox_thread_.join();
  if (api_thread_.joinable()) api_thread_.join();
  std::error_code ec;
  fs::remove_all(spec_.run_dir, ec);
}

void FunctionProcess::Kill() {
  stop_.request_stop();
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

std::string FunctionProcess::Mask(std::string_view text) const {
  return MaskSecrets(text, spec_.secrets);
}

void FunctionProcess::LogPlatformLine(std::string_view request_id, std::string_view text) const {
  if (!spec_.on_log) return;
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  const std::string masked = Mask(text);
  spec_.on_log(
      {spec_.site_id, spec_.deploy_id, spec_.function_name, "platform", now, request_id, masked});
}

bool FunctionProcess::Alive() const {
  std::lock_guard lock(mu_);
  return !exited_ && !stop_.stop_requested();
}

void FunctionProcess::RunSandbox() {
  sandbox::SandboxSpec spec;
  spec.argv = {spec_.node, std::string(kRuntimeDir) + "/bootstrap.mjs"};
  spec.workspace = spec_.run_dir + "/ws";
  spec.env = spec_.env;
  spec.env.emplace_back("LAMBDA_TASK_ROOT", std::string(kTaskRoot));
  spec.env.emplace_back("RD_RUNTIME_SOCKET", std::string(kRuntimeApiDir) + "/runtime.sock");
  spec.env.emplace_back("RD_FUNCTION_NAME", spec_.function_name);
  spec.env.emplace_back("AWS_LAMBDA_FUNCTION_NAME", spec_.function_name);
  spec.network = spec_.network;
  spec.limits = spec_.limits;
  spec.extra_binds = {{spec_.bundle_dir, std::string(kTaskRoot), false},
                      {spec_.runtime_dir, std::string(kRuntimeDir), false},
                      {spec_.run_dir + "/api", std::string(kRuntimeApiDir), false}};
  spec.stop = stop_.get_token();
  const std::string name = spec_.function_name;
  const std::vector<std::string>& secrets = spec_.secrets;
  auto result = runner_.Run(spec, [this, &name, &secrets](sandbox::OutputStream stream,
                                                          std::int64_t ts, std::string_view line) {
    // The bootstrap tags console lines with their call's id ("\x1e<id>\x1f<text>"); other
    // output goes to the call in flight when it is read.
    std::string request_id;
    bool tagged = false;
    if (line.starts_with('\x1e')) {
      const std::size_t end = line.find('\x1f');
      if (end != std::string_view::npos && end <= 65) {
        request_id = std::string(line.substr(1, end - 1));
        line.remove_prefix(end + 1);
        tagged = true;
      }
    }
    const std::string masked = MaskSecrets(line, secrets);
    spdlog::info("function {}: {}", name, masked);
    if (!spec_.on_log) return;
    if (!tagged) {
      std::lock_guard lock(mu_);
      request_id = in_flight_;
    }
    spec_.on_log({spec_.site_id, spec_.deploy_id, name, sandbox::OutputStreamName(stream), ts,
                  request_id, masked});
  });
  if (!result.ok()) {
    spdlog::error("function {}: cannot start its sandbox: {}", name, result.error().message);
    LogPlatformLine("", "the process could not start: " + result.error().message);
  } else if (!stop_.stop_requested() || result->limit != sandbox::LimitHit::kCancelled) {
    const std::string why =
        "process exited (" +
        (result->limit_message.empty() ? "exit code " + std::to_string(result->exit_code)
                                       : result->limit_message) +
        (result->signal ? ", signal " + std::to_string(result->signal) : "") + ")";
    spdlog::info("function {}: {}", name, why);
    LogPlatformLine("", why);
  }
  std::lock_guard lock(mu_);
  exited_ = true;
  cv_.notify_all();
}

void FunctionProcess::ServeRuntimeApi() {
  core::UniqueFd conn;
  const auto stop = stop_.get_token();
  while (!stop.stop_requested()) {
    {
      std::lock_guard lock(mu_);
      if (exited_) return;
    }
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {conn.get(), POLLIN, 0}};
    const int n = ::poll(fds, conn.get() >= 0 ? 2 : 1, 100);
    if (n <= 0) continue;
    if (fds[0].revents & POLLIN) {
      core::UniqueFd accepted(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (accepted.get() >= 0) {
        // The bootstrap keeps one connection; a new one replaces the old.
        conn = std::move(accepted);
        api_buffer_.clear();
      }
      continue;
    }
    if (conn.get() >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (!HandleRequest(conn.get())) {
        conn = core::UniqueFd();
        api_buffer_.clear();
      }
    }
  }
}

bool FunctionProcess::HandleRequest(int conn) {
  auto req = ReadApiRequest(conn, api_buffer_, stop_.get_token());
  if (!req) return false;
  const std::string target = req->target;
  if (req->method == "GET" && target == std::string(kApiPrefix) + "/invocation/next") {
    std::unique_lock lock(mu_);
    cv_.wait(lock, stop_.get_token(), [&] { return pending_.has_value() || exited_; });
    if (!pending_) return false;
    Pending p = std::move(*pending_);
    pending_.reset();
    in_flight_ = p.id;
    lock.unlock();
    return Reply(
        conn, 200, p.event,
        {{"Lambda-Runtime-Aws-Request-Id", p.id},
         {"Lambda-Runtime-Deadline-Ms", std::to_string(p.deadline_ms)},
         {"Lambda-Runtime-Invoked-Function-Arn", "arn:replideploy:function:" + spec_.function_name},
         {"Lambda-Runtime-Client-Context", p.client_context}});
  }
  if (req->method == "POST" && target == std::string(kApiPrefix) + "/init/error") {
    std::lock_guard lock(mu_);
    init_error_ = req->body;
    return Reply(conn, 202, "{\"status\":\"OK\"}");
  }
  const std::string invocation = std::string(kApiPrefix) + "/invocation/";
  if (req->method == "POST" && target.starts_with(invocation)) {
    const std::string rest = target.substr(invocation.size());
    const auto slash = rest.find('/');
    const std::string id = rest.substr(0, slash);
    const std::string kind = slash == std::string::npos ? "" : rest.substr(slash + 1);
    if (req->streaming) return HandleStreamedResponse(conn, id, kind);
    std::lock_guard lock(mu_);
    if (id.empty() || id != in_flight_ || (kind != "response" && kind != "error")) {
      return Reply(conn, 400, "{\"errorMessage\":\"unknown invocation\"}");
    }
    in_flight_.clear();
    answer_ = Answer{kind == "response" ? Outcome::kResponse : Outcome::kError, req->body};
    cv_.notify_all();
    return Reply(conn, 202, "{\"status\":\"OK\"}");
  }
  return Reply(conn, 404, "{\"errorMessage\":\"not found\"}");
}

// AWS's response streaming, as Netlify's functions use it: a chunked body that starts with
// the JSON prelude {statusCode, headers, multiValueHeaders, cookies}, then 8 NUL bytes, then the
// body as the function produces it; an error mid-way comes as the trailers
// Lambda-Runtime-Function-Error-Type / -Body.
bool FunctionProcess::HandleStreamedResponse(int conn, const std::string& id,
                                             const std::string& kind) {
  {
    std::lock_guard lock(mu_);
    if (id.empty() || id != in_flight_ || kind != "response") return false;
  }
  const std::stop_token stop = stop_.get_token();
  static constexpr std::string_view kSeparator("\0\0\0\0\0\0\0\0", 8);
  std::string head;
  std::size_t separator;
  while ((separator = head.find(kSeparator)) == std::string::npos) {
    auto piece = ReadChunk(conn, api_buffer_, nullptr, stop, nullptr);
    // A stream that ends before its prelude is not an answer: the bootstrap reports errors
    // on its own.
    if (!piece || piece->empty() || head.size() > (1U << 20)) return false;
    head += *piece;
  }
  auto stream = std::make_shared<ResponseStream>();
  std::string rest = head.substr(separator + kSeparator.size());
  head.resize(separator);
  {
    std::lock_guard lock(mu_);
    if (id != in_flight_) return false;
    answer_ = Answer{Outcome::kStream, std::move(head), stream};
    cv_.notify_all();
  }
  bool ok = stream->Push(std::move(rest));
  std::string trailers;
  while (ok) {
    auto piece = ReadChunk(conn, api_buffer_, stream.get(), stop, &trailers);
    if (!piece) {
      ok = false;
    } else if (piece->empty()) {
      break;
    } else {
      ok = stream->Push(std::move(*piece));
    }
  }
  if (!ok) {
    // Cut short (the client left, the deadline or the size cap, or a broken stream): the
    // function is still writing, so the process cannot take another call.
    stream->Finish(false, stream->cancelled() ? "cancelled" : "the stream broke off");
    Kill();
    return false;
  }
  for (char& c : trailers) c = core::AsciiLower(c);
  const bool failed = trailers.find("lambda-runtime-function-error-type") != std::string::npos;
  if (failed)
    spdlog::warn("function {}: streamed response failed: {}", spec_.function_name, trailers);
  stream->Finish(!failed, failed ? "the function failed while streaming" : "");
  {
    std::lock_guard lock(mu_);
    in_flight_.clear();
  }
  return Reply(conn, 202, "{\"status\":\"OK\"}");
}

FunctionProcess::Answer FunctionProcess::Invoke(const std::string& request_id,
                                                const std::string& event,
                                                const std::string& client_context,
                                                std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  if (exited_ || stop_.stop_requested()) return {Outcome::kCrashed, init_error_};
  answer_.reset();
  pending_ = Pending{request_id, event, client_context, EpochMillis(deadline)};
  cv_.notify_all();
  const bool done = cv_.wait_until(
      lock, deadline, [&] { return answer_.has_value() || exited_ || stop_.stop_requested(); });
  if (answer_) {
    Answer a = std::move(*answer_);
    answer_.reset();
    return a;
  }
  pending_.reset();
  if (!done) {
    lock.unlock();
    Kill();
    return {Outcome::kTimeout, ""};
  }
  return {Outcome::kCrashed, init_error_};
}

}  // namespace replideploy::functions
