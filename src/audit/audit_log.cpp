#include "audit/audit_log.hpp"

#include <atomic>

#include "core/crypto.hpp"

namespace replideploy::audit {

namespace {

constexpr std::size_t kMaxUserAgentBytes = 512;

// Ids order the events of one millisecond (the list sorts by time, then id): a counter of this
// process, then random bytes so that processes do not collide.
std::string NewEventId() {
  static std::atomic<std::uint64_t> counter{0};
  const std::uint64_t n = counter++;
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i)
    id[static_cast<std::size_t>(i)] = "0123456789abcdef"[(n >> (4 * (15 - i))) & 0xf];
  return id + core::HexEncode(core::RandomBytes(4));
}

}  // namespace

Status RecordAuditEvent(db::Session& session, std::int64_t now, const Event& event) {
  const Actor& actor = event.actor;
  std::string user_agent = actor.client.user_agent.substr(0, kMaxUserAgentBytes);
  db::Value actor_user = actor.user_id.empty() ? db::Value(nullptr) : db::Value(actor.user_id);
  RD_TRY_STATUS(session.Exec(
      "INSERT INTO audit_events (id, user_id, action, subject, created_at, actor_user_id, "
      "actor_credential, client_address, user_agent, details) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {NewEventId(), event.account_user_id, event.action, event.target, now, actor_user,
       actor.credential, actor.client.address, std::move(user_agent), event.details_json}));
  return {};
}

AuditLog::AuditLog(db::Database& db, const core::Clock& clock) : db_(db), clock_(clock) {}

Status AuditLog::Record(const Event& event) {
  return db_.Transaction(
      [&](db::Session& s) { return RecordAuditEvent(s, clock_.NowMillis(), event); });
}

Result<EventPage> AuditLog::List(std::string_view account_user_id, int limit,
                                 std::string_view before) {
  if (limit < 1 || limit > kMaxPageSize) {
    return MakeError(ErrorCode::kBadRequest,
                     "limit must be a number from 1 to " + std::to_string(kMaxPageSize));
  }
  const std::string user(account_user_id);
  std::string sql =
      "SELECT id, created_at, user_id, action, subject, details, actor_user_id, "
      "actor_credential, client_address, user_agent FROM audit_events WHERE user_id = ? ";
  db::Params params{user};
  if (!before.empty()) {
    RD_TRY(db::Rows cursor, db_.Exec("SELECT created_at FROM audit_events "
                                     "WHERE id = ? AND user_id = ?",
                                     {std::string(before), user}));
    if (cursor.empty()) {
      return MakeError(ErrorCode::kBadRequest,
                       "before must be the id of an event of an earlier page");
    }
    const std::int64_t at = cursor.rows.front().Int(0);
    sql += "AND (created_at < ? OR (created_at = ? AND id < ?)) ";
    params.insert(params.end(), {at, at, std::string(before)});
  }
  sql += "ORDER BY created_at DESC, id DESC LIMIT ?";
  params.emplace_back(std::int64_t{limit} + 1);
  RD_TRY(db::Rows rows, db_.Exec(sql, params));
  EventPage page;
  for (const auto& r : rows.rows) {
    if (page.events.size() == static_cast<std::size_t>(limit)) {
      page.next_before = page.events.back().id;
      break;
    }
    StoredEvent e{r.Text(0), r.Int(1),
                  Event{r.Text(2), r.Text(3), r.Text(4), r.Text(5),
                        Actor{r.Text(6), r.Text(7), {r.Text(8), r.Text(9)}}}};
    if (e.event.details_json.empty()) e.event.details_json = "{}";
    page.events.push_back(std::move(e));
  }
  return page;
}

}  // namespace replideploy::audit
