#include "auth/login_throttle.hpp"

#include <algorithm>

namespace replideploy::auth {

std::int64_t LoginThrottle::BlockedUntil(const Entry& entry) const {
  if (entry.failures < kFreeFailures) return 0;
  const int doublings = std::min(entry.failures - kFreeFailures, 20);
  const std::int64_t delay = std::min<std::int64_t>(1000LL << doublings, kMaxDelayMillis);
  return entry.last_failure + delay;
}

int LoginThrottle::RetryAfterSeconds(const std::string& address) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(address);
  if (it == entries_.end()) return 0;
  const std::int64_t wait = BlockedUntil(it->second) - clock_.NowMillis();
  return wait > 0 ? static_cast<int>((wait + 999) / 1000) : 0;
}

void LoginThrottle::RecordFailure(const std::string& address) {
  const std::int64_t now = clock_.NowMillis();
  std::lock_guard lock(mu_);
  if (entries_.size() >= max_entries_ && !entries_.contains(address)) {
    // Drop whatever is past its window; if nothing is, drop the stalest entry.
    std::erase_if(entries_, [&](const auto& kv) {
      return now - kv.second.last_failure > kWindowMillis && BlockedUntil(kv.second) <= now;
    });
    if (entries_.size() >= max_entries_) {
      auto oldest =
          std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
            return a.second.last_failure < b.second.last_failure;
          });
      entries_.erase(oldest);
    }
  }
  Entry& e = entries_[address];
  if (e.failures > 0 && now - e.last_failure > kWindowMillis && BlockedUntil(e) <= now) e = Entry{};
  if (e.failures == 0) e.first_failure = now;
  ++e.failures;
  e.last_failure = now;
}

void LoginThrottle::RecordSuccess(const std::string& address) {
  std::lock_guard lock(mu_);
  entries_.erase(address);
}

}  // namespace replideploy::auth
