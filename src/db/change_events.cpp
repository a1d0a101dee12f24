#include "db/change_events.hpp"

#include <array>
#include <boost/json.hpp>
#include <utility>

namespace replideploy::db {

namespace {

constexpr std::array<std::pair<ChangeKind, std::string_view>, 5> kKinds{{
    {ChangeKind::kPublish, "publish"},
    {ChangeKind::kLock, "lock"},
    {ChangeKind::kSite, "site"},
    {ChangeKind::kDomain, "domain"},
    {ChangeKind::kCertificate, "certificate"},
}};

}  // namespace

std::string_view ChangeKindName(ChangeKind kind) {
  for (const auto& [k, name] : kKinds) {
    if (k == kind) return name;
  }
  return "site";
}

std::string ChangeEventPayload(const ChangeEvent& event) {
  boost::json::object o{{"kind", ChangeKindName(event.kind)}};
  if (!event.site_id.empty()) o["site_id"] = event.site_id;
  return boost::json::serialize(o);
}

std::optional<ChangeEvent> ParseChangeEvent(std::string_view payload) {
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(payload, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const boost::json::object& o = value.get_object();
  const boost::json::value* kind = o.if_contains("kind");
  if (kind == nullptr || !kind->is_string()) return std::nullopt;
  ChangeEvent event;
  bool known = false;
  for (const auto& [k, name] : kKinds) {
    if (kind->get_string() == name) {
      event.kind = k;
      known = true;
    }
  }
  if (!known) return std::nullopt;
  if (const boost::json::value* site = o.if_contains("site_id")) {
    if (!site->is_string()) return std::nullopt;
    event.site_id = std::string(site->get_string());
  }
  return event;
}

Status NotifyChange(Session& session, const ChangeEvent& event) {
  return session.Notify(kChangesChannel, ChangeEventPayload(event));
}

Status NotifyChange(Database& db, const ChangeEvent& event) {
  return db.Notify(kChangesChannel, ChangeEventPayload(event));
}

}  // namespace replideploy::db
