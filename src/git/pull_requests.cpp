#include "git/pull_requests.hpp"

#include <string>

namespace replideploy::git {

Status ClosedPullRequests::MarkClosed(std::string_view site_id, std::int64_t number) {
  RD_TRY_STATUS(
      db_.Exec("INSERT INTO closed_pull_requests (site_id, number, closed_at) VALUES (?, ?, ?) "
               "ON CONFLICT (site_id, number) DO NOTHING",
               {std::string(site_id), number, clock_.NowMillis()}));
  return {};
}

Status ClosedPullRequests::Reopen(std::string_view site_id, std::int64_t number) {
  RD_TRY_STATUS(db_.Exec("DELETE FROM closed_pull_requests WHERE site_id = ? AND number = ?",
                         {std::string(site_id), number}));
  return {};
}

Result<bool> ClosedPullRequests::IsClosed(std::string_view site_id, std::int64_t number) {
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT 1 FROM closed_pull_requests WHERE site_id = ? AND number = ?",
                  {std::string(site_id), number}));
  return !rows.empty();
}

}  // namespace replideploy::git
