#include "functions/runtime.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/ids.hpp"
#include "core/metrics.hpp"
#include "core/text.hpp"
#include "functions/bundle.hpp"

namespace replideploy::functions {

namespace fs = std::filesystem;

struct FunctionRuntime::Pool {
  std::string function_name;
  std::string bundle_dir;
  std::mutex mu;
  std::condition_variable cv;
  struct Idle {
    std::unique_ptr<FunctionProcess> process;
    std::chrono::steady_clock::time_point since;
  };
  std::vector<Idle> idle;
  std::vector<FunctionProcess*> busy;
  int total = 0;  // idle + busy + starting
  int waiting = 0;
};

class FunctionRuntime::SiteSlot {
 public:
  SiteSlot(FunctionRuntime& runtime, std::string site_id)
      : runtime_(runtime), site_id_(std::move(site_id)) {}
  ~SiteSlot() { runtime_.LeaveSite(site_id_); }
  SiteSlot(const SiteSlot&) = delete;
  SiteSlot& operator=(const SiteSlot&) = delete;

 private:
  FunctionRuntime& runtime_;
  std::string site_id_;
};

namespace {

// "TypeError: x is not a function" from the bootstrap's {errorType, errorMessage}, or the text.
std::string ErrorSummary(std::string_view payload) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(payload, ec);
  if (!ec && v.is_object()) {
    const auto& o = v.get_object();
    const auto* type = o.if_contains("errorType");
    const auto* message = o.if_contains("errorMessage");
    if (message != nullptr && message->is_string()) {
      std::string out =
          type != nullptr && type->is_string() ? std::string(type->get_string()) : "Error";
      return out + ": " + std::string(message->get_string());
    }
  }
  return std::string(payload.substr(0, 1000));
}

FunctionResponse TextResponse(int status, std::string text) {
  FunctionResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "text/plain; charset=utf-8"}, {"Cache-Control", "no-store"}};
  r.body = std::move(text);
  return r;
}

// {"error":{"code":...,"message":...}}, as the API's errors.
FunctionResponse JsonErrorResponse(int status, std::string_view code, std::string_view message) {
  FunctionResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}};
  r.body = boost::json::serialize(
      boost::json::object{{"error", boost::json::object{{"code", code}, {"message", message}}}});
  return r;
}

// The folders above `dir` need the search bit for the sandbox user's bwrap to reach the binds.
void MakeReachable(const fs::path& dir) {
  if (geteuid() != 0) return;
  std::error_code ec;
  for (fs::path d = fs::absolute(dir, ec); !d.empty() && d != d.root_path(); d = d.parent_path()) {
    const auto perms = fs::status(d, ec).permissions();
    if (ec || (perms & fs::perms::others_exec) != fs::perms::none) continue;
    fs::permissions(d, fs::perms::others_exec, fs::perm_options::add, ec);
  }
}

}  // namespace

std::string SecondsText(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  return std::to_string(d.count()) + " ms";
}

sandbox::SandboxLimits RuntimeOptions::DefaultLimits() {
  sandbox::SandboxLimits l;
  l.wall_time = std::chrono::hours(12);
  l.memory_bytes = std::int64_t{1024} << 20;
  l.max_processes = 64;
  l.max_output_bytes = std::int64_t{256} << 20;
  l.tmp_bytes = std::int64_t{64} << 20;
  l.max_file_bytes = std::int64_t{64} << 20;
  l.max_open_files = 1024;
  return l;
}

sandbox::BubblewrapOptions SandboxOptions(sandbox::BubblewrapOptions builds, bool network) {
  builds.egress.mode = network ? sandbox::NetworkMode::kPublic : sandbox::NetworkMode::kNone;
  builds.spare_networks = network ? 1 : 0;
  builds.keep_spares = true;
  builds.network_setting = "--functions-network";
  return builds;
}

FunctionRuntime::FunctionRuntime(store::BlobStore& blobs, sandbox::SandboxRunner& runner,
                                 RuntimeOptions options)
    : blobs_(blobs), runner_(runner), options_(std::move(options)) {
  const fs::path root = fs::absolute(options_.root_dir);
  std::error_code ec;
  // Run folders of processes a previous server left behind.
  fs::remove_all(root / "run", ec);
  for (const char* sub : {"bundles", "run", "runtime"}) {
    fs::create_directories(root / sub, ec);
    ::chmod((root / sub).c_str(), 0711);
  }
  ::chmod(root.c_str(), 0711);
  MakeReachable(root);
  runtime_dir_ = (root / "runtime").string();
  const fs::path script = root / "runtime" / "bootstrap.mjs";
  {
    std::ofstream out(script.string() + ".tmp", std::ios::binary | std::ios::trunc);
    out << BootstrapScript();
  }
  fs::rename(script.string() + ".tmp", script, ec);
  ::chmod(script.c_str(), 0644);
  if (ec) spdlog::error("functions: cannot write {}: {}", script.string(), ec.message());
  reaper_ = std::jthread([this](std::stop_token stop) {
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lock(m);
    while (!cv.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; })) {
      if (stop.stop_requested()) break;
      ReapIdle();
    }
  });
}

FunctionRuntime::~FunctionRuntime() {
  reaper_.request_stop();
  if (reaper_.joinable()) reaper_.join();
  Shutdown();
}

void FunctionRuntime::Shutdown() {
  std::vector<std::unique_ptr<FunctionProcess>> doomed;
  {
    std::lock_guard lock(mu_);
    {
      std::lock_guard closing_lock(closing_mu_);
      closing_ = true;
    }
    for (auto& [key, pool] : pools_) {
      std::lock_guard pool_lock(pool->mu);
      for (auto& idle : pool->idle) doomed.push_back(std::move(idle.process));
      pool->total -= static_cast<int>(pool->idle.size());
      pool->idle.clear();
      for (FunctionProcess* p : pool->busy) p->Kill();
      pool->cv.notify_all();
    }
  }
  {
    std::lock_guard sites_lock(sites_mu_);
    sites_cv_.notify_all();
  }
  for (auto& p : doomed) p->Kill();
  doomed.clear();
}

Result<std::shared_ptr<FunctionRuntime::SiteSlot>> FunctionRuntime::EnterSite(
    const std::string& site_id, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(sites_mu_);
  SiteLoad& load = sites_[site_id];  // stays put: only LeaveSite erases, when nobody waits
  if (load.running >= options_.max_per_site) {
    if (load.waiting >= options_.max_queue) {
      if (load.running == 0) sites_.erase(site_id);
      Error e =
          MakeError(ErrorCode::kRateLimited, "too many calls of this site's functions at once");
      e.detail_code = "site_limit";
      return e;
    }
    ++load.waiting;
    const bool freed = sites_cv_.wait_until(
        lock, deadline, [&] { return load.running < options_.max_per_site || Closing(); });
    --load.waiting;
    if (!freed || Closing()) {
      if (load.running == 0 && load.waiting == 0) sites_.erase(site_id);
      Error e =
          MakeError(ErrorCode::kUnavailable, freed ? "the functions runtime is shutting down"
                                                   : "no slot of the site became free in time");
      if (!freed) e.detail_code = "queue_timeout";
      return e;
    }
  }
  ++load.running;
  return std::make_shared<SiteSlot>(*this, site_id);
}

void FunctionRuntime::LeaveSite(const std::string& site_id) {
  std::lock_guard lock(sites_mu_);
  auto it = sites_.find(site_id);
  if (it == sites_.end()) return;
  --it->second.running;
  if (it->second.running == 0 && it->second.waiting == 0) {
    sites_.erase(it);
  } else {
    sites_cv_.notify_all();
  }
}

std::size_t FunctionRuntime::SiteWaitingCountForTest() {
  std::lock_guard lock(sites_mu_);
  std::size_t n = 0;
  for (const auto& [site, load] : sites_) n += static_cast<std::size_t>(load.waiting);
  return n;
}

std::size_t FunctionRuntime::BusyCountForTest() {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (auto& [key, pool] : pools_) {
    std::lock_guard pool_lock(pool->mu);
    n += pool->busy.size();
  }
  return n;
}

std::size_t FunctionRuntime::WaitingCountForTest() {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (auto& [key, pool] : pools_) {
    std::lock_guard pool_lock(pool->mu);
    n += static_cast<std::size_t>(pool->waiting);
  }
  return n;
}

void FunctionRuntime::ReapIdle() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<FunctionProcess>> doomed;
  {
    std::lock_guard lock(mu_);
    for (auto it = pools_.begin(); it != pools_.end();) {
      Pool& pool = *it->second;
      bool unused = false;
      {
        std::lock_guard pool_lock(pool.mu);
        std::erase_if(pool.idle, [&](Pool::Idle& idle) {
          if (now - idle.since < options_.idle_timeout && idle.process->Alive()) return false;
          doomed.push_back(std::move(idle.process));
          --pool.total;
          return true;
        });
        // use_count 1: no call or Warm holds it (they take it under mu_, held here), so none
        // can start a process in a pool that is no longer listed.
        unused = pool.total == 0 && pool.waiting == 0 && it->second.use_count() == 1;
      }
      // Erased with its mutex unlocked.
      it = unused ? pools_.erase(it) : std::next(it);
    }
  }
  for (auto& p : doomed) p->Kill();
  doomed.clear();  // joins their threads, outside every lock
}

bool FunctionRuntime::Closing() {
  std::lock_guard lock(closing_mu_);
  return closing_;
}

std::size_t FunctionRuntime::ProcessCountForTest() {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (auto& [key, pool] : pools_) {
    std::lock_guard pool_lock(pool->mu);
    n += static_cast<std::size_t>(pool->total);
  }
  return n;
}

Result<std::string> FunctionRuntime::BundleDir(const std::string& sha256) {
  if (sha256.size() != 64 || !core::IsLowerHex(sha256)) {
    return MakeError(ErrorCode::kInternal, "bad bundle digest");
  }
  const fs::path dir = fs::path(options_.root_dir) / "bundles" / sha256;
  std::lock_guard lock(bundles_mu_);
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return fs::absolute(dir).string();
  RD_TRY(std::string zip, blobs_.Read(sha256, store::Variant::kIdentity));
  RD_TRY_STATUS(UnpackBundle(zip, dir.string()));
  return fs::absolute(dir).string();
}

std::shared_ptr<FunctionRuntime::Pool> FunctionRuntime::PoolFor(const FunctionRequest& request) {
  const std::string key = request.deploy_id + "/" + request.function_name;
  std::lock_guard lock(mu_);
  auto& pool = pools_[key];
  if (!pool) {
    pool = std::make_shared<Pool>();
    pool->function_name = request.function_name;
  }
  return pool;
}

Result<std::unique_ptr<FunctionProcess>> FunctionRuntime::StartProcess(
    const std::string& function_name, const std::string& bundle_dir,
    const FunctionRequest& request) {
  ProcessSpec spec;
  spec.function_name = function_name;
  spec.site_id = request.site_id;
  spec.deploy_id = request.deploy_id;
  spec.on_log = options_.on_log;
  spec.bundle_dir = bundle_dir;
  spec.runtime_dir = runtime_dir_;
  spec.run_dir = (fs::absolute(options_.root_dir) / "run" / core::NewHexId()).string();
  spec.node = options_.node;
  spec.limits = options_.limits;
  spec.network = options_.network;
  RD_TRY(FunctionEnvironment env, options_.environment
                                      ? options_.environment(request)
                                      : Result<FunctionEnvironment>(FunctionEnvironment{}));
  spec.env = std::move(env.vars);
  spec.secrets = std::move(env.secrets);
  return FunctionProcess::Start(runner_, std::move(spec));
}

Status FunctionRuntime::Warm(const FunctionRequest& request) {
  RD_TRY(std::string bundle, BundleDir(request.bundle_sha256));
  std::shared_ptr<Pool> pool = PoolFor(request);
  {
    std::lock_guard lock(pool->mu);
    pool->bundle_dir = bundle;
    if (pool->total > 0 || Closing()) return {};  // warm already (or starting, or busy)
    ++pool->total;
  }
  auto started = StartProcess(request.function_name, bundle, request);
  std::lock_guard lock(pool->mu);
  if (!started.ok()) {
    --pool->total;
    pool->cv.notify_one();
    return std::move(started).error();
  }
  if (Closing()) {
    (*started)->Kill();
    --pool->total;
    return {};
  }
  pool->idle.push_back({std::move(started).value(), std::chrono::steady_clock::now()});
  pool->cv.notify_one();  // a call may be waiting for it
  return {};
}

Result<std::unique_ptr<FunctionProcess>> FunctionRuntime::Acquire(
    Pool& pool, const FunctionRequest& request, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(pool.mu);
  bool queued = false;
  for (;;) {
    if (Closing()) {
      if (queued) --pool.waiting;
      return MakeError(ErrorCode::kUnavailable, "the functions runtime is shutting down");
    }
    while (!pool.idle.empty()) {
      auto process = std::move(pool.idle.back().process);
      pool.idle.pop_back();
      if (process->Alive()) {
        if (queued) --pool.waiting;
        pool.busy.push_back(process.get());
        return process;
      }
      --pool.total;
      lock.unlock();
      process.reset();
      lock.lock();
    }
    if (pool.total < options_.max_processes) {
      ++pool.total;
      if (queued) --pool.waiting;
      const std::string bundle_dir = pool.bundle_dir;
      lock.unlock();
      auto started = StartProcess(pool.function_name, bundle_dir, request);
      std::lock_guard relock(pool.mu);
      if (!started.ok()) {
        --pool.total;
        pool.cv.notify_one();
      } else {
        pool.busy.push_back(started->get());
        // Shutdown ran while it started: it did not see this process.
        if (Closing()) (*started)->Kill();
      }
      return started;
    }
    if (!queued) {
      if (pool.waiting >= options_.max_queue) {
        return MakeError(ErrorCode::kRateLimited, "too many calls of this function at once");
      }
      ++pool.waiting;
      queued = true;
    }
    if (pool.cv.wait_until(lock, deadline) == std::cv_status::timeout) {
      --pool.waiting;
      Error e =
          MakeError(ErrorCode::kUnavailable, "no process of the function became free in time");
      e.detail_code = "queue_timeout";
      return e;
    }
  }
}

void FunctionRuntime::Release(Pool& pool, std::unique_ptr<FunctionProcess> process) {
  std::unique_lock lock(pool.mu);
  std::erase(pool.busy, process.get());
  if (process->Alive() && !Closing()) {
    pool.idle.push_back({std::move(process), std::chrono::steady_clock::now()});
  } else {
    --pool.total;
  }
  pool.cv.notify_one();
  lock.unlock();
  process.reset();  // a dead one: joins its threads outside the lock
}

FunctionResponse FunctionRuntime::Invoke(const FunctionRequest& request) {
  const auto started = std::chrono::steady_clock::now();
  FunctionResponse response = InvokeUncounted(request);
  static constexpr std::array<std::string_view, 5> kCodes{"1xx", "2xx", "3xx", "4xx", "5xx"};
  const int klass = response.status / 100;
  const std::string code(klass >= 1 && klass <= 5 ? kCodes[klass - 1] : "5xx");
  core::metrics::Default()
      .GetHistogram("replideploy_function_invocation_duration_seconds",
                    "Function calls by the status class the client got (the platform's own 413, "
                    "429, 502, 504 included) and their duration; _count is the number of calls.",
                    core::metrics::LatencyBuckets(), {{"code", code}})
      .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (options_.on_call) {
    options_.on_call(request, response.status,
                     std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - started));
  }
  return response;
}

void FunctionRuntime::LogCall(const FunctionRequest& request, std::string_view text) {
  if (!options_.on_log) return;
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  options_.on_log({request.site_id, request.deploy_id, request.function_name, "platform", now,
                   request.request_id, text});
}

FunctionResponse FunctionRuntime::Refused(const FunctionRequest& request, const Error& error,
                                          std::chrono::milliseconds timeout) {
  if (error.detail_code == "site_limit") {
    LogCall(request, "429: too many calls of this site's functions at once");
    FunctionResponse r =
        JsonErrorResponse(429, "site_concurrency_limit",
                          "Too many calls of this site's functions at once; try again shortly.");
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  if (error.code == ErrorCode::kRateLimited) {
    LogCall(request, "429: too many calls of this function at once");
    FunctionResponse r = TextResponse(429, "Too Many Requests: the function is busy\n");
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  if (error.detail_code == "queue_timeout") {
    spdlog::warn("function {} of deploy {}: timed out waiting: {}", request.function_name,
                 request.deploy_id, error.message);
    LogCall(request, "504: timed out after " + SecondsText(timeout) + " waiting: " + error.message);
    return TextResponse(504, "Gateway Timeout: the function did not answer in time\n");
  }
  if (error.code == ErrorCode::kUnavailable) {
    return TextResponse(503, "Service Unavailable: the server is shutting down\n");
  }
  spdlog::error("function {} of deploy {}: {}", request.function_name, request.deploy_id,
                error.message);
  LogCall(request, "502: the function could not be started");
  return TextResponse(502, "Bad Gateway: the function could not be started\n");
}

FunctionResponse FunctionRuntime::InvokeUncounted(const FunctionRequest& request) {
  if (request.body.size() > kMaxBodyBytes) {
    return TextResponse(413, "Payload Too Large: function request bodies are limited to 6 MB\n");
  }
  const auto started = std::chrono::steady_clock::now();
  const std::chrono::milliseconds timeout =
      request.timeout.count() > 0 ? request.timeout : options_.timeout;
  const auto deadline = started + timeout;
  auto bundle = BundleDir(request.bundle_sha256);
  if (!bundle.ok()) {
    spdlog::error("function {} of deploy {}: {}", request.function_name, request.deploy_id,
                  bundle.error().message);
    LogCall(request, "502: the function's bundle could not be loaded");
    return TextResponse(502, "Bad Gateway: the function could not be loaded\n");
  }
  auto site_slot = EnterSite(request.site_id, deadline);
  if (!site_slot.ok()) return Refused(request, site_slot.error(), timeout);
  std::shared_ptr<Pool> pool = PoolFor(request);
  {
    std::lock_guard lock(pool->mu);
    pool->bundle_dir = *bundle;
  }
  auto process = Acquire(*pool, request, deadline);
  if (!process.ok()) return Refused(request, process.error(), timeout);
  const std::string id = request.request_id.empty() ? core::NewHexId() : request.request_id;
  FunctionProcess::Answer answer =
      (*process)->Invoke(id, LambdaEvent(request), ClientContext(request), deadline);
  if (answer.outcome == FunctionProcess::Outcome::kStream) {
    auto parsed = ParseLambdaResponse(answer.payload);
    if (!parsed.ok()) {
      spdlog::warn("function {} of deploy {}: streamed response: {}", request.function_name,
                   request.deploy_id, parsed.error().message);
      (*process)->LogPlatformLine(
          id, "502: the function's answer was not valid: " + parsed.error().message);
      answer.stream->Cancel();
      (*process)->Kill();
      Release(*pool, std::move(process).value());
      return TextResponse(502, "Bad Gateway: the function's answer was not valid\n");
    }
    // The process stays busy until the body is sent; the pool gets it back then.
    auto holder = std::make_shared<std::unique_ptr<FunctionProcess>>(std::move(process).value());
    parsed->stream = std::make_shared<StreamedBody>(
        answer.stream, deadline,
        [this, pool, holder, id, stream = answer.stream, name = request.function_name,
         deploy = request.deploy_id, slot = *site_slot](bool complete) mutable {
          if (!complete) {
            spdlog::warn("function {} of deploy {}: streamed response cut short after {} bytes: {}",
                         name, deploy, stream->total_bytes(), stream->error());
            (*holder)->LogPlatformLine(id, "the streamed response was cut short after " +
                                               std::to_string(stream->total_bytes()) +
                                               " bytes: " + stream->error());
            (*holder)->Kill();
          }
          Release(*pool, std::move(*holder));
          slot.reset();  // the site's slot, once the body is sent
        });
    return std::move(parsed).value();
  }

  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
  FunctionResponse response;
  std::string line;  // the platform's line for the function log, if any
  switch (answer.outcome) {
    case FunctionProcess::Outcome::kResponse: {
      auto parsed = ParseLambdaResponse(answer.payload);
      if (!parsed.ok()) {
        spdlog::warn("function {} of deploy {}: {}", request.function_name, request.deploy_id,
                     parsed.error().message);
        line = "502: the function's answer was not valid: " + parsed.error().message;
        response = TextResponse(502, "Bad Gateway: the function's answer was not valid\n");
      } else {
        response = std::move(parsed).value();
      }
      break;
    }
    case FunctionProcess::Outcome::kError:
      spdlog::warn("function {} of deploy {}: invocation {} failed after {} ms: {}",
                   request.function_name, request.deploy_id, id, millis,
                   (*process)->Mask(answer.payload));
      line = "502: the function threw after " + std::to_string(millis) +
             " ms: " + ErrorSummary(answer.payload);
      response = TextResponse(502, "Bad Gateway: the function failed\n");
      break;
    case FunctionProcess::Outcome::kTimeout:
      spdlog::warn("function {} of deploy {}: invocation {} timed out after {} ms; process killed",
                   request.function_name, request.deploy_id, id, millis);
      line = "504: timed out after " + SecondsText(timeout) + "; process killed";
      response = TextResponse(504, "Gateway Timeout: the function did not answer in time\n");
      break;
    case FunctionProcess::Outcome::kStream:  // handled above
    case FunctionProcess::Outcome::kCrashed:
      spdlog::warn(
          "function {} of deploy {}: invocation {}: the process died{}", request.function_name,
          request.deploy_id, id,
          answer.payload.empty() ? "" : " (init error " + (*process)->Mask(answer.payload) + ")");
      line = answer.payload.empty()
                 ? "502: the process died (out of memory?)"
                 : "502: the function could not be loaded: " + ErrorSummary(answer.payload);
      response = TextResponse(502, "Bad Gateway: the function crashed\n");
      break;
  }
  if (!line.empty()) (*process)->LogPlatformLine(id, line);
  Release(*pool, std::move(process).value());
  return response;
}

}  // namespace replideploy::functions
