// Internal to db/: the engine drivers behind Open() and the helpers they share. Other
// components use database.hpp only.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "db/database.hpp"

namespace replideploy::db::internal {

// `path` is a file path or ":memory:". Fails (never throws) when the file cannot be opened or
// created, with one line naming the path and the reason.
Result<std::unique_ptr<Database>> OpenSqlite(const std::string& path, const OpenOptions& options);

// `url` is a libpq URL. Connects once before returning, so a bad URL or an unreachable server
// fails here; the message never contains the URL's password.
Result<std::unique_ptr<Database>> OpenPostgres(const std::string& url, const OpenOptions& options);

// The URL with its passwords replaced by "***" ("postgres://u:***@h/db?sslpassword=***"), for
// messages and logs. Covers the user info and query parameters named like "password".
std::string RedactUrl(std::string_view url);

// The passwords RedactUrl hides, as written in the URL (possibly percent-encoded).
std::vector<std::string> UrlPasswords(std::string_view url);

// Rewrites each '?' placeholder to $1, $2, ... skipping string literals ('...', E'...',
// $tag$...$tag$), quoted identifiers ("...") and comments (--, nested /* */). Sets
// `placeholders` to the number rewritten.
std::string RewritePlaceholders(std::string_view sql, int& placeholders);

// What a Session returns once a statement in its transaction has failed: the transaction is
// doomed (PostgreSQL rejects everything after an error until ROLLBACK), and both engines
// behave alike so code tested on SQLite holds on PostgreSQL.
inline Error TransactionAlreadyFailed(const Error& first) {
  return Error{first.code, "transaction already failed: " + first.message};
}

// Collapses line breaks and runs of blanks into single spaces and trims: one log line.
std::string OneLine(std::string_view text);

}  // namespace replideploy::db::internal
