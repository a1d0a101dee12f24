// Slows down password guessing, per account and per client address at once. A key (an account,
// an address) gets `free_failures` failed logins within the window; past that, each further
// attempt must wait an exponentially growing delay (1 s, 2 s, 4 s, ... capped), reported as
// Retry-After. A correct password clears its own account's failures only: a success of another
// account from the same address clears nothing, so an attacker cannot reset the count by
// logging in to an account of their own in between guesses.
//
// State lives in the database (table login_failures, owned here), so every api process of an
// installation counts the same failures. An attempt is counted before the password is checked
// (and taken back from the address if it was right), so parallel guesses cannot all slip
// through one check. Thread-safe; every call blocks (database): run it on a handler thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"

namespace replideploy::auth {

struct ThrottlePolicy {
  int free_failures = 5;
  std::int64_t window_millis = 15 * 60 * 1000;  // failures older than this are forgotten
  std::int64_t max_delay_millis = 15 * 60 * 1000;
};

class LoginThrottle {
 public:
  // One person guessing one password.
  static constexpr ThrottlePolicy kAccountPolicy{5, 15 * 60 * 1000, 15 * 60 * 1000};
  // Many people may share an address (an office, a proxy without --trusted-proxies): more room.
  static constexpr ThrottlePolicy kAddressPolicy{20, 15 * 60 * 1000, 15 * 60 * 1000};

  LoginThrottle(db::Database& db, const core::Clock& clock);

  // Before a password is checked for `email` from `address`. 0: the attempt may go ahead and is
  // counted as a failure of both until Succeeded(). Otherwise the seconds (rounded up) until
  // the account or the address, whichever waits longer, may try again; nothing is counted.
  Result<int> BeginAttempt(std::string_view email, std::string_view address);
  // The password was right: forgets the account's failures and takes this attempt back from the
  // address's (earlier failures of the address stay).
  Status Succeeded(std::string_view email, std::string_view address);

  // The keys of the table, for tests: "account:<sha-256 hex of the normalised email>",
  // "address:<address>".
  static std::string AccountKey(std::string_view email);
  static std::string AddressKey(std::string_view address);

 private:
  void PruneNow(std::int64_t now);

  db::Database& db_;
  const core::Clock& clock_;
  std::atomic<std::int64_t> last_prune_{0};
};

}  // namespace replideploy::auth
