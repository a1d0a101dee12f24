// One sandboxed Node.js process running our bootstrap for one function, and the server end of
// its AWS Lambda Runtime API.
//
// Transport: the sandbox has its own network namespace, so the Runtime API is a unix socket of
// this process alone (<run_dir>/api/runtime.sock, owned by the build user, mode 0600), bound
// read-only into the sandbox at kRuntimeApiDir. Only this process can reach it, so it can only
// ever fetch its own invocations. The HTTP spoken there is the small subset our bootstrap sends
// (Content-Length bodies, keep-alive); it is not a general HTTP server.
//
// One invocation at a time (the pool guarantees it). Thread-safe. Two threads per process: one
// blocked in SandboxRunner::Run for the process's life (its output goes to the server log), one
// serving the socket. The destructor kills the process and waits for both.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "core/unique_fd.hpp"
#include "functions/response_stream.hpp"
#include "sandbox/runner.hpp"

namespace replideploy::functions {

// Where the sandbox sees things.
inline constexpr std::string_view kTaskRoot = "/var/task";              // the bundle, read-only
inline constexpr std::string_view kRuntimeDir = "/var/runtime";         // bootstrap.mjs, read-only
inline constexpr std::string_view kRuntimeApiDir = "/var/runtime-api";  // runtime.sock

// One line of a function's log: what its process printed, or the platform's own line about it.
struct LogRecord {
  std::string_view site_id;
  std::string_view deploy_id;
  std::string_view function_name;
  std::string_view stream;      // "stdout", "stderr", "platform"
  std::int64_t ts = 0;          // Unix milliseconds
  std::string_view request_id;  // the call in flight when it was printed; may be empty
  std::string_view line;        // secrets masked
};
// Called on the process's threads (or the caller's): must not block (a queue, not a database).
using LogSink = std::function<void(const LogRecord&)>;

struct ProcessSpec {
  std::string function_name;
  std::string site_id;        // for the log
  std::string deploy_id;      // for the log
  std::string bundle_dir;     // host folder of the unpacked bundle
  std::string runtime_dir;    // host folder holding bootstrap.mjs
  std::string run_dir;        // host folder for this process alone; made and removed by it
  std::string node = "node";  // looked up in the sandbox's PATH
  std::vector<std::pair<std::string, std::string>> env;
  // Values replaced by "****" in the process's output (4 characters or longer).
  std::vector<std::string> secrets;
  sandbox::SandboxLimits limits;
  bool network = false;  // see sandbox::SandboxSpec::network
  // Gets every output line (masked) and a line when the process exits. Optional.
  LogSink on_log;
};

class FunctionProcess {
 public:
  enum class Outcome {
    kResponse,  // `payload` is the handler's answer (JSON)
    kError,     // the handler threw: `payload` is {errorMessage, errorType, stackTrace}
    kTimeout,   // no answer in time; the process was killed
    kCrashed,   // the process died or could not load the function (`payload`: init error)
    // a streamed response: `payload` is its prelude (JSON {statusCode, headers, ...}) and
    // `stream` brings the body as the function writes it. The process is busy until the
    // stream finished (and killed when it is cut short).
    kStream,
  };
  struct Answer {
    Outcome outcome = Outcome::kCrashed;
    std::string payload;
    std::shared_ptr<ResponseStream> stream;
  };

  // Starts the process (does not wait for it to be ready: the first Invoke does). Error when
  // the run folder or socket cannot be made.
  static Result<std::unique_ptr<FunctionProcess>> Start(sandbox::SandboxRunner& runner,
                                                        ProcessSpec spec);
  ~FunctionProcess();
  FunctionProcess(const FunctionProcess&) = delete;
  FunctionProcess& operator=(const FunctionProcess&) = delete;

  // Hands `event` to the function and waits for its answer until `deadline`.
  Answer Invoke(const std::string& request_id, const std::string& event,
                const std::string& client_context, std::chrono::steady_clock::time_point deadline);
  // False once the process exited or was killed.
  bool Alive() const;
  // `text` with this process's secrets masked.
  std::string Mask(std::string_view text) const;
  // Passes a platform line about this process to the spec's on_log (masked).
  void LogPlatformLine(std::string_view request_id, std::string_view text) const;
  void Kill();

 private:
  FunctionProcess(sandbox::SandboxRunner& runner, ProcessSpec spec);
  void RunSandbox();
  void ServeRuntimeApi();
  // Handles one request on `conn`; false to drop the connection.
  bool HandleRequest(int conn);
  bool HandleStreamedResponse(int conn, const std::string& id, const std::string& kind);

  sandbox::SandboxRunner& runner_;
  ProcessSpec spec_;
  core::UniqueFd listener_;
  std::stop_source stop_;

  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  bool exited_ = false;
  struct Pending {
    std::string id, event, client_context;
    std::int64_t deadline_ms = 0;
  };
  std::optional<Pending> pending_;  // waiting for the bootstrap's "next"
  std::string in_flight_;           // id the bootstrap is working on
  std::optional<Answer> answer_;
  std::string init_error_;
  std::string api_buffer_;  // bytes read past a request (the API thread's alone)

  std::thread sandbox_thread_;
  std::thread api_thread_;
};

}  // namespace replideploy::functions
