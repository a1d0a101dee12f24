// Pull requests closed on GitHub, per site (table closed_pull_requests, owned here): a late
// `synchronize` delivery of a closed pull request starts no preview; `reopened` clears it.
// Thread-safe (the Database is).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"

namespace replideploy::git {

class ClosedPullRequests {
 public:
  ClosedPullRequests(db::Database& db, const core::Clock& clock) : db_(db), clock_(clock) {}

  Status MarkClosed(std::string_view site_id, std::int64_t number);
  Status Reopen(std::string_view site_id, std::int64_t number);
  Result<bool> IsClosed(std::string_view site_id, std::int64_t number);

 private:
  db::Database& db_;
  const core::Clock& clock_;
};

}  // namespace replideploy::git
