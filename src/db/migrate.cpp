#include "db/migrate.hpp"

#include <set>
#include <string>

#include "core/clock.hpp"

namespace replideploy::db {

namespace {

// Any constant will do as long as every RepliDeploy process uses the same one.
constexpr std::int64_t kMigrationLockKey = 0x52644d6967726174;  // "RdMigrat"

constexpr std::string_view kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

// Serialises migrating processes on PostgreSQL until the transaction ends. SQLite needs
// nothing: Transaction() begins IMMEDIATE, which already admits one writer at a time.
Status LockForMigration(Database& db, Session& session) {
  if (db.engine() != Engine::kPostgres) return {};
  Result<Rows> locked =
      session.Exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLockKey) + ")");
  if (!locked.ok()) return std::move(locked).error();
  return {};
}

Status Validate(const std::vector<Migration>& migrations) {
  int previous = 0;
  for (const Migration& m : migrations) {
    if (m.version <= previous) {
      return MakeError(ErrorCode::kInternal,
                       "migration " + std::to_string(m.version) + " (" + m.name +
                           ") is out of order: versions must be positive and strictly "
                           "increasing, and it follows " +
                           std::to_string(previous));
    }
    previous = m.version;
  }
  return {};
}

}  // namespace

Result<int> Migrate(Database& db, const std::vector<Migration>& migrations) {
  RD_TRY_STATUS(Validate(migrations));

  // CREATE TABLE IF NOT EXISTS can still race with itself on PostgreSQL (a duplicate key in
  // pg_type); under the advisory lock it cannot.
  Status created = db.Transaction([&](Session& session) -> Status {
    RD_TRY_STATUS(LockForMigration(db, session));
    Result<Rows> done = session.Exec(kCreateTable);
    if (!done.ok()) return std::move(done).error();
    return {};
  });
  if (!created.ok()) return std::move(created).error();

  RD_TRY(Rows applied, db.Exec("SELECT version FROM schema_migrations ORDER BY version"));
  std::set<std::int64_t> applied_versions;
  for (const Row& row : applied.rows) applied_versions.insert(row.Int(0));
  const std::int64_t newest_known = migrations.empty() ? 0 : migrations.back().version;
  if (!applied_versions.empty() && *applied_versions.rbegin() > newest_known) {
    return MakeError(ErrorCode::kInternal, "the database schema is at version " +
                                               std::to_string(*applied_versions.rbegin()) +
                                               ", newer than this binary knows (" +
                                               std::to_string(newest_known) +
                                               "): run a newer replideploy");
  }

  const core::SystemClock clock;
  int count = 0;
  for (const Migration& m : migrations) {
    if (applied_versions.count(m.version) != 0) continue;
    bool ran = false;
    Status status = db.Transaction([&](Session& session) -> Status {
      RD_TRY_STATUS(LockForMigration(db, session));
      // Another process may have applied it since we looked.
      RD_TRY(Rows existing, session.Exec("SELECT 1 FROM schema_migrations WHERE version = ?",
                                         {std::int64_t{m.version}}));
      if (!existing.empty()) return {};
      Result<Rows> migrated = session.Exec(m.sql);
      if (!migrated.ok()) return std::move(migrated).error();
      Result<Rows> recorded =
          session.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                       {std::int64_t{m.version}, m.name, clock.NowMillis()});
      if (!recorded.ok()) return std::move(recorded).error();
      ran = true;
      return {};
    });
    if (!status.ok()) {
      Error error = std::move(status).error();
      error.message =
          "migration " + std::to_string(m.version) + " (" + m.name + ") failed: " + error.message;
      return error;
    }
    if (ran) ++count;
  }
  return count;
}

}  // namespace replideploy::db
