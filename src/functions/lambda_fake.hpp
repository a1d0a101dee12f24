// Tests only: a fake of the AWS Lambda API on 127.0.0.1 (port 0), for LambdaRunner (AWS cannot be
// reached from the test machines). It speaks Lambda's wire format: CreateFunction (POST
// /2015-03-31/functions), GetFunction (GET /2015-03-31/functions/{name}) and Invoke (POST
// /2015-03-31/functions/{name}/invocations), with AWS's JSON errors ({"Type", "message"} and the
// x-amzn-ErrorType header: 403 InvalidSignatureException, 409 ResourceConflictException, 404
// ResourceNotFoundException, 429 TooManyRequestsException).
//
// Every request's Authorization header is checked by signing the request again with the known
// secret (core/sigv4, itself checked against AWS's published vectors): the headers it names in
// SignedHeaders, the SHA-256 of the body received, region and service "lambda". A mismatch is 403.
//
// Invoke runs the uploaded zip for real: unpacked (UnpackBundle) into a temporary folder, `node`
// imports the module the Handler names and calls handler(event, context) with the client context
// decoded from X-Amz-Client-Context; a thrown error is 200 with X-Amz-Function-Error: Unhandled
// and {"errorType", "errorMessage", "trace"}, as Lambda answers. Event invocations are recorded
// and answered 202 without running.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/crypto.hpp"
#include "core/sigv4.hpp"
#include "core/subprocess.hpp"
#include "functions/bundle.hpp"

namespace replideploy::functions::testing {

class FakeLambda {
 public:
  static constexpr const char* kAccessKey = "AKIDEXAMPLE";
  static constexpr const char* kSecretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  static constexpr const char* kRegion = "us-east-1";

  struct Function {
    std::string zip;
    std::string handler;
    std::string runtime;
    std::string role;
    int timeout = 0;
    boost::json::object variables;
    int gets = 0;  // GetFunction calls (the first answers State Pending)
  };
  struct Invocation {
    std::string function_name;
    std::string type;            // X-Amz-Invocation-Type
    std::string client_context;  // decoded
    std::string event;
  };

  explicit FakeLambda(std::string work_dir) : work_dir_(std::move(work_dir)) {
    std::filesystem::create_directories(work_dir_);
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 16);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }

  ~FakeLambda() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    {
      std::lock_guard lock(mu_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : connections_) t.join();
    for (int fd : open_fds_) ::close(fd);
    ::close(listen_fd_);
    std::error_code ec;
    std::filesystem::remove_all(work_dir_, ec);
  }

  std::string Endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  int Creates() {
    std::lock_guard lock(mu_);
    return creates_;
  }
  int Rejected() {  // requests refused for their signature
    std::lock_guard lock(mu_);
    return rejected_;
  }
  std::vector<Invocation> Invocations() {
    std::lock_guard lock(mu_);
    return invocations_;
  }
  std::map<std::string, Function> Functions() {
    std::lock_guard lock(mu_);
    return functions_;
  }
  void ThrottleNextInvoke() {
    std::lock_guard lock(mu_);
    throttle_ = true;
  }
  void DeleteFunctions() {
    std::lock_guard lock(mu_);
    functions_.clear();
  }

 private:
  struct Request {
    std::string method, target;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    std::string body;
    std::string Header(std::string_view name) const {
      for (const auto& [k, v] : headers) {
        if (k == name) return v;
      }
      return {};
    }
  };
  struct Answer {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
  };

  static Answer Error(int status, const std::string& type, const std::string& message) {
    Answer a;
    a.status = status;
    a.headers = {{"Content-Type", "application/json"}, {"x-amzn-ErrorType", type}};
    a.body = boost::json::serialize(boost::json::object{{"Type", "User"}, {"message", message}});
    return a;
  }

  void Accept() {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0 || stopping_) {
        if (fd >= 0) ::close(fd);
        return;
      }
      std::lock_guard lock(mu_);
      open_fds_.push_back(fd);
      connections_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  // HTTP/1.1 with keep-alive and Content-Length bodies (what libcurl sends here).
  void Serve(int fd) {
    std::string buffer;
    char chunk[65536];
    for (;;) {
      std::size_t end;
      while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) return;
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
      Request req;
      std::string_view head(buffer.data(), end);
      const auto first = head.find("\r\n");
      std::string_view line = head.substr(0, first);
      req.method = std::string(line.substr(0, line.find(' ')));
      line.remove_prefix(line.find(' ') + 1);
      req.target = std::string(line.substr(0, line.find(' ')));
      std::size_t length = 0;
      for (std::size_t pos = first; pos != std::string_view::npos && pos < head.size();) {
        const auto next = head.find("\r\n", pos + 2);
        std::string_view h = head.substr(
            pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
        pos = next;
        const auto colon = h.find(':');
        if (colon == std::string_view::npos) continue;
        std::string name(h.substr(0, colon));
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string_view value = h.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        if (name == "content-length") length = std::stoul(std::string(value));
        if (name == "expect") Write(fd, "HTTP/1.1 100 Continue\r\n\r\n");
        req.headers.emplace_back(name, std::string(value));
      }
      buffer.erase(0, end + 4);
      while (buffer.size() < length) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) return;
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
      req.body = buffer.substr(0, length);
      buffer.erase(0, length);
      const Answer a = Handle(req);
      std::string out = "HTTP/1.1 " + std::to_string(a.status) + " X\r\n";
      for (const auto& [k, v] : a.headers) out += k + ": " + v + "\r\n";
      out += "x-amzn-RequestId: fake-" + std::to_string(a.status) + "\r\n";
      out += "Content-Length: " + std::to_string(a.body.size()) + "\r\n\r\n" + a.body;
      if (!Write(fd, out)) return;
    }
  }

  static bool Write(int fd, std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Signs `req` again (the headers its Authorization names) and compares.
  static bool SignatureMatches(const Request& req) {
    const std::string auth = req.Header("authorization");
    auto field = [&auth](std::string_view key) -> std::string {
      const auto at = auth.find(key);
      if (at == std::string::npos) return {};
      const auto start = at + key.size();
      return auth.substr(start, auth.find_first_of(", ", start) - start);
    };
    const std::string credential = field("Credential=");
    const std::string signed_headers = field("SignedHeaders=");
    const std::string date = req.Header("x-amz-date");
    if (!auth.starts_with("AWS4-HMAC-SHA256 ") || date.size() < 8 ||
        credential != std::string(kAccessKey) + "/" + date.substr(0, 8) + "/" + kRegion +
                          "/lambda/aws4_request" ||
        signed_headers.find("host") == std::string::npos ||
        signed_headers.find("x-amz-date") == std::string::npos) {
      return false;
    }
    core::SigV4Request sig;
    sig.method = req.method;
    sig.path = req.target.substr(0, req.target.find('?'));
    sig.payload_sha256 = core::Sha256Hex(req.body);
    std::string_view names = signed_headers;
    while (!names.empty()) {
      const auto semi = names.find(';');
      const std::string name(names.substr(0, semi));
      names = semi == std::string_view::npos ? std::string_view() : names.substr(semi + 1);
      sig.headers.emplace_back(name, req.Header(name));
    }
    const core::SigV4Credentials creds{kAccessKey, kSecretKey, ""};
    const std::string expected = core::SigV4Authorization(sig, creds, kRegion, "lambda");
    const auto mark = expected.find("Signature=");
    return auth.find(expected.substr(mark)) != std::string::npos;
  }

  Answer Handle(const Request& req) {
    if (!SignatureMatches(req)) {
      std::lock_guard lock(mu_);
      ++rejected_;
      return Error(403, "InvalidSignatureException",
                   "The request signature we calculated does not match the signature you "
                   "provided. Check your AWS Secret Access Key and signing method.");
    }
    const std::string api = "/2015-03-31/functions";
    if (req.method == "POST" && req.target == api) return CreateFunction(req);
    if (!req.target.starts_with(api + "/")) return Error(404, "UnknownOperationException", "?");
    std::string name = req.target.substr(api.size() + 1);
    const bool invoke = name.ends_with("/invocations");
    if (invoke) name.erase(name.size() - std::string_view("/invocations").size());
    std::unique_lock lock(mu_);
    auto it = functions_.find(name);
    if (it == functions_.end()) {
      return Error(404, "ResourceNotFoundException", "Function not found: " + name);
    }
    if (req.method == "GET" && !invoke) {
      const char* state = it->second.gets++ == 0 ? "Pending" : "Active";
      Answer a;
      a.headers = {{"Content-Type", "application/json"}};
      a.body = boost::json::serialize(boost::json::object{
          {"Configuration", boost::json::object{{"FunctionName", name}, {"State", state}}}});
      return a;
    }
    if (req.method != "POST" || !invoke) return Error(404, "UnknownOperationException", "?");
    if (throttle_) {
      throttle_ = false;
      return Error(429, "TooManyRequestsException", "Rate Exceeded.");
    }
    Invocation call{name, req.Header("x-amz-invocation-type"), "", req.body};
    if (auto decoded = core::Base64Decode(req.Header("x-amz-client-context")); decoded.ok()) {
      call.client_context = decoded.value();
    }
    invocations_.push_back(call);
    if (call.type == "Event") {
      Answer a;
      a.status = 202;
      return a;
    }
    const Function fn = it->second;
    const int n = static_cast<int>(invocations_.size());
    lock.unlock();
    return Run(fn, call, work_dir_ + "/call-" + std::to_string(n));
  }

  Answer CreateFunction(const Request& req) {
    boost::json::error_code ec;
    const boost::json::value v = boost::json::parse(req.body, ec);
    if (ec || !v.is_object()) return Error(400, "InvalidParameterValueException", "bad JSON");
    const auto& o = v.as_object();
    auto str = [&o](const char* key) -> std::string {
      const auto* x = o.if_contains(key);
      return x && x->is_string() ? std::string(x->as_string()) : std::string();
    };
    Function fn;
    fn.handler = str("Handler");
    fn.runtime = str("Runtime");
    fn.role = str("Role");
    const std::string name = str("FunctionName");
    const auto* code = o.if_contains("Code");
    const auto* zip =
        code && code->is_object() ? code->as_object().if_contains("ZipFile") : nullptr;
    auto decoded = zip && zip->is_string()
                       ? core::Base64Decode(zip->as_string())
                       : Result<std::string>(MakeError(ErrorCode::kBadRequest, ""));
    if (name.empty() || fn.handler.empty() || fn.runtime != "nodejs20.x" ||
        !fn.role.starts_with("arn:aws:iam::") || !decoded.ok()) {
      return Error(400, "InvalidParameterValueException", "missing or bad parameters");
    }
    fn.zip = std::move(decoded).value();
    if (const auto* t = o.if_contains("Timeout"); t && t->is_int64()) {
      fn.timeout = static_cast<int>(t->as_int64());
    }
    if (const auto* env = o.if_contains("Environment"); env && env->is_object()) {
      if (const auto* vars = env->as_object().if_contains("Variables"); vars && vars->is_object()) {
        fn.variables = vars->as_object();
      }
    }
    std::lock_guard lock(mu_);
    if (functions_.contains(name)) {
      return Error(409, "ResourceConflictException", "Function already exist: " + name);
    }
    functions_[name] = fn;
    ++creates_;
    Answer a;
    a.status = 201;
    a.headers = {{"Content-Type", "application/json"}};
    a.body =
        boost::json::serialize(boost::json::object{{"FunctionName", name}, {"State", "Pending"}});
    return a;
  }

  // What Lambda's Node.js runtime does with the Handler "file.export".
  static constexpr const char* kDriver = R"js(
import path from 'node:path';
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
const [dir, spec, eventFile] = process.argv.slice(2);
const dot = spec.lastIndexOf('.');
const base = path.join(dir, spec.slice(0, dot));
const file = ['.mjs', '.js', '.cjs'].map((e) => base + e).find((p) => fs.existsSync(p));
const out = (v) => fs.writeSync(3, JSON.stringify(v));
try {
  const mod = await import(pathToFileURL(file).href);
  const cc = process.env.FAKE_CLIENT_CONTEXT;
  const context = {
    awsRequestId: 'fake-request', functionName: 'fake',
    clientContext: cc ? JSON.parse(cc) : undefined,
    getRemainingTimeInMillis: () => 10000,
  };
  const result = await mod[spec.slice(dot + 1)](JSON.parse(fs.readFileSync(eventFile, 'utf8')), context);
  out(result);
} catch (e) {
  out({ errorType: e?.name || 'Error', errorMessage: e?.message || String(e), trace: String(e?.stack || '').split('\n') });
  process.exitCode = 1;
}
)js";

  Answer Run(const Function& fn, const Invocation& call, const std::string& dir) {
    Answer a;
    a.headers = {{"Content-Type", "application/json"}};
    std::filesystem::create_directories(dir);
    if (auto unpacked = UnpackBundle(fn.zip, dir + "/task"); !unpacked.ok()) {
      return Error(502, "InvalidZipFileException", unpacked.error().message);
    }
    const std::string driver = dir + "/driver.mjs";
    const std::string event = dir + "/event.json";
    const std::string result = dir + "/result.json";
    WriteFile(driver, kDriver);
    WriteFile(event, call.event);
    core::ProcessSpec spec;
    spec.argv = {"node", driver, dir + "/task", fn.handler, event};
    spec.cwd = dir + "/task";
    spec.extra_env = {"LAMBDA_TASK_ROOT=" + dir + "/task",
                      "FAKE_CLIENT_CONTEXT=" + call.client_context};
    for (const auto& [k, v] : fn.variables) {
      spec.extra_env.push_back(std::string(k) + "=" + std::string(v.as_string()));
    }
    // The result on fd 3, so the function's console.log does not mix with it.
    const int out = ::open(result.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    spec.extra_fds.push_back({out, 3});
    spec.timeout = std::chrono::seconds(60);
    auto ran = core::RunProcess(spec);
    ::close(out);
    a.body = ReadFile(result);
    if (!ran.ok() || !ran->Succeeded()) {
      a.headers.emplace_back("X-Amz-Function-Error", "Unhandled");
      if (a.body.empty()) a.body = R"({"errorType":"Runtime.ExitError","errorMessage":"exited"})";
    }
    return a;
  }

  static void WriteFile(const std::string& path, std::string_view data) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    (void)!::write(fd, data.data(), data.size());
    ::close(fd);
  }
  static std::string ReadFile(const std::string& path) {
    std::string out;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    char buf[65536];
    ssize_t n;
    while (fd >= 0 && (n = ::read(fd, buf, sizeof buf)) > 0)
      out.append(buf, static_cast<std::size_t>(n));
    if (fd >= 0) ::close(fd);
    return out;
  }

  std::string work_dir_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> open_fds_;
  std::vector<std::thread> connections_;
  std::map<std::string, Function> functions_;
  std::vector<Invocation> invocations_;
  int creates_ = 0;
  int rejected_ = 0;
  bool throttle_ = false;
};

}  // namespace replideploy::functions::testing
