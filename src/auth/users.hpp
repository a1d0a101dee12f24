// Accounts, users, login sessions (JWT) and personal API tokens.
//
// Thread-safe: holds no mutable state besides the database. Every call blocks (database,
// Argon2id): run it on a handler thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/crypto.hpp"
#include "core/result.hpp"
#include "db/database.hpp"

namespace replideploy::auth {

struct User {
  std::string id;
  std::string email;
  std::string full_name;
  std::string account_id;    // the user's own account
  std::string account_slug;  // Netlify's account slug
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  bool is_admin = false;  // the instance's administrator: the first account ever registered
};

struct ApiToken {
  std::string id;
  std::string name;
  std::int64_t created_at = 0;
  std::optional<std::int64_t> last_used_at;
};

struct LoginSession {
  std::string token;            // a JWT
  std::int64_t expires_at = 0;  // unix seconds
  User user;
};

// Who may register (--registration). The first account ever may always register, and is the
// administrator.
enum class RegistrationMode {
  kOpen,    // anyone
  kInvite,  // with an unused, unexpired invite code made by the administrator
  kClosed,  // nobody
};
// "open" | "invite" | "closed"; kUnprocessable otherwise.
Result<RegistrationMode> ParseRegistrationMode(std::string_view text);
std::string_view RegistrationModeName(RegistrationMode mode);

struct Invite {
  std::string code;             // shown once; only its digest is stored
  std::int64_t expires_at = 0;  // unix millis
};

struct UserServiceOptions {
  std::string jwt_key;  // HMAC key for session tokens
  std::int64_t jwt_ttl_seconds = 24 * 3600;
  core::PasswordCost password_cost = core::PasswordCost::Interactive();
  RegistrationMode registration = RegistrationMode::kOpen;
};

// Lower-cases and trims an email address and checks its shape. kUnprocessable otherwise.
Result<std::string> NormalizeEmail(std::string_view email);

class UserService {
 public:
  static constexpr std::size_t kMinPasswordLength = 8;
  static constexpr std::size_t kMaxPasswordBytes = 1024;
  static constexpr std::string_view kApiTokenPrefix = "rdp_";

  UserService(db::Database& db, const core::Clock& clock, UserServiceOptions options);

  static constexpr std::int64_t kDefaultInviteTtlMillis = std::int64_t{7} * 24 * 3600 * 1000;
  static constexpr std::int64_t kMaxInviteTtlMillis = std::int64_t{90} * 24 * 3600 * 1000;

  // Creates the user and their own account. kUnprocessable (detail "invalid_email",
  // "password_too_short", ...) for bad input, kConflict ("email_taken") for a taken email.
  // The first account ever registers whatever the mode and is the administrator. Otherwise
  // kForbidden "registration_closed" when registration is closed, and, when it needs an invite,
  // kForbidden "invalid_invite" unless `invite` is an unused, unexpired code, which this
  // registration then uses up (in the same transaction as the user's row).
  Result<User> Register(std::string_view email, std::string_view password,
                        std::string_view full_name = {}, std::string_view invite = {});
  RegistrationMode registration() const { return options_.registration; }

  // A single-use invite code valid for `ttl_millis` (1 minute to kMaxInviteTtlMillis, else
  // kUnprocessable). kForbidden "admin_only" unless `user_id` is the administrator.
  Result<Invite> CreateInvite(std::string_view user_id,
                              std::int64_t ttl_millis = kDefaultInviteTtlMillis);

  // kUnauthenticated with the same message for an unknown email and a wrong password, after the
  // same amount of work.
  Result<LoginSession> Login(std::string_view email, std::string_view password);

  // The user behind a bearer credential: a session JWT or an API token ("rdp_..."). Revoked,
  // expired, forged or unknown credentials are kUnauthenticated.
  Result<User> Authenticate(std::string_view bearer);

  Result<User> FindUser(std::string_view user_id);

  // Returns the token's record and its secret, which is never retrievable again.
  Result<std::pair<ApiToken, std::string>> CreateApiToken(std::string_view user_id,
                                                          std::string_view name);
  // Live (not revoked) tokens, newest first.
  Result<std::vector<ApiToken>> ListApiTokens(std::string_view user_id);
  // kNotFound for a token that is not the user's or already revoked.
  Status RevokeApiToken(std::string_view user_id, std::string_view token_id);

 private:
  Result<User> AuthenticateApiToken(std::string_view token);

  db::Database& db_;
  const core::Clock& clock_;
  UserServiceOptions options_;
  std::string dummy_hash_;  // verified against for unknown emails, to keep timing equal
};

}  // namespace replideploy::auth
