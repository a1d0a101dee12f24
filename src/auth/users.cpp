#include "auth/users.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "auth/jwt.hpp"
#include "core/clock.hpp"
#include "core/ids.hpp"

namespace replideploy::auth {

namespace json = boost::json;

namespace {

constexpr std::int64_t kLastSeenResolutionMillis = 60'000;

constexpr std::string_view kUserColumns =
    "u.id, u.email, u.full_name, a.id, a.slug, u.created_at, u.updated_at, u.is_admin";
constexpr std::string_view kUserFrom = " FROM users u JOIN accounts a ON a.owner_user_id = u.id ";

User UserFromRow(const db::Row& r, std::size_t offset = 0) {
  return User{r.Text(offset + 0), r.Text(offset + 1), r.Text(offset + 2), r.Text(offset + 3),
              r.Text(offset + 4), r.Int(offset + 5),  r.Int(offset + 6),  r.Bool(offset + 7)};
}

std::size_t Utf8Length(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// An account slug from the email's local part: "Jane.Doe+x@..." -> "jane-doe-x".
std::string SlugFromEmail(std::string_view email) {
  std::string slug;
  for (char c : email.substr(0, email.find('@'))) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      slug.push_back(c);
    } else if (!slug.empty() && slug.back() != '-') {
      slug.push_back('-');
    }
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  if (slug.size() > 40) slug.resize(40);
  if (slug.empty()) slug = "team";
  return slug;
}

std::string HashToken(std::string_view token) {
  // API tokens carry 256 random bits, so a fast hash is enough; only their digest is stored.
  return core::HexEncode(core::Sha256(token));
}

Error Forbidden(std::string detail, std::string message) {
  Error e = MakeError(ErrorCode::kForbidden, std::move(message));
  e.detail_code = std::move(detail);
  return e;
}

// Claims the instance's first account for `user_id`: true when nobody had (one row, id 1; a
// concurrent claim waits for this transaction and then finds the row).
Result<bool> ClaimFirstAccount(db::Session& s, const std::string& user_id, std::int64_t now) {
  RD_TRY(db::Rows claimed, s.Exec("INSERT INTO first_account (id, user_id, created_at) "
                                  "VALUES (1, ?, ?) ON CONFLICT DO NOTHING",
                                  {user_id, now}));
  return claimed.affected == 1;
}

// Uses up the invite `code` for `user_id`; kForbidden when it is unknown, used or expired.
Status UseInvite(db::Session& s, std::string_view code, const std::string& user_id,
                 std::int64_t now) {
  const Error invalid = Forbidden(
      "invalid_invite",
      "registration needs an invite; this invite code is unknown, already used or expired");
  if (code.empty() || code.size() > 200) return invalid;
  RD_TRY(db::Rows used, s.Exec("UPDATE invites SET used_at = ?, used_by = ? WHERE code_hash = ? "
                               "AND used_at IS NULL AND expires_at > ?",
                               {now, user_id, HashToken(code), now}));
  if (used.affected != 1) return invalid;
  return {};
}

Error Unauthenticated(std::string message) {
  return MakeError(ErrorCode::kUnauthenticated, std::move(message));
}

Error Unauthenticated(std::string detail, std::string message) {
  return MakeError(ErrorCode::kUnauthenticated, std::move(detail), std::move(message));
}

json::array ScopesJson(ScopeSet scopes) {
  json::array out;
  for (const auto& name : scopes.Names()) out.emplace_back(name);
  return out;
}

// An event of the user's own account, done by `actor`.
audit::Event OwnEvent(const std::string& user_id, std::string action, std::string target,
                      audit::Actor actor, json::object details = {}) {
  return audit::Event{user_id, std::move(action), std::move(target), json::serialize(details),
                      std::move(actor)};
}

ApiToken TokenFromRow(const db::Row& r) {
  ApiToken t{r.Text(0),   r.Text(1), r.Int(2), std::nullopt, ScopeSet::FromStorage(r.Text(4)),
             std::nullopt};
  if (!r.IsNull(3)) t.last_used_at = r.Int(3);
  if (!r.IsNull(5)) t.expires_at = r.Int(5);
  return t;
}

}  // namespace

std::string Principal::Credential() const {
  if (!session_id.empty()) return "session:" + session_id;
  if (!token_id.empty()) return "token:" + token_id;
  return "";
}

Principal UserService::FullAccess(User user) {
  Principal p;
  p.user = std::move(user);
  return p;
}

Status UserService::CheckNewPassword(std::string_view password) {
  if (Utf8Length(password) < kMinPasswordLength) {
    return Unprocessable("password_too_short", "password must be at least 8 characters");
  }
  if (password.size() > kMaxPasswordBytes) {
    return Unprocessable("password_too_long", "password must be at most 1024 bytes");
  }
  return {};
}

Result<std::string> NormalizeEmail(std::string_view email) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!email.empty() && is_space(email.front())) email.remove_prefix(1);
  while (!email.empty() && is_space(email.back())) email.remove_suffix(1);
  std::string out;
  out.reserve(email.size());
  for (char c : email)
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  const auto at = out.find('@');
  const auto bad = [&] { return Unprocessable("invalid_email", "email is not a valid address"); };
  if (out.empty() || out.size() > 254 || at == std::string::npos || at == 0 || at > 64 ||
      out.find('@', at + 1) != std::string::npos) {
    return bad();
  }
  for (char c : out) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',' ||
        c == '"' || c == '\\' || c == '(' || c == ')' || c == ';' || c == ':') {
      return bad();
    }
  }
  const std::string_view domain = std::string_view(out).substr(at + 1);
  if (domain.find('.') == std::string_view::npos || domain.front() == '.' || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos) {
    return bad();
  }
  return out;
}

UserService::UserService(db::Database& db, const core::Clock& clock, UserServiceOptions options)
    : db_(db), clock_(clock), options_(std::move(options)) {
  dummy_hash_ = core::HashPassword("dummy password for timing", options_.password_cost).value();
}

Result<RegistrationMode> ParseRegistrationMode(std::string_view text) {
  if (text == "open") return RegistrationMode::kOpen;
  if (text == "invite") return RegistrationMode::kInvite;
  if (text == "closed") return RegistrationMode::kClosed;
  return Unprocessable("invalid_registration", "registration must be open, invite or closed");
}

std::string_view RegistrationModeName(RegistrationMode mode) {
  switch (mode) {
    case RegistrationMode::kOpen:
      return "open";
    case RegistrationMode::kInvite:
      return "invite";
    case RegistrationMode::kClosed:
      return "closed";
  }
  return "closed";
}

Result<User> UserService::Register(std::string_view email_in, std::string_view password,
                                   std::string_view full_name, std::string_view invite,
                                   const audit::ClientInfo& client) {
  RD_TRY(std::string email, NormalizeEmail(email_in));
  RD_TRY_STATUS(CheckNewPassword(password));
  if (full_name.size() > 200) return Unprocessable("invalid_full_name", "full_name is too long");
  RD_TRY(std::string hash, core::HashPassword(password, options_.password_cost));

  const std::int64_t now = clock_.NowMillis();
  User user{core::NewUuid(),
            email,
            std::string(full_name),
            core::NewHexId(),
            SlugFromEmail(email),
            now,
            now};
  Status st = db_.Transaction([&](db::Session& s) -> Status {
    RD_TRY(user.is_admin, ClaimFirstAccount(s, user.id, now));
    if (!user.is_admin && options_.registration == RegistrationMode::kClosed) {
      return Forbidden("registration_closed", "registration is closed on this server");
    }
    if (!user.is_admin && options_.registration == RegistrationMode::kInvite) {
      RD_TRY_STATUS(UseInvite(s, invite, user.id, now));
    }
    auto inserted = s.Exec(
        "INSERT INTO users (id, email, password_hash, full_name, created_at, updated_at, "
        "is_admin) VALUES (?, ?, ?, ?, ?, ?, ?)",
        {user.id, user.email, hash, user.full_name, now, now, std::int64_t{user.is_admin ? 1 : 0}});
    if (!inserted.ok()) {
      if (inserted.error().code != ErrorCode::kConflict) return std::move(inserted).error();
      Error e = MakeError(ErrorCode::kConflict, "a user with this email already exists");
      e.detail_code = "email_taken";
      return e;
    }
    RD_TRY(db::Rows taken, s.Exec("SELECT 1 FROM accounts WHERE slug = ?", {user.account_slug}));
    if (!taken.empty()) user.account_slug += "-" + core::HexEncode(core::RandomBytes(3));
    RD_TRY_STATUS(s.Exec(
        "INSERT INTO accounts (id, slug, name, owner_user_id, created_at) VALUES (?, ?, ?, ?, ?)",
        {user.account_id, user.account_slug, user.full_name.empty() ? user.email : user.full_name,
         user.id, now}));
    return audit::RecordAuditEvent(
        s, now,
        OwnEvent(user.id, "user.registered", user.id, audit::Actor{user.id, "", client},
                 json::object{{"email", user.email}, {"admin", user.is_admin}}));
  });
  if (!st.ok()) return std::move(st).error();
  return user;
}

Result<LoginSession> UserService::Login(std::string_view email_in, std::string_view password,
                                        const audit::ClientInfo& client) {
  const Error wrong = Unauthenticated("invalid email or password");
  auto email = NormalizeEmail(email_in);
  std::optional<db::Row> row;
  if (email.ok()) {
    RD_TRY(db::Rows rows,
           db_.Exec(std::string("SELECT ") + std::string(kUserColumns) + ", u.password_hash" +
                        std::string(kUserFrom) + "WHERE u.email = ?",
                    {*email}));
    if (!rows.empty()) row = rows.rows.front();
  }
  if (!row) {
    core::VerifyPassword(password, dummy_hash_);
    return wrong;
  }
  LoginSession session;
  session.user = UserFromRow(*row);
  const std::int64_t now = clock_.NowMillis();
  if (password.size() > kMaxPasswordBytes || !core::VerifyPassword(password, row->Text(8))) {
    // On the account's own log, with the address; the answer is the unknown email's.
    RD_TRY_STATUS(db_.Transaction([&](db::Session& s) {
      return audit::RecordAuditEvent(
          s, now,
          OwnEvent(session.user.id, "login.failed", session.user.id, audit::Actor{"", "", client}));
    }));
    return wrong;
  }
  const std::int64_t now_seconds = now / 1000;
  session.expires_at = now_seconds + options_.jwt_ttl_seconds;
  session.session_id = core::NewHexId();
  RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
    RD_TRY_STATUS(
        s.Exec("INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at, "
               "client_address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)",
               {session.session_id, session.user.id, now, now, session.expires_at * 1000,
                client.address, client.user_agent.substr(0, 512)}));
    return audit::RecordAuditEvent(
        s, now,
        OwnEvent(session.user.id, "login.succeeded", session.session_id,
                 audit::Actor{session.user.id, "session:" + session.session_id, client}));
  }));
  session.token = SignJwt({session.user.id, now_seconds, session.expires_at, session.session_id},
                          options_.jwt_key);
  return session;
}

Result<Principal> UserService::Authenticate(std::string_view bearer) {
  if (bearer.empty()) return Unauthenticated("missing credentials");
  if (bearer.starts_with(kApiTokenPrefix)) return AuthenticateApiToken(bearer);
  return AuthenticateSession(bearer);
}

Result<Principal> UserService::AuthenticateSession(std::string_view jwt) {
  const std::int64_t now = clock_.NowMillis();
  RD_TRY(JwtClaims claims, VerifyJwt(jwt, options_.jwt_key, now / 1000));
  if (claims.session_id.empty()) {
    return Unauthenticated("token has no session (made before sessions existed); log in again");
  }
  RD_TRY(db::Rows rows,
         db_.Exec(std::string("SELECT s.revoked_at, s.expires_at, s.last_seen_at, ") +
                      std::string(kUserColumns) +
                      " FROM sessions s JOIN users u ON u.id = s.user_id"
                      " JOIN accounts a ON a.owner_user_id = u.id WHERE s.id = ?",
                  {claims.session_id}));
  if (rows.empty()) return Unauthenticated("session not found");
  const db::Row& r = rows.rows.front();
  Principal principal;
  principal.user = UserFromRow(r, 3);
  if (principal.user.id != claims.subject) return Unauthenticated("session of another user");
  if (!r.IsNull(0)) {
    return Unauthenticated("session_revoked",
                           "this session has ended (logged out or revoked); "
                           "log in again");
  }
  if (r.Int(1) <= now) return Unauthenticated("session expired");
  if (r.Int(2) < now - kLastSeenResolutionMillis) {
    // Best effort: a failed timestamp update must not fail the request.
    (void)db_.Exec("UPDATE sessions SET last_seen_at = ? WHERE id = ?", {now, claims.session_id});
  }
  principal.session_id = std::move(claims.session_id);
  return principal;
}

Result<Principal> UserService::AuthenticateApiToken(std::string_view token) {
  RD_TRY(db::Rows rows,
         db_.Exec(std::string("SELECT t.id, t.scopes, t.expires_at, t.last_used_at, ") +
                      std::string(kUserColumns) +
                      " FROM api_tokens t JOIN users u ON u.id = t.user_id"
                      " JOIN accounts a ON a.owner_user_id = u.id"
                      " WHERE t.token_hash = ? AND t.revoked_at IS NULL",
                  {HashToken(token)}));
  if (rows.empty()) return Unauthenticated("unknown or revoked API token");
  const db::Row& r = rows.rows.front();
  const std::int64_t now = clock_.NowMillis();
  if (!r.IsNull(2) && r.Int(2) <= now) {
    return Unauthenticated(
        "token_expired",
        "this API token expired at " + core::FormatIso8601(r.Int(2)) + "; create a new one");
  }
  Principal principal;
  principal.user = UserFromRow(r, 4);
  principal.token_id = r.Text(0);
  principal.scopes = ScopeSet::FromStorage(r.Text(1));
  if (!r.IsNull(2)) principal.token_expires_at = r.Int(2);
  // Best effort: a failed timestamp update must not fail the request. To the minute, as for
  // sessions: a deploy's thousands of uploads are not thousands of writes.
  if (r.IsNull(3) || r.Int(3) < now - kLastSeenResolutionMillis) {
    (void)db_.Exec("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", {now, r.Text(0)});
  }
  return principal;
}

Status UserService::Logout(const Principal& principal, const audit::ClientInfo& client) {
  if (principal.session_id.empty()) {
    return MakeError(ErrorCode::kBadRequest, "not_a_session",
                     "logout ends a login session; revoke an API token with "
                     "DELETE /api/v1/tokens/{id}");
  }
  const std::int64_t now = clock_.NowMillis();
  return db_.Transaction([&](db::Session& s) -> Status {
    RD_TRY_STATUS(s.Exec("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                         {now, principal.session_id}));
    return audit::RecordAuditEvent(
        s, now,
        OwnEvent(principal.user.id, "logout", principal.session_id, principal.ActorFrom(client)));
  });
}

Status UserService::ChangePassword(const Principal& principal, std::string_view current,
                                   std::string_view new_password, const audit::ClientInfo& client) {
  RD_TRY_STATUS(CheckNewPassword(new_password));
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT password_hash FROM users WHERE id = ?", {principal.user.id}));
  if (rows.empty()) return Unauthenticated("user no longer exists");
  const std::int64_t now = clock_.NowMillis();
  if (current.size() > kMaxPasswordBytes ||
      !core::VerifyPassword(current, rows.rows.front().Text(0))) {
    RD_TRY_STATUS(db_.Transaction([&](db::Session& s) {
      return audit::RecordAuditEvent(s, now,
                                     OwnEvent(principal.user.id, "password.change_failed",
                                              principal.user.id, principal.ActorFrom(client)));
    }));
    return Unprocessable("invalid_current_password",
                         "current_password is not your current password");
  }
  RD_TRY(std::string hash, core::HashPassword(new_password, options_.password_cost));
  return db_.Transaction([&](db::Session& s) -> Status {
    RD_TRY_STATUS(s.Exec("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
                         {hash, now, principal.user.id}));
    RD_TRY(db::Rows revoked, s.Exec("UPDATE sessions SET revoked_at = ? "
                                    "WHERE user_id = ? AND revoked_at IS NULL AND id <> ?",
                                    {now, principal.user.id, principal.session_id}));
    return audit::RecordAuditEvent(
        s, now,
        OwnEvent(principal.user.id, "password.changed", principal.user.id,
                 principal.ActorFrom(client),
                 json::object{{"sessions_revoked", revoked.affected}, {"api_tokens_kept", true}}));
  });
}

Result<std::vector<SessionInfo>> UserService::ListSessions(std::string_view user_id) {
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT id, created_at, last_seen_at, expires_at, client_address, user_agent "
                  "FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? "
                  "ORDER BY created_at DESC, id",
                  {std::string(user_id), clock_.NowMillis()}));
  std::vector<SessionInfo> out;
  for (const auto& r : rows.rows) {
    out.push_back({r.Text(0), r.Int(1), r.Int(2), r.Int(3), r.Text(4), r.Text(5)});
  }
  return out;
}

Status UserService::RevokeSession(const Principal& principal, std::string_view session_id,
                                  const audit::ClientInfo& client) {
  const std::int64_t now = clock_.NowMillis();
  return db_.Transaction([&](db::Session& s) -> Status {
    RD_TRY(db::Rows ended, s.Exec("UPDATE sessions SET revoked_at = ? WHERE id = ? AND "
                                  "user_id = ? AND revoked_at IS NULL AND expires_at > ?",
                                  {now, std::string(session_id), principal.user.id, now}));
    if (ended.affected == 0) return MakeError(ErrorCode::kNotFound, "session not found");
    return audit::RecordAuditEvent(s, now,
                                   OwnEvent(principal.user.id, "session.revoked",
                                            std::string(session_id), principal.ActorFrom(client)));
  });
}

Result<User> UserService::FindUser(std::string_view user_id) {
  RD_TRY(db::Rows rows, db_.Exec(std::string("SELECT ") + std::string(kUserColumns) +
                                     std::string(kUserFrom) + "WHERE u.id = ?",
                                 {std::string(user_id)}));
  if (rows.empty()) return MakeError(ErrorCode::kNotFound, "user not found");
  return UserFromRow(rows.rows.front());
}

Result<Invite> UserService::CreateInvite(std::string_view user_id, std::int64_t ttl_millis) {
  RD_TRY(User user, FindUser(user_id));
  if (!user.is_admin) {
    return Forbidden("admin_only", "only the server's administrator can create invites");
  }
  if (ttl_millis < 60'000 || ttl_millis > kMaxInviteTtlMillis) {
    return Unprocessable("invalid_expiry", "an invite must be valid for 1 minute to 90 days");
  }
  const std::int64_t now = clock_.NowMillis();
  Invite invite{"inv_" + core::Base64UrlEncode(core::RandomBytes(18)), now + ttl_millis};
  RD_TRY_STATUS(
      db_.Exec("INSERT INTO invites (code_hash, created_by, created_at, expires_at) "
               "VALUES (?, ?, ?, ?)",
               {HashToken(invite.code), user.id, now, invite.expires_at}));
  return invite;
}

Result<std::pair<ApiToken, std::string>> UserService::CreateApiToken(
    const Principal& creator, const NewApiToken& spec, const audit::ClientInfo& client) {
  if (spec.name.empty() || spec.name.size() > 100) {
    return Unprocessable("invalid_name", "name must be 1 to 100 characters");
  }
  const std::int64_t now = clock_.NowMillis();
  if (spec.expires_at && *spec.expires_at <= now) {
    return Unprocessable("invalid_expiry", "expires_at must be in the future");
  }
  // A token's power is bounded by its creator's: no wider scopes, no longer life.
  const ScopeSet scopes = spec.scopes.value_or(creator.scopes);
  if (!scopes.IsSubsetOf(creator.scopes)) {
    return Forbidden("insufficient_scope", "a token can create tokens only within its own scopes");
  }
  std::optional<std::int64_t> expires_at = spec.expires_at;
  if (creator.token_expires_at) {
    if (!expires_at) expires_at = creator.token_expires_at;
    if (*expires_at > *creator.token_expires_at) {
      return Forbidden("token_outlives_creator",
                       "a token can create only tokens that expire no later than itself (" +
                           core::FormatIso8601(*creator.token_expires_at) + ")");
    }
  }
  const std::string secret =
      std::string(kApiTokenPrefix) + core::Base64UrlEncode(core::RandomBytes(32));
  ApiToken token{core::NewHexId(), spec.name, now, std::nullopt, scopes, expires_at};
  json::object details{{"name", token.name}, {"scopes", ScopesJson(scopes)}};
  details["expires_at"] = expires_at ? json::value(core::FormatIso8601(*expires_at)) : nullptr;
  RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
    RD_TRY_STATUS(s.Exec(
        "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, scopes, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        {token.id, creator.user.id, token.name, HashToken(secret), token.created_at,
         scopes.ToStorage(), expires_at ? db::Value(*expires_at) : db::Value(nullptr)}));
    return audit::RecordAuditEvent(s, now,
                                   OwnEvent(creator.user.id, "token.created", token.id,
                                            creator.ActorFrom(client), std::move(details)));
  }));
  return std::make_pair(std::move(token), secret);
}

Result<std::vector<ApiToken>> UserService::ListApiTokens(std::string_view user_id) {
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT id, name, created_at, last_used_at, scopes, expires_at FROM api_tokens "
                  "WHERE user_id = ? AND revoked_at IS NULL "
                  "ORDER BY created_at DESC, id",
                  {std::string(user_id)}));
  std::vector<ApiToken> out;
  for (const auto& r : rows.rows) out.push_back(TokenFromRow(r));
  return out;
}

Status UserService::RevokeApiToken(const Principal& principal, std::string_view token_id,
                                   const audit::ClientInfo& client) {
  const std::int64_t now = clock_.NowMillis();
  return db_.Transaction([&](db::Session& s) -> Status {
    RD_TRY(db::Rows rows, s.Exec("UPDATE api_tokens SET revoked_at = ? "
                                 "WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
                                 {now, std::string(token_id), principal.user.id}));
    if (rows.affected == 0) return MakeError(ErrorCode::kNotFound, "token not found");
    return audit::RecordAuditEvent(s, now,
                                   OwnEvent(principal.user.id, "token.revoked",
                                            std::string(token_id), principal.ActorFrom(client)));
  });
}

}  // namespace replideploy::auth
