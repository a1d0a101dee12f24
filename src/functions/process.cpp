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
};

// Reads one request from `fd` (`buffer` keeps bytes past it). Nullopt on EOF, error or a
// request we do not understand.
std::optional<ApiRequest> ReadApiRequest(int fd, std::string& buffer) {
  auto fill = [&]() {
    pollfd p{fd, POLLIN, 0};
    // The bootstrap writes a request at once; a stalled one is dropped.
    if (::poll(&p, 1, 5000) <= 0) return false;
    char chunk[64 * 1024];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
    return buffer.size() <= kMaxApiRequest;
  };
  std::size_t end;
  while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return std::nullopt;
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
  std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    auto next = head.find("\r\n", pos);
    if (next == std::string::npos) next = head.size();
    const std::string_view h(head.data() + pos, next - pos);
    pos = next + 2;
    const auto colon = h.find(':');
    if (colon == std::string_view::npos) continue;
    if (core::EqualsIgnoreCase(h.substr(0, colon), "content-length")) {
      std::string_view v = h.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), length);
      if (ec != std::errc() || length > kMaxApiRequest) return std::nullopt;
    } else if (core::EqualsIgnoreCase(h.substr(0, colon), "transfer-encoding")) {
      return std::nullopt;  // our bootstrap always sends Content-Length
    }
  }
  while (buffer.size() < length) {
    if (!fill()) return std::nullopt;
  }
  req.body = buffer.substr(0, length);
  buffer.erase(0, length);
  return req;
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
  auto result =
      runner_.Run(spec, [&name](sandbox::OutputStream, std::int64_t, std::string_view line) {
        spdlog::info("function {}: {}", name, line);
      });
  if (!result.ok()) {
    spdlog::error("function {}: cannot start its sandbox: {}", name, result.error().message);
  } else if (!stop_.stop_requested() || result->limit != sandbox::LimitHit::kCancelled) {
    spdlog::info("function {}: process exited ({}{})", name,
                 result->limit_message.empty() ? "exit code " + std::to_string(result->exit_code)
                                               : result->limit_message,
                 result->signal ? ", signal " + std::to_string(result->signal) : "");
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
  auto req = ReadApiRequest(conn, api_buffer_);
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
