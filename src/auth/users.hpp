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

#include "audit/audit_log.hpp"
#include "auth/scopes.hpp"
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
  ScopeSet scopes = ScopeSet::All();
  std::optional<std::int64_t> expires_at;  // unix millis; none: never
};

// What a new API token may do and for how long.
struct NewApiToken {
  std::string name;
  std::optional<ScopeSet> scopes;          // none: the creator's own
  std::optional<std::int64_t> expires_at;  // unix millis; none: the creator's own expiry
};

struct LoginSession {
  std::string token;  // a JWT carrying the session id
  std::string session_id;
  std::int64_t expires_at = 0;  // unix seconds
  User user;
};

// One login as the session list shows it.
struct SessionInfo {
  std::string id;
  std::int64_t created_at = 0;    // unix millis, as the rest
  std::int64_t last_seen_at = 0;  // updated at most once a minute
  std::int64_t expires_at = 0;
  std::string client_address;
  std::string user_agent;
};

// Who a request acts as: the user, and the credential it came with (a login session or an API
// token, with the token's scopes and expiry).
struct Principal {
  User user;
  std::string session_id;  // set for a login session
  std::string token_id;    // set for an API token
  ScopeSet scopes = ScopeSet::All();
  std::optional<std::int64_t> token_expires_at;  // unix millis

  bool Allows(Scope s) const { return scopes.Has(s); }
  // "session:<id>" or "token:<id>", as the audit log records it.
  std::string Credential() const;
  audit::Actor ActorFrom(const audit::ClientInfo& client) const {
    return {user.id, Credential(), client};
  }
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
                        std::string_view full_name = {}, std::string_view invite = {},
                        const audit::ClientInfo& client = {});
  // The rules of a new password (length in characters and bytes): kUnprocessable
  // "password_too_short" / "password_too_long" otherwise.
  static Status CheckNewPassword(std::string_view password);
  // The Argon2id cost this service hashes passwords with (also used for site passwords).
  const core::PasswordCost& password_cost() const { return options_.password_cost; }
  RegistrationMode registration() const { return options_.registration; }

  // A single-use invite code valid for `ttl_millis` (1 minute to kMaxInviteTtlMillis, else
  // kUnprocessable). kForbidden "admin_only" unless `user_id` is the administrator.
  Result<Invite> CreateInvite(std::string_view user_id,
                              std::int64_t ttl_millis = kDefaultInviteTtlMillis);

  // Starts a login session (table sessions) and returns its JWT. kUnauthenticated with the
  // same message for an unknown email and a wrong password, after the same amount of work. The
  // audit log gets "login.succeeded", or "login.failed" on the account a wrong password was
  // tried for (nothing for an unknown email).
  Result<LoginSession> Login(std::string_view email, std::string_view password,
                             const audit::ClientInfo& client = {});

  // Who is behind a bearer credential: a session JWT or an API token ("rdp_..."). Forged or
  // unknown credentials, JWTs of no live session (revoked: detail "session_revoked"; a JWT
  // made before sessions existed has none) and expired tokens (detail "token_expired") are
  // kUnauthenticated. One indexed lookup; a session's last_seen_at is written at most once a
  // minute.
  Result<Principal> Authenticate(std::string_view bearer);

  // Ends the principal's login session. kBadRequest "not_a_session" for an API token.
  Status Logout(const Principal& principal, const audit::ClientInfo& client);

  // Checks `current` and sets `new_password` (the registration rules), ending every other live
  // session of the user (all of them when `principal` is an API token). API tokens stay valid.
  // kUnprocessable "invalid_current_password" for a wrong current password.
  Status ChangePassword(const Principal& principal, std::string_view current,
                        std::string_view new_password, const audit::ClientInfo& client);

  // The user's live sessions, newest first.
  Result<std::vector<SessionInfo>> ListSessions(std::string_view user_id);
  // kNotFound for a session that is not the user's, or already ended.
  Status RevokeSession(const Principal& principal, std::string_view session_id,
                       const audit::ClientInfo& client);

  Result<User> FindUser(std::string_view user_id);

  // Returns the token's record and its secret, which is never retrievable again. A session may
  // make any token; an API token only one within its own scopes (kForbidden
  // "insufficient_scope") that expires no later than itself (kForbidden
  // "token_outlives_creator"); what the spec leaves out is the creator's. kUnprocessable for a
  // bad name or an expiry not in the future.
  Result<std::pair<ApiToken, std::string>> CreateApiToken(const Principal& creator,
                                                          const NewApiToken& spec,
                                                          const audit::ClientInfo& client = {});
  // Live (not revoked) tokens, newest first, expired ones included (marked by expires_at).
  Result<std::vector<ApiToken>> ListApiTokens(std::string_view user_id);
  // kNotFound for a token that is not the user's or already revoked.
  Status RevokeApiToken(const Principal& principal, std::string_view token_id,
                        const audit::ClientInfo& client = {});

  // A principal with every scope for `user`, as a login session has (for tests and tools).
  static Principal FullAccess(User user);

 private:
  Result<Principal> AuthenticateApiToken(std::string_view token);
  Result<Principal> AuthenticateSession(std::string_view jwt);

  db::Database& db_;
  const core::Clock& clock_;
  UserServiceOptions options_;
  std::string dummy_hash_;  // verified against for unknown emails, to keep timing equal
};

}  // namespace replideploy::auth
