// Change events: what the edges must hear of at once when another process changes what they
// serve. One PostgreSQL channel carries them (LISTEN/NOTIFY, sent in the changing
// transaction, delivered on commit); with SQLite nothing is sent, and the services' in-process
// listeners tell the edges of their own process (the only ones there can be).
//
// The payload is a small JSON object: {"kind":"publish","site_id":"..."}. Pure functions
// over strings plus the two Notify shorthands; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "db/database.hpp"

namespace replideploy::db {

inline constexpr std::string_view kChangesChannel = "replideploy_changes";

enum class ChangeKind {
  kPublish,      // a deploy was published or rolled back to (site_id)
  kLock,         // a site's auto-publishing was locked or unlocked (site_id)
  kSite,         // a site's settings, name, password or existence changed (site_id)
  kDomain,       // custom domains changed (site_id when one site's)
  kCertificate,  // a certificate was issued, renewed or expired (no site)
};

struct ChangeEvent {
  ChangeKind kind = ChangeKind::kSite;
  std::string site_id;  // "" when the change is not one site's
};

std::string_view ChangeKindName(ChangeKind kind);
std::string ChangeEventPayload(const ChangeEvent& event);
// Nullopt for anything but a payload ChangeEventPayload makes (an unknown kind included): the
// listener should then refresh everything.
std::optional<ChangeEvent> ParseChangeEvent(std::string_view payload);

// Sends `event` on kChangesChannel: inside a transaction (delivered on commit) or on its own.
Status NotifyChange(Session& session, const ChangeEvent& event);
Status NotifyChange(Database& db, const ChangeEvent& event);

}  // namespace replideploy::db
