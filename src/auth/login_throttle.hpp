// Slows down password guessing from one address: after kFreeFailures failed logins within the
// window, each further attempt must wait an exponentially growing delay (capped), reported as
// Retry-After. A successful login clears the address. Thread-safe; memory is bounded (the
// oldest entries are dropped past max_entries).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/clock.hpp"

namespace replideploy::auth {

class LoginThrottle {
 public:
  static constexpr int kFreeFailures = 5;
  static constexpr std::int64_t kWindowMillis = 15 * 60 * 1000;
  static constexpr std::int64_t kMaxDelayMillis = 15 * 60 * 1000;

  explicit LoginThrottle(const core::Clock& clock, std::size_t max_entries = 100'000)
      : clock_(clock), max_entries_(max_entries) {}

  // 0 when `address` may try now, else the seconds to wait (rounded up).
  int RetryAfterSeconds(const std::string& address) const;
  void RecordFailure(const std::string& address);
  void RecordSuccess(const std::string& address);

 private:
  struct Entry {
    int failures = 0;
    std::int64_t first_failure = 0;
    std::int64_t last_failure = 0;
  };
  std::int64_t BlockedUntil(const Entry& entry) const;

  const core::Clock& clock_;
  const std::size_t max_entries_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace replideploy::auth
