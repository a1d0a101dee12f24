// Internal to db/: a bounded pool of engine connections, shared by both drivers.
//
// Connections are opened on demand up to `max_size` and handed out as a Lease, which returns
// its connection when it goes out of scope (on every path, errors included) unless it was
// discarded as broken. Acquire() waits while every connection is leased; it fails instead of
// waiting forever when every leased connection belongs to the calling thread (a nested
// Database call inside Transaction on an exhausted pool, which could never be served).
// An idle connection is checked with `alive` (when given) before it is handed out: one that
// died while idle (the server restarted, a proxy timed it out) is dropped, and the caller gets
// another, instead of an error on its first statement. Thread-safe. The pool must outlive its
// leases.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace replideploy::db::internal {

template <typename Conn>
class ConnectionPool {
 public:
  using Factory = std::function<Result<std::unique_ptr<Conn>>()>;
  // Cheap and local (no round trip): false when the connection is known to be dead.
  using AliveCheck = std::function<bool(Conn&)>;

  class Lease {
   public:
    Lease(Lease&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)),
          conn_(std::move(other.conn_)),
          holder_(other.holder_),
          discard_(other.discard_) {}
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      if (pool_ != nullptr) pool_->Release(std::move(conn_), holder_, discard_);
    }

    Conn& operator*() const { return *conn_; }
    Conn* operator->() const { return conn_.get(); }
    // The connection is broken or in an unknown state: close it instead of reusing it.
    void Discard() { discard_ = true; }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::unique_ptr<Conn> conn, std::thread::id holder)
        : pool_(pool), conn_(std::move(conn)), holder_(holder) {}

    ConnectionPool* pool_;
    std::unique_ptr<Conn> conn_;
    std::thread::id holder_;
    bool discard_ = false;
  };

  ConnectionPool(int max_size, Factory factory, AliveCheck alive = nullptr)
      : max_size_(std::max(1, max_size)), factory_(std::move(factory)), alive_(std::move(alive)) {}
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Adds a connection opened elsewhere (Open() makes one up front to fail early).
  void AddIdle(std::unique_ptr<Conn> conn) {
    std::lock_guard lock(mu_);
    ++open_;
    idle_.push_back(std::move(conn));
  }

  Result<Lease> Acquire() {
    const std::thread::id self = std::this_thread::get_id();
    std::vector<std::unique_ptr<Conn>> dead;  // closed after the lock is released
    std::unique_lock lock(mu_);
    for (;;) {
      if (!idle_.empty()) {
        std::unique_ptr<Conn> conn = std::move(idle_.back());
        idle_.pop_back();
        if (alive_ && !alive_(*conn)) {
          --open_;
          ++dropped_;
          dead.push_back(std::move(conn));
          continue;
        }
        holders_.push_back(self);
        return Lease(this, std::move(conn), self);
      }
      if (open_ < max_size_) {
        ++open_;
        holders_.push_back(self);
        lock.unlock();
        // Connecting can take a while (TCP, TLS, auth): not under the lock.
        Result<std::unique_ptr<Conn>> conn = factory_();
        if (!conn.ok()) {
          Release(nullptr, self, true);
          return std::move(conn).error();
        }
        return Lease(this, std::move(conn).value(), self);
      }
      if (std::all_of(holders_.begin(), holders_.end(),
                      [&](std::thread::id id) { return id == self; })) {
        return MakeError(ErrorCode::kInternal,
                         "database connection pool exhausted by the calling thread itself "
                         "(inside Transaction, use the Session, not the Database)");
      }
      released_.wait(lock);
    }
  }

  // Idle connections found dead and dropped so far.
  int dropped() {
    std::lock_guard lock(mu_);
    return dropped_;
  }

 private:
  void Release(std::unique_ptr<Conn> conn, std::thread::id holder, bool discard) {
    {
      std::lock_guard lock(mu_);
      auto it = std::find(holders_.begin(), holders_.end(), holder);
      if (it != holders_.end()) holders_.erase(it);
      if (discard || conn == nullptr) {
        --open_;
      } else {
        idle_.push_back(std::move(conn));
      }
    }
    released_.notify_one();
    // A discarded connection closes here, outside the lock.
  }

  const int max_size_;
  const Factory factory_;
  const AliveCheck alive_;
  std::mutex mu_;
  std::condition_variable released_;
  std::vector<std::unique_ptr<Conn>> idle_;
  std::vector<std::thread::id> holders_;
  int open_ = 0;
  int dropped_ = 0;
};

}  // namespace replideploy::db::internal
