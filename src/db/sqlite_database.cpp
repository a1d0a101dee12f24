// The SQLite driver: a pool of connections to one file (WAL mode, so readers never wait for
// the writer), or a single connection for ":memory:" (each connection to ":memory:" would be
// its own empty database).
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include "db/connection_pool.hpp"
#include "db/drivers.hpp"

namespace replideploy::db::internal {

namespace {

constexpr std::string_view kMemoryPath = ":memory:";

class SqliteConnection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  ~SqliteConnection() { sqlite3_close_v2(db_); }  // a no-op for nullptr
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  sqlite3* get() const { return db_; }

  // Waits for another connection's write lock in steps of 100 us, then 1 ms, for up to
  // `timeout_ms` in all. SQLite's own busy timeout sleeps up to 100 ms per try, which makes
  // many small concurrent writes (a deploy's uploads) wait far longer than the lock is held.
  void SetBusyTimeout(int timeout_ms) {
    busy_timeout_ = std::chrono::milliseconds(timeout_ms);
    sqlite3_busy_handler(db_, &SqliteConnection::OnBusy, this);
  }

 private:
  static int OnBusy(void* self, int tries) {
    auto* conn = static_cast<SqliteConnection*>(self);
    const auto now = std::chrono::steady_clock::now();
    if (tries == 0) conn->busy_since_ = now;
    if (now - conn->busy_since_ >= conn->busy_timeout_) return 0;
    std::this_thread::sleep_for(tries < 50 ? std::chrono::microseconds(100)
                                           : std::chrono::microseconds(1000));
    return 1;
  }

  sqlite3* db_;
  std::chrono::milliseconds busy_timeout_{0};
  std::chrono::steady_clock::time_point busy_since_;
};

struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StatementHandle = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// `rc` is an extended result code (enabled on every connection).
Error SqliteError(sqlite3* db, int rc) {
  ErrorCode code = ErrorCode::kInternal;
  const int primary = rc & 0xff;
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    code = ErrorCode::kConflict;
  } else if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    code = ErrorCode::kUnavailable;
  }
  // sqlite3_errmsg describes the most recent failure on this connection, which is `rc`'s.
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Error{code, "sqlite: " + OneLine(message)};
}

Error ParamCountError(std::size_t placeholders, std::size_t given, bool at_least) {
  return MakeError(ErrorCode::kInternal, "SQL has " + std::string(at_least ? "at least " : "") +
                                             std::to_string(placeholders) +
                                             " '?' placeholders but " + std::to_string(given) +
                                             " parameters were given");
}

int Bind(sqlite3_stmt* stmt, int index, const Value& value) {
  if (const auto* n = std::get_if<std::int64_t>(&value)) {
    return sqlite3_bind_int64(stmt, index, *n);
  }
  if (const auto* s = std::get_if<std::string>(&value)) {
    return sqlite3_bind_text64(stmt, index, s->data(), s->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  }
  return sqlite3_bind_null(stmt, index);
}

// Runs every statement in `sql` in turn (migrations hold several), binding `params` to their
// placeholders in order. Rows from all statements are returned; `affected` sums the rows that
// INSERT/UPDATE/DELETE statements changed.
Result<Rows> ExecOn(sqlite3* db, std::string_view sql, const Params& params) {
  if (sql.size() > static_cast<std::size_t>(INT_MAX)) {
    return MakeError(ErrorCode::kInternal, "SQL text too long");
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    const auto* s = std::get_if<std::string>(&params[i]);
    // PostgreSQL cannot store NUL in text; refusing it on both engines keeps them alike.
    if (s != nullptr && s->find('\0') != std::string::npos) {
      return MakeError(ErrorCode::kBadRequest,
                       "text parameter " + std::to_string(i + 1) + " contains a NUL byte");
    }
  }

  Rows out;
  std::size_t next_param = 0;
  const char* cursor = sql.data();
  const char* const end = sql.data() + sql.size();
  while (cursor < end) {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    const int prepared =
        sqlite3_prepare_v2(db, cursor, static_cast<int>(end - cursor), &raw, &tail);
    StatementHandle stmt(raw);
    if (prepared != SQLITE_OK) return SqliteError(db, prepared);
    // A NUL in the text ends parsing there (SQLite reads up to it and makes no progress).
    cursor = tail != nullptr && tail > cursor ? tail : end;
    if (stmt == nullptr) continue;  // only blanks or a comment

    const auto placeholders = static_cast<std::size_t>(sqlite3_bind_parameter_count(raw));
    if (next_param + placeholders > params.size()) {
      return ParamCountError(next_param + placeholders, params.size(), true);
    }
    for (std::size_t i = 1; i <= placeholders; ++i) {
      const int bound = Bind(raw, static_cast<int>(i), params[next_param++]);
      if (bound != SQLITE_OK) return SqliteError(db, bound);
    }

    const sqlite3_int64 changes_before = sqlite3_total_changes64(db);
    const int columns = sqlite3_column_count(raw);
    for (;;) {
      const int stepped = sqlite3_step(raw);
      if (stepped == SQLITE_DONE) break;
      if (stepped != SQLITE_ROW) return SqliteError(db, stepped);
      std::vector<std::optional<std::string>> cells;
      cells.reserve(static_cast<std::size_t>(columns));
      for (int c = 0; c < columns; ++c) {
        if (sqlite3_column_type(raw, c) == SQLITE_NULL) {
          cells.emplace_back(std::nullopt);
          continue;
        }
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(raw, c));
        const int size = sqlite3_column_bytes(raw, c);
        cells.emplace_back(text != nullptr ? std::string(text, static_cast<std::size_t>(size))
                                           : std::string());
      }
      out.rows.emplace_back(std::move(cells));
    }
    // sqlite3_changes64 keeps the count of the last INSERT/UPDATE/DELETE even across other
    // statements; only count it when this statement changed something.
    if (sqlite3_total_changes64(db) != changes_before) out.affected += sqlite3_changes64(db);
  }
  if (next_param != params.size()) return ParamCountError(next_param, params.size(), false);
  return out;
}

Error OpenError(const std::string& path, sqlite3* db, int rc) {
  std::string message = "cannot open SQLite database '" + path + "': ";
  message += OneLine(db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  const int system_errno = db != nullptr ? sqlite3_system_errno(db) : 0;
  if (system_errno != 0) message += std::string(" (") + std::strerror(system_errno) + ")";
  if ((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_READONLY ||
      (rc & 0xff) == SQLITE_PERM) {
    std::string dir = std::filesystem::path(path).parent_path().string();
    if (dir.empty()) dir = ".";
    message += "; check that directory '" + dir + "' exists and is writable";
  }
  return MakeError(ErrorCode::kUnavailable, std::move(message));
}

Result<std::unique_ptr<SqliteConnection>> OpenConnection(const std::string& path,
                                                         const OpenOptions& options) {
  sqlite3* raw = nullptr;
  // A new database is its owner's alone: made empty with 0600 before SQLite sees it (SQLite
  // creates it with the umask's mode, and its -wal and -shm files copy the database's).
  if (path != ":memory:" && !path.starts_with("file:")) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
  }
  // NOMUTEX: the pool hands a connection to one thread at a time.
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  // The handle exists even when opening failed, and must be closed either way.
  auto conn = std::make_unique<SqliteConnection>(raw);
  if (rc != SQLITE_OK) return OpenError(path, raw, rc);
  sqlite3_extended_result_codes(raw, 1);
  conn->SetBusyTimeout(options.busy_timeout_ms);

  // journal_mode is the first statement that reads the file: an unreadable or read-only
  // database fails here.
  // A page cache of up to 32 MB per connection (SQLite's default is 2 MB): the indexes of
  // deploy_files, keyed by random digests, outgrow 2 MB with a few 10,000-file deploys, and
  // each statement of a deploy's file list then went to the file system for most pages.
  const char* setup = path == kMemoryPath ? "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON"
                                          : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                                            "PRAGMA foreign_keys=ON; PRAGMA cache_size=-32768";
  Result<Rows> configured = ExecOn(raw, setup, {});
  if (!configured.ok()) {
    return OpenError(path, raw, sqlite3_extended_errcode(raw));
  }
  return conn;
}

using Pool = ConnectionPool<SqliteConnection>;

// A connection must go back to the pool outside any transaction; one the caller left open
// (say, a "BEGIN" passed to Exec) is rolled back, and dropped if even that fails.
void EndStrayTransaction(Pool::Lease& lease) {
  sqlite3* db = lease->get();
  if (sqlite3_get_autocommit(db) != 0) return;
  sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  if (sqlite3_get_autocommit(db) == 0) lease.Discard();
}

class SqliteSession final : public Session {
 public:
  explicit SqliteSession(sqlite3* db) : db_(db) {}

  Result<Rows> Exec(std::string_view sql, const Params& params) override {
    if (first_error_.has_value()) return TransactionAlreadyFailed(*first_error_);
    Result<Rows> rows = ExecOn(db_, sql, params);
    if (!rows.ok()) first_error_ = rows.error();
    return rows;
  }

  const std::optional<Error>& first_error() const { return first_error_; }

 private:
  sqlite3* db_;
  std::optional<Error> first_error_;
};

class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(std::string path, const OpenOptions& options, int pool_size)
      : pool_(pool_size,
              [path = std::move(path), options]() { return OpenConnection(path, options); }) {}

  Pool& pool() { return pool_; }

  Engine engine() const override { return Engine::kSqlite; }

  Result<Rows> Exec(std::string_view sql, const Params& params) override {
    RD_TRY(auto lease, pool_.Acquire());
    Result<Rows> rows = ExecOn(lease->get(), sql, params);
    EndStrayTransaction(lease);
    return rows;
  }

  Status Transaction(const std::function<Status(Session&)>& body) override {
    RD_TRY(auto lease, pool_.Acquire());
    sqlite3* db = lease->get();
    Result<Rows> begun = ExecOn(db, "BEGIN IMMEDIATE", {});
    if (!begun.ok()) {
      EndStrayTransaction(lease);
      return std::move(begun).error();
    }
    SqliteSession session(db);
    Status status;
    try {
      status = body(session);
    } catch (...) {
      // The body's own exception: leave the connection clean, then let it propagate.
      EndStrayTransaction(lease);
      throw;
    }
    if (status.ok() && session.first_error().has_value()) status = *session.first_error();
    if (status.ok()) {
      Result<Rows> committed = ExecOn(db, "COMMIT", {});
      if (!committed.ok()) status = std::move(committed).error();
    }
    EndStrayTransaction(lease);  // after a failure: ROLLBACK
    return status;
  }

  Status Ping() override {
    Result<Rows> rows = Exec("SELECT 1", {});
    if (!rows.ok()) return std::move(rows).error();
    return {};
  }

 private:
  Pool pool_;
};

}  // namespace

Result<std::unique_ptr<Database>> OpenSqlite(const std::string& path, const OpenOptions& options) {
  const bool memory = path == kMemoryPath;
  RD_TRY(auto first, OpenConnection(path, options));
  auto db = std::make_unique<SqliteDatabase>(path, options, memory ? 1 : options.pool_size);
  db->pool().AddIdle(std::move(first));
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace replideploy::db::internal
