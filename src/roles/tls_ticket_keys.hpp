// TLS session-ticket keys in the database (migration 0024), shared by every process that serves
// HTTPS: a ticket issued by one edge process resumes a session at any other behind the same
// address. The CertificateStore calls Refresh() through TlsOptions::ticket_keys, at start and
// then periodically from its own thread (never from a handshake).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"
#include "http/tls.hpp"

namespace replideploy::roles {

class DatabaseTicketKeys {
 public:
  // The newest key encrypts, the two before it decrypt.
  static constexpr std::size_t kKeysInUse = 3;

  // `key`: the 32 bytes the keys are encrypted with at rest (CertificateSettings::key).
  // `rotation`: how old the newest key may get before a new one is made (at least 1 s).
  DatabaseTicketKeys(db::Database& db, const core::Clock& clock, std::string key,
                     std::chrono::seconds rotation);

  // Makes a new key when the newest is `rotation` old or there is none (one process wins the
  // race: the others load its key), deletes keys older than three rotations (never the newest
  // three), and returns the keys in use, newest first. Blocks on the database; thread-safe.
  Result<std::vector<http::TicketKey>> Refresh();

  // For TlsOptions::ticket_keys. `this` must outlive the store.
  std::function<Result<std::vector<http::TicketKey>>()> Source() {
    return [this] { return Refresh(); };
  }

 private:
  Result<std::vector<http::TicketKey>> Load();
  // Inserts generation `generation` unless another process did first.
  Status Insert(std::int64_t generation);

  db::Database& db_;
  const core::Clock& clock_;
  const std::string key_;
  const std::int64_t rotation_ms_;
};

}  // namespace replideploy::roles
