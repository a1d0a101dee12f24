#include "git/webhook_deliveries.hpp"

#include <string>

namespace replideploy::git {
namespace {

constexpr std::int64_t kMillisPerDay = 24LL * 60 * 60 * 1000;

// ON CONFLICT DO NOTHING (SQLite >= 3.24, PostgreSQL >= 9.5) reports a duplicate as 0 rows
// instead of an error, which would doom a surrounding transaction on PostgreSQL.
constexpr std::string_view kInsertSql =
    "INSERT INTO webhook_deliveries (site_id, delivery_id, received_at) VALUES (?, ?, ?) "
    "ON CONFLICT DO NOTHING";

Status CheckIds(std::string_view delivery_id, std::string_view site_id) {
  if (delivery_id.empty()) return MakeError(ErrorCode::kBadRequest, "missing delivery id");
  if (delivery_id.size() > kMaxDeliveryIdLength) {
    return MakeError(ErrorCode::kBadRequest, "delivery id too long");
  }
  for (char c : delivery_id) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return MakeError(ErrorCode::kBadRequest, "delivery id has control characters");
    }
  }
  if (site_id.empty()) return MakeError(ErrorCode::kBadRequest, "missing site id");
  return {};
}

template <typename Executor>
Result<bool> Insert(Executor& executor, std::int64_t now_millis, std::string_view delivery_id,
                    std::string_view site_id) {
  RD_TRY_STATUS(CheckIds(delivery_id, site_id));
  Result<db::Rows> inserted =
      executor.Exec(kInsertSql, {std::string(site_id), std::string(delivery_id), now_millis});
  if (!inserted.ok()) {
    // Not expected with ON CONFLICT, but a key violation still means "seen before".
    if (inserted.error().code == ErrorCode::kConflict) return false;
    return std::move(inserted).error();
  }
  return inserted->affected == 1;
}

}  // namespace

Result<bool> WebhookDeliveries::RecordDelivery(std::string_view delivery_id,
                                               std::string_view site_id) {
  return Insert(db_, clock_.NowMillis(), delivery_id, site_id);
}

Result<bool> WebhookDeliveries::RecordDelivery(db::Session& session, std::int64_t now_millis,
                                               std::string_view delivery_id,
                                               std::string_view site_id) {
  return Insert(session, now_millis, delivery_id, site_id);
}

Status WebhookDeliveries::Forget(std::string_view delivery_id, std::string_view site_id) {
  RD_TRY_STATUS(db_.Exec("DELETE FROM webhook_deliveries WHERE site_id = ? AND delivery_id = ?",
                         {std::string(site_id), std::string(delivery_id)}));
  return {};
}

Result<std::int64_t> WebhookDeliveries::PruneOlderThan(int max_age_days) {
  if (max_age_days < 0) return MakeError(ErrorCode::kBadRequest, "negative age");
  const std::int64_t cutoff = clock_.NowMillis() - max_age_days * kMillisPerDay;
  RD_TRY(db::Rows deleted,
         db_.Exec("DELETE FROM webhook_deliveries WHERE received_at < ?", {cutoff}));
  return deleted.affected;
}

}  // namespace replideploy::git
