// `replideploy backup --to DIR` and `replideploy restore --from DIR` (docs/operations.md,
// "Backup and restore").
//
// A backup folder holds:
//   manifest.json   what was copied, when, by which version (written last: a folder without it
//                   is an unfinished backup)
//   replideploy.db  the SQLite database, a consistent snapshot by SQLite's online backup API
//                   (taken while the server runs); absent for PostgreSQL (use pg_dump)
//   secret.key      the server key (env vars, tokens and certificate keys are encrypted with
//                   it); absent when the key comes from --secret-key
//   store/blobs/    the local blob store's files (content-addressed: a file already in the
//                   folder is kept, a new one is hard-linked when on the same file system, else
//                   copied); absent for an S3 store
//   repos/          the platform's own git repositories
// The database is copied before the blobs: every blob a deploy of the snapshot names was
// stored before that deploy's rows, so it is there when the blobs are copied.
#pragma once

#include <string>

#include "core/config.hpp"

namespace replideploy::cli {

// Returns the exit code (0, or 1 with one line on stderr).
int RunBackup(const core::ServeConfig& config, const std::string& to_dir);
// Refuses a data dir that is not empty unless `force` (then the database, key, blobs and
// repositories of the backup replace the data dir's).
int RunRestore(const core::ServeConfig& config, const std::string& from_dir, bool force);

}  // namespace replideploy::cli
