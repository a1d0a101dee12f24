// Numbered SQL migrations (src/db/migrations/NNNN_name.sql, compiled into the binary), applied
// in order, each in its own transaction together with its row in schema_migrations. Safe to
// run from several processes at once on PostgreSQL (advisory lock) and on SQLite (IMMEDIATE
// transactions): each migration is applied exactly once.
#pragma once

#include <string>
#include <vector>

#include "core/result.hpp"
#include "db/database.hpp"

namespace replideploy::db {

struct Migration {
  int version;
  std::string name;
  std::string sql;  // may hold several statements separated by ';'
};

// The migrations compiled into this binary, in version order.
const std::vector<Migration>& BuiltinMigrations();

// Applies what is missing. Returns how many were applied. Fails if the database holds a
// version this binary does not know (a newer binary migrated it).
Result<int> Migrate(Database& db, const std::vector<Migration>& migrations = BuiltinMigrations());

}  // namespace replideploy::db
