// Webhook deliveries already seen, so a redelivered X-GitHub-Delivery starts nothing twice.
//
// Table `webhook_deliveries` (src/db/migrations/0004_webhooks.sql). Ids are deduplicated per
// site. Thread-safe (the Database is); two concurrent RecordDelivery calls with the same id
// return true exactly once, on SQLite and on PostgreSQL.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"

namespace replideploy::git {

// X-GitHub-Delivery is a GUID; anything longer than this is refused.
inline constexpr std::size_t kMaxDeliveryIdLength = 200;

class WebhookDeliveries {
 public:
  // Both must outlive this object.
  WebhookDeliveries(db::Database& db, const core::Clock& clock) : db_(db), clock_(clock) {}

  // Records `delivery_id` for `site_id`: true the first time, false when it was seen before
  // (and not yet pruned). kBadRequest for an empty id, an id over kMaxDeliveryIdLength or one
  // with control characters; database errors otherwise.
  Result<bool> RecordDelivery(std::string_view delivery_id, std::string_view site_id);

  // The same inside a caller's transaction, so the delivery is recorded only if the deploy it
  // starts is created too. A duplicate does not doom the transaction.
  static Result<bool> RecordDelivery(db::Session& session, std::int64_t now_millis,
                                     std::string_view delivery_id, std::string_view site_id);

  // Forgets a delivery whose build could not be queued, so GitHub's redelivery tries again.
  Status Forget(std::string_view delivery_id, std::string_view site_id);

  // Deletes deliveries received more than `max_age_days` days ago (by the clock); returns how
  // many. kBadRequest for a negative age.
  Result<std::int64_t> PruneOlderThan(int max_age_days);

 private:
  db::Database& db_;
  const core::Clock& clock_;
};

}  // namespace replideploy::git
