#include "roles/tls_ticket_keys.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/crypto.hpp"

namespace replideploy::roles {

namespace {

constexpr std::size_t kNameBytes = 16;
constexpr std::size_t kSecretBytes = 32;  // each of the AES and HMAC keys

}  // namespace

DatabaseTicketKeys::DatabaseTicketKeys(db::Database& db, const core::Clock& clock, std::string key,
                                       std::chrono::seconds rotation)
    : db_(db),
      clock_(clock),
      key_(std::move(key)),
      rotation_ms_(std::max<std::int64_t>(
          1000, std::chrono::duration_cast<std::chrono::milliseconds>(rotation).count())) {}

Result<std::vector<http::TicketKey>> DatabaseTicketKeys::Refresh() {
  const std::int64_t now = clock_.NowMillis();
  RD_TRY(auto newest, db_.Exec("SELECT generation, created_at FROM tls_ticket_keys "
                               "ORDER BY generation DESC LIMIT 1"));
  if (newest.empty() || newest.rows[0].Int(1) + rotation_ms_ <= now) {
    const std::int64_t generation = newest.empty() ? 1 : newest.rows[0].Int(0) + 1;
    RD_TRY_STATUS(Insert(generation));
    // Keys past use: older than three rotations and behind the newest three.
    RD_TRY_STATUS(
        db_.Exec("DELETE FROM tls_ticket_keys WHERE created_at < ? AND generation <= ?",
                 {now - 3 * rotation_ms_, generation - static_cast<std::int64_t>(kKeysInUse)}));
  }
  return Load();
}

Status DatabaseTicketKeys::Insert(std::int64_t generation) {
  const std::string secrets = core::RandomBytes(2 * kSecretBytes);
  RD_TRY(auto inserted,
         db_.Exec("INSERT INTO tls_ticket_keys (generation, name, key_encrypted, created_at) "
                  "VALUES (?, ?, ?, ?) ON CONFLICT (generation) DO NOTHING",
                  {generation, core::HexEncode(core::RandomBytes(kNameBytes)),
                   core::Encrypt(key_, secrets), clock_.NowMillis()}));
  if (inserted.affected != 0) spdlog::info("TLS: ticket key generation {} made", generation);
  return {};
}

Result<std::vector<http::TicketKey>> DatabaseTicketKeys::Load() {
  RD_TRY(auto rows, db_.Exec(fmt::format("SELECT name, key_encrypted FROM tls_ticket_keys "
                                         "ORDER BY generation DESC LIMIT {}",
                                         kKeysInUse)));
  std::vector<http::TicketKey> keys;
  for (const auto& row : rows.rows) {
    RD_TRY(std::string name, core::HexDecode(row.Text(0)));
    RD_TRY(std::string secrets, core::Decrypt(key_, row.Text(1)));
    if (name.size() != kNameBytes || secrets.size() != 2 * kSecretBytes) {
      return MakeError(ErrorCode::kInternal, "a stored ticket key has the wrong size");
    }
    keys.push_back(
        {std::move(name), secrets.substr(0, kSecretBytes), secrets.substr(kSecretBytes)});
  }
  if (keys.empty()) return MakeError(ErrorCode::kInternal, "no ticket key in the database");
  return keys;
}

}  // namespace replideploy::roles
