// The audit log: who did what to an account, when and from where (table audit_events, owned
// here). Services write events in the transaction of the change they record, through
// RecordAuditEvent; the API reads an account's own events, newest first, a page at a time.
//
// Thread-safe: holds no mutable state besides the database (and an atomic counter that orders
// events of one millisecond). Every call blocks: run it on a handler thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"

namespace replideploy::audit {

// Where a request came from: the client address (after --trusted-proxies) and its User-Agent.
struct ClientInfo {
  std::string address;
  std::string user_agent;
};

// Who acted: a signed-in user and the credential used, or nobody (a failed login, a build).
struct Actor {
  std::string user_id;     // empty: no signed-in user
  std::string credential;  // "session:<id>", "token:<id>", or empty
  ClientInfo client;
};

struct Event {
  std::string account_user_id;      // whose log it belongs to: the owner of the account
  std::string action;               // "login.succeeded", "site.updated", ...
  std::string target;               // what it is about: a site, deploy, token or session id
  std::string details_json = "{}";  // a JSON object; never secrets (passwords, tokens, values)
  Actor actor;
};

struct StoredEvent {
  std::string id;
  std::int64_t created_at = 0;  // unix millis
  Event event;
};

struct EventPage {
  std::vector<StoredEvent> events;         // newest first
  std::optional<std::string> next_before;  // pass as `before` for the next page; none at the end
};

// Appends `event` within the caller's transaction, stamped `now` (unix millis). User agents are
// cut to 512 bytes.
Status RecordAuditEvent(db::Session& session, std::int64_t now, const Event& event);

class AuditLog {
 public:
  static constexpr int kDefaultPageSize = 50;
  static constexpr int kMaxPageSize = 200;

  AuditLog(db::Database& db, const core::Clock& clock);

  // One event in a transaction of its own, for changes that were committed just before.
  Status Record(const Event& event);

  // The events of `account_user_id`'s account, newest first, `limit` (1..kMaxPageSize) at a
  // time, older than the event `before` (an id from an earlier page) when given. kBadRequest for
  // a limit out of range or a `before` that is not one of this account's events.
  Result<EventPage> List(std::string_view account_user_id, int limit, std::string_view before = {});

 private:
  db::Database& db_;
  const core::Clock& clock_;
};

}  // namespace replideploy::audit
