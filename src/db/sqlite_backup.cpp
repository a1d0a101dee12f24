#include "db/sqlite_backup.hpp"

#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <thread>

namespace replideploy::db {

namespace {

namespace fs = std::filesystem;

// Pages copied per step: small enough that a writer waits at most for one batch.
constexpr int kPagesPerStep = 256;

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, CloseDb>;

Result<DbHandle> OpenFile(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) {
    return MakeError(
        ErrorCode::kUnavailable,
        "cannot open " + path + ": " + (db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(db.get(), 5000);
  return db;
}

void RemoveWithSidecars(const std::string& path) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(path + suffix, ec);
}

}  // namespace

Status BackupSqliteFile(const std::string& from_path, const std::string& to_path) {
  std::error_code ec;
  if (!fs::is_regular_file(from_path, ec)) {
    return MakeError(ErrorCode::kNotFound, "no SQLite database at " + from_path);
  }
  RD_TRY(DbHandle from, OpenFile(from_path, SQLITE_OPEN_READONLY));
  RemoveWithSidecars(to_path);
  RD_TRY(DbHandle to, OpenFile(to_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
  sqlite3_backup* backup = sqlite3_backup_init(to.get(), "main", from.get(), "main");
  if (backup == nullptr) {
    const std::string message = sqlite3_errmsg(to.get());
    to.reset();
    RemoveWithSidecars(to_path);
    return MakeError(ErrorCode::kInternal, "backup of " + from_path + ": " + message);
  }
  int rc = SQLITE_OK;
  do {
    rc = sqlite3_backup_step(backup, kPagesPerStep);
    // A writer holds the source: let it finish, then go on from where the copy stopped.
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(20);
  } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    const std::string message = sqlite3_errstr(rc);
    to.reset();
    RemoveWithSidecars(to_path);
    return MakeError(ErrorCode::kInternal, "backup of " + from_path + ": " + message);
  }
  // The copy keeps the source's journal mode (WAL): fold everything into the main file, so the
  // backup is one self-contained file.
  sqlite3_exec(to.get(), "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  to.reset();
  return {};
}

Result<std::string> SqlitePathFromUrl(const std::string& url) {
  constexpr std::string_view kSqlite = "sqlite://";
  if (url.rfind(kSqlite, 0) != 0 || url.size() == kSqlite.size()) {
    return MakeError(ErrorCode::kBadRequest, "not a SQLite database URL");
  }
  return url.substr(kSqlite.size());
}

}  // namespace replideploy::db
