// Server is the lifecycle: the I/O threads, the handler pools, signals and the drain on Stop().
// The listener (listener.cpp) accepts connections, an HttpSession (http_session.cpp) serves
// each, and a WebSocketSession (websocket_session.cpp) takes over an upgraded one.
#include "http/server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <csignal>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "http/listener.hpp"
#include "http/server_internal.hpp"

namespace replideploy::http {

namespace {

using server_internal::error_code;
using server_internal::steady_clock;
namespace asio = boost::asio;

// After the grace period, how long Stop() waits for cut connections to unwind.
constexpr std::chrono::milliseconds kCutWait{1000};

std::size_t PoolSize(int threads) { return static_cast<std::size_t>(std::max(1, threads)); }

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, Resolver resolver)
      : options_(std::move(options)),
        resolver_(std::move(resolver)),
        connections_(shutting_down_, options_),
        sessions_{options_,   resolver_,      api_pool_,   edge_pool_,
                  slow_pool_, shutting_down_, connections_},
        io_contexts_(options_.io_threads),
        listener_(io_contexts_, sessions_, options_.host, options_.port),
        api_pool_(PoolSize(options_.handler_threads)),
        edge_pool_(PoolSize(options_.edge_threads)),
        slow_pool_(PoolSize(options_.slow_threads)) {
    if (options_.tls) {
      tls_listener_ = std::make_unique<server_internal::Listener>(
          io_contexts_, sessions_, options_.tls->host, options_.tls->port, &*options_.tls);
    }
    for (std::size_t i = 0; i < io_contexts_.size(); ++i) {
      work_.push_back(asio::make_work_guard(io_contexts_.at(i)));
    }
  }

  Status Listen() {
    if (options_.tls && !options_.tls->certificates) {
      return MakeError(ErrorCode::kInternal, "HTTPS listener without certificates");
    }
    RD_TRY_STATUS(listener_.Listen());
    if (tls_listener_) RD_TRY_STATUS(tls_listener_->Listen());
    return {};
  }
  std::uint16_t BoundPort() const { return listener_.BoundPort(); }
  std::uint16_t TlsPort() const { return tls_listener_ ? tls_listener_->BoundPort() : 0; }
  void Start();
  void Stop();
  void RunUntilSignal();

 private:
  void RunIoContext(asio::io_context& io_context);
  void JoinPools();
  // Closes idle connections and WebSockets, waits up to the grace period for the others, then
  // cuts what is left.
  void DrainConnections();

  const ServerOptions options_;
  const Resolver resolver_;
  std::atomic<bool> shutting_down_{false};

  // Declared before the I/O objects: coroutine frames destroyed with the io_context or the
  // pool unregister themselves here.
  server_internal::ConnectionRegistry connections_;
  // Refers to the pools before they are constructed; nothing uses them until Start().
  const server_internal::SessionContext sessions_;

  std::mutex lifecycle_mu_;  // guards started_ and signal_context_
  bool started_ = false;
  asio::io_context* signal_context_ = nullptr;
  std::mutex stop_mu_;  // held for the whole of Stop(), so a second caller waits for the first
  bool stopped_ = false;

  // One io_context per I/O thread.
  server_internal::IoContexts io_contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  server_internal::Listener listener_;
  std::unique_ptr<server_internal::Listener> tls_listener_;
  asio::thread_pool api_pool_;
  asio::thread_pool edge_pool_;
  asio::thread_pool slow_pool_;
  std::vector<std::thread> io_threads_;
};

void Server::Impl::Start() {
  std::lock_guard lock(lifecycle_mu_);
  if (started_ || shutting_down_) return;
  started_ = true;
  // A client that goes away while an answer is written must come back as EPIPE, not end the
  // process: sendfile(2), unlike send(2), has no MSG_NOSIGNAL. Process-wide, as servers do;
  // core::SpawnChild puts it back to the default in the children it starts.
  ::signal(SIGPIPE, SIG_IGN);
  listener_.Start();
  if (tls_listener_) tls_listener_->Start();
  for (std::size_t i = 0; i < io_contexts_.size(); ++i) {
    io_threads_.emplace_back([this, i] { RunIoContext(io_contexts_.at(i)); });
  }
}

void Server::Impl::RunIoContext(asio::io_context& io_context) {
  for (;;) {
    try {
      io_context.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("I/O thread caught an exception: {}", e.what());
    }
  }
}

void Server::Impl::Stop() {
  std::lock_guard stop_lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  bool started = false;
  {
    std::lock_guard lock(lifecycle_mu_);
    shutting_down_ = true;
    started = started_;
    if (signal_context_ != nullptr) signal_context_->stop();
  }
  if (!started) {
    listener_.CloseUnstarted();
    if (tls_listener_) tls_listener_->CloseUnstarted();
    JoinPools();
    return;
  }

  // No connection is accepted once Stop() has begun draining.
  listener_.Close();
  if (tls_listener_) tls_listener_->Close();
  DrainConnections();

  work_.clear();
  for (std::size_t i = 0; i < io_contexts_.size(); ++i) io_contexts_.at(i).stop();
  for (auto& thread : io_threads_) thread.join();
  io_threads_.clear();
  // A handler still running is waited for; queued ones are dropped.
  for (asio::thread_pool* pool : {&api_pool_, &edge_pool_, &slow_pool_}) pool->stop();
  JoinPools();
}

void Server::Impl::JoinPools() {
  for (asio::thread_pool* pool : {&api_pool_, &edge_pool_, &slow_pool_}) pool->join();
}

void Server::Impl::DrainConnections() {
  // Connections between requests go now; the others see shutting_down_ when they answer.
  for (const auto& conn : connections_.Live()) server_internal::PostShutdown(conn);
  if (connections_.WaitUntilEmpty(steady_clock::now() + options_.shutdown_grace)) return;
  const auto remaining = connections_.Live();
  spdlog::warn("closing {} connection(s) still busy after the {} ms shutdown grace period",
               remaining.size(), options_.shutdown_grace.count());
  for (const auto& conn : remaining) server_internal::PostCut(conn);
  connections_.WaitUntilEmpty(steady_clock::now() + kCutWait);
}

void Server::Impl::RunUntilSignal() {
  Start();
  asio::io_context signal_context;
  asio::signal_set signals(signal_context, SIGINT, SIGTERM);
  signals.async_wait([](const error_code& ec, int number) {
    if (!ec) spdlog::info("received signal {}, shutting down", number);
  });
  bool wait = false;
  {
    std::lock_guard lock(lifecycle_mu_);
    if (!shutting_down_) {
      signal_context_ = &signal_context;
      wait = true;
    }
  }
  if (wait) {
    signal_context.run();
    std::lock_guard lock(lifecycle_mu_);
    signal_context_ = nullptr;
  }
  Stop();
}

Server::Server(ServerOptions options, Resolver resolver)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(resolver))) {}

Server::~Server() {
  try {
    Stop();
  } catch (const std::exception& e) {
    spdlog::error("server shutdown failed: {}", e.what());
  }
}

Status Server::Listen() { return impl_->Listen(); }

std::uint16_t Server::port() const { return impl_->BoundPort(); }

std::uint16_t Server::tls_port() const { return impl_->TlsPort(); }

void Server::Start() { impl_->Start(); }

void Server::Stop() { impl_->Stop(); }

void Server::RunUntilSignal() { impl_->RunUntilSignal(); }

}  // namespace replideploy::http
