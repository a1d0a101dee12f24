// One database interface, two engines: SQLite (embedded default) and PostgreSQL (libpqxx).
//
// SQL is written once, portable between the two, with '?' placeholders; the PostgreSQL driver
// rewrites them to $1, $2, ... Values come back as text (or null), whatever the column type;
// booleans as "1"/"0" on both engines. Text parameters may not contain NUL (kBadRequest), and
// the number of '?' must match the parameters given (kInternal).
// All calls block: run them on a handler/worker thread, never on an I/O thread.
// Database objects are thread-safe; a Session is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.hpp"

namespace replideploy::db {

enum class Engine { kSqlite, kPostgres };

// A bound parameter.
using Value = std::variant<std::nullptr_t, std::int64_t, std::string>;
using Params = std::vector<Value>;

class Row {
 public:
  explicit Row(std::vector<std::optional<std::string>> cells) : cells_(std::move(cells)) {}
  std::size_t size() const { return cells_.size(); }
  bool IsNull(std::size_t i) const { return !cells_.at(i).has_value(); }
  // Empty string for null.
  std::string Text(std::size_t i) const { return cells_.at(i).value_or(""); }
  std::optional<std::string> OptionalText(std::size_t i) const { return cells_.at(i); }
  // 0 for null or a non-number.
  std::int64_t Int(std::size_t i) const;
  bool Bool(std::size_t i) const { return Int(i) != 0; }

 private:
  std::vector<std::optional<std::string>> cells_;
};

struct Rows {
  std::vector<Row> rows;
  std::int64_t affected = 0;  // rows changed by INSERT/UPDATE/DELETE
  bool empty() const { return rows.empty(); }
};

// Errors: a unique or primary key violation is kConflict; a lost connection or a locked
// database after the busy timeout is kUnavailable; anything else is kInternal. Messages name
// the engine's error for the log; API handlers replace them with client text.
// Once a statement in a Session fails, the transaction is doomed on both engines (as
// PostgreSQL has it): later Exec calls return that error and Transaction rolls back.
class Session {
 public:
  virtual ~Session() = default;
  virtual Result<Rows> Exec(std::string_view sql, const Params& params = {}) = 0;
  // Sends `payload` to the listeners of `channel` (see Database::Listen) when the transaction
  // commits, and not at all when it rolls back: PostgreSQL's pg_notify. Nothing on SQLite,
  // whose changes are told in-process by the services' own listeners.
  virtual Status Notify(std::string_view /*channel*/, std::string_view /*payload*/) { return {}; }
};

// What a Database::Listen subscriber is called with, on the subscription's own thread.
struct NotificationHandler {
  std::function<void(const std::string& payload)> on_notification;
  // Called each time the subscription is listening again after (re)connecting: notifications
  // sent while it was not connected are lost, so whatever they would have refreshed must be
  // refreshed now. Called after the first connection too.
  std::function<void()> on_listening;
};

// A running subscription; destroying it stops its thread (promptly) and closes its connection.
class Subscription {
 public:
  virtual ~Subscription() = default;
};

class Database {
 public:
  virtual ~Database() = default;
  virtual Engine engine() const = 0;
  // One statement, autocommitted, on a pooled connection.
  virtual Result<Rows> Exec(std::string_view sql, const Params& params = {}) = 0;
  // Runs `body` in one transaction on one connection: commits when it returns ok, rolls back
  // when it fails (its error is returned). SQLite transactions begin IMMEDIATE (write lock
  // up front, so two writers never deadlock on an upgrade). If `body` throws, the transaction
  // is rolled back and the exception propagates. Inside `body` use the Session: a call on the
  // Database takes another pooled connection.
  virtual Status Transaction(const std::function<Status(Session&)>& body) = 0;
  // Cheap round trip, for readiness checks.
  virtual Status Ping() = 0;
  // Session::Notify on its own, autocommitted. Nothing on SQLite.
  virtual Status Notify(std::string_view /*channel*/, std::string_view /*payload*/) { return {}; }
  // PostgreSQL: LISTENs on `channel` over a connection of its own (not from the pool), on a
  // thread of its own, calling `handler` for each notification. A lost connection is
  // reconnected with back-off (0.2 s doubling to 5 s), then handler.on_listening is called.
  // Null on SQLite (no other process can change the database).
  virtual std::unique_ptr<Subscription> Listen(std::string /*channel*/,
                                               NotificationHandler /*handler*/) {
    return nullptr;
  }
};

struct OpenOptions {
  int pool_size = 8;
  int busy_timeout_ms = 5000;  // SQLite
};

// "sqlite:///abs/path.db", "sqlite://relative/path.db", "sqlite::memory:" (tests), or a libpq
// URL "postgres://..." / "postgresql://...". Bad URLs and unreachable servers fail with one
// clear line. Does not migrate.
Result<std::unique_ptr<Database>> Open(const std::string& url, const OpenOptions& options = {});

}  // namespace replideploy::db
