// Copies of a SQLite database made with SQLite's online backup API (sqlite3_backup_*): a
// consistent snapshot even while other connections (another process) write to it, taken a
// batch of pages at a time so that writers are not held up for the whole copy.
#pragma once

#include <string>

#include "core/result.hpp"

namespace replideploy::db {

// Copies the database file at `from_path` into `to_path` (created or replaced; any -wal and
// -shm files beside `to_path` are removed first). Fails with one line naming the file and
// SQLite's message; a failed copy leaves no file at `to_path`.
Status BackupSqliteFile(const std::string& from_path, const std::string& to_path);

// The file a "sqlite://PATH" URL names, or kBadRequest for any other URL.
Result<std::string> SqlitePathFromUrl(const std::string& url);

}  // namespace replideploy::db
