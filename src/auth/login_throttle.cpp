#include "auth/login_throttle.hpp"

#include <algorithm>
#include <array>

#include "auth/users.hpp"
#include "core/crypto.hpp"
#include "core/text.hpp"

namespace replideploy::auth {

namespace {

constexpr std::int64_t kPruneEveryMillis = 60 * 1000;

struct Entry {
  std::int64_t failures = 0;
  std::int64_t first_failure = 0;
  std::int64_t last_failure = 0;
};

std::int64_t BlockedUntil(const Entry& entry, const ThrottlePolicy& policy) {
  if (entry.failures < policy.free_failures) return 0;
  const auto doublings =
      static_cast<int>(std::min<std::int64_t>(entry.failures - policy.free_failures, 30));
  const std::int64_t delay =
      std::min<std::int64_t>(std::int64_t{1000} << doublings, policy.max_delay_millis);
  return entry.last_failure + delay;
}

bool Expired(const Entry& entry, const ThrottlePolicy& policy, std::int64_t now) {
  return now - entry.last_failure > policy.window_millis && BlockedUntil(entry, policy) <= now;
}

// The key's entry, locked for this transaction (on PostgreSQL, the UPDATE holds the row lock
// until commit; SQLite transactions hold the write lock from their start).
Result<Entry> LockEntry(db::Session& s, const std::string& key, std::int64_t now) {
  RD_TRY_STATUS(
      s.Exec("INSERT INTO login_failures (key, failures, first_failure, last_failure) "
             "VALUES (?, 0, ?, ?) ON CONFLICT (key) DO NOTHING",
             {key, now, now}));
  RD_TRY_STATUS(s.Exec("UPDATE login_failures SET failures = failures WHERE key = ?", {key}));
  RD_TRY(db::Rows rows, s.Exec("SELECT failures, first_failure, last_failure FROM login_failures "
                               "WHERE key = ?",
                               {key}));
  if (rows.empty()) return MakeError(ErrorCode::kInternal, "login_failures row vanished");
  const db::Row& r = rows.rows.front();
  return Entry{r.Int(0), r.Int(1), r.Int(2)};
}

}  // namespace

LoginThrottle::LoginThrottle(db::Database& db, const core::Clock& clock) : db_(db), clock_(clock) {}

std::string LoginThrottle::AccountKey(std::string_view email) {
  auto normalized = NormalizeEmail(email);
  std::string name = normalized.ok() ? *normalized : std::string(email);
  if (!normalized.ok()) {
    std::transform(name.begin(), name.end(), name.begin(),
                   [](char c) { return core::AsciiLower(c); });
  }
  return "account:" + core::HexEncode(core::Sha256(name));
}

std::string LoginThrottle::AddressKey(std::string_view address) {
  return "address:" + std::string(address);
}

Result<int> LoginThrottle::BeginAttempt(std::string_view email, std::string_view address) {
  const std::int64_t now = clock_.NowMillis();
  PruneNow(now);
  // Always in this order, so two transactions never wait on each other's second lock.
  const std::array<std::pair<std::string, ThrottlePolicy>, 2> keys{
      std::pair{AccountKey(email), kAccountPolicy}, std::pair{AddressKey(address), kAddressPolicy}};
  std::int64_t wait_millis = 0;
  RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
    std::array<Entry, 2> entries;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      RD_TRY(entries[i], LockEntry(s, keys[i].first, now));
      if (Expired(entries[i], keys[i].second, now)) entries[i] = Entry{};
      wait_millis = std::max(wait_millis, BlockedUntil(entries[i], keys[i].second) - now);
    }
    if (wait_millis > 0) return {};
    for (std::size_t i = 0; i < keys.size(); ++i) {
      Entry& e = entries[i];
      if (e.failures == 0) e.first_failure = now;
      ++e.failures;
      e.last_failure = now;
      RD_TRY_STATUS(
          s.Exec("UPDATE login_failures SET failures = ?, first_failure = ?, "
                 "last_failure = ? WHERE key = ?",
                 {e.failures, e.first_failure, e.last_failure, keys[i].first}));
    }
    return {};
  }));
  return static_cast<int>((wait_millis + 999) / 1000);
}

Status LoginThrottle::Succeeded(std::string_view email, std::string_view address) {
  return db_.Transaction([&](db::Session& s) -> Status {
    RD_TRY_STATUS(s.Exec("DELETE FROM login_failures WHERE key = ?", {AccountKey(email)}));
    RD_TRY_STATUS(
        s.Exec("UPDATE login_failures SET failures = failures - 1 WHERE key = ? AND failures > 0",
               {AddressKey(address)}));
    return {};
  });
}

void LoginThrottle::PruneNow(std::int64_t now) {
  std::int64_t last = last_prune_.load();
  if (now - last < kPruneEveryMillis || !last_prune_.compare_exchange_strong(last, now)) return;
  const std::int64_t horizon =
      std::max({kAccountPolicy.window_millis, kAccountPolicy.max_delay_millis,
                kAddressPolicy.window_millis, kAddressPolicy.max_delay_millis});
  // Best effort: a failed prune is retried a minute later and costs nothing now.
  (void)db_.Exec("DELETE FROM login_failures WHERE last_failure < ?", {now - horizon});
}

}  // namespace replideploy::auth
