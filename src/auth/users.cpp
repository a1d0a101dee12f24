#include "auth/users.hpp"

#include <algorithm>

#include "auth/jwt.hpp"
#include "core/ids.hpp"

namespace replideploy::auth {

namespace {

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

}  // namespace

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
                                   std::string_view full_name, std::string_view invite) {
  RD_TRY(std::string email, NormalizeEmail(email_in));
  if (Utf8Length(password) < kMinPasswordLength) {
    return Unprocessable("password_too_short", "password must be at least 8 characters");
  }
  if (password.size() > kMaxPasswordBytes) {
    return Unprocessable("password_too_long", "password must be at most 1024 bytes");
  }
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
    RD_TRY_STATUS(
        s.Exec("INSERT INTO audit_events (id, user_id, action, subject, created_at) VALUES (?, ?, "
               "?, ?, ?)",
               {core::NewHexId(), user.id, std::string("user.register"), user.email, now}));
    return {};
  });
  if (!st.ok()) return std::move(st).error();
  return user;
}

Result<LoginSession> UserService::Login(std::string_view email_in, std::string_view password) {
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
  if (password.size() > kMaxPasswordBytes || !core::VerifyPassword(password, row->Text(8))) {
    return wrong;
  }
  LoginSession session;
  session.user = UserFromRow(*row);
  const std::int64_t now_seconds = clock_.NowMillis() / 1000;
  session.expires_at = now_seconds + options_.jwt_ttl_seconds;
  session.token = SignJwt({session.user.id, now_seconds, session.expires_at}, options_.jwt_key);
  return session;
}

Result<User> UserService::Authenticate(std::string_view bearer) {
  if (bearer.empty()) return Unauthenticated("missing credentials");
  if (bearer.starts_with(kApiTokenPrefix)) return AuthenticateApiToken(bearer);
  auto claims = VerifyJwt(bearer, options_.jwt_key, clock_.NowMillis() / 1000);
  if (!claims.ok()) return std::move(claims).error();
  auto user = FindUser(claims->subject);
  if (!user.ok() && user.error().code == ErrorCode::kNotFound) {
    return Unauthenticated("user no longer exists");
  }
  return user;
}

Result<User> UserService::AuthenticateApiToken(std::string_view token) {
  RD_TRY(db::Rows rows, db_.Exec(std::string("SELECT t.id, ") + std::string(kUserColumns) +
                                     " FROM api_tokens t JOIN users u ON u.id = t.user_id"
                                     " JOIN accounts a ON a.owner_user_id = u.id"
                                     " WHERE t.token_hash = ? AND t.revoked_at IS NULL",
                                 {HashToken(token)}));
  if (rows.empty()) return Unauthenticated("unknown or revoked API token");
  const db::Row& r = rows.rows.front();
  // Best effort: a failed timestamp update must not fail the request.
  (void)db_.Exec("UPDATE api_tokens SET last_used_at = ? WHERE id = ?",
                 {clock_.NowMillis(), r.Text(0)});
  return UserFromRow(r, 1);
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

Result<std::pair<ApiToken, std::string>> UserService::CreateApiToken(std::string_view user_id,
                                                                     std::string_view name) {
  if (name.empty() || name.size() > 100) {
    return Unprocessable("invalid_name", "name must be 1 to 100 characters");
  }
  const std::string secret =
      std::string(kApiTokenPrefix) + core::Base64UrlEncode(core::RandomBytes(32));
  ApiToken token{core::NewHexId(), std::string(name), clock_.NowMillis(), std::nullopt};
  RD_TRY_STATUS(db_.Exec(
      "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
      {token.id, std::string(user_id), token.name, HashToken(secret), token.created_at}));
  return std::make_pair(std::move(token), secret);
}

Result<std::vector<ApiToken>> UserService::ListApiTokens(std::string_view user_id) {
  RD_TRY(db::Rows rows, db_.Exec("SELECT id, name, created_at, last_used_at FROM api_tokens "
                                 "WHERE user_id = ? AND revoked_at IS NULL "
                                 "ORDER BY created_at DESC, id",
                                 {std::string(user_id)}));
  std::vector<ApiToken> out;
  for (const auto& r : rows.rows) {
    ApiToken t{r.Text(0), r.Text(1), r.Int(2), std::nullopt};
    if (!r.IsNull(3)) t.last_used_at = r.Int(3);
    out.push_back(std::move(t));
  }
  return out;
}

Status UserService::RevokeApiToken(std::string_view user_id, std::string_view token_id) {
  RD_TRY(db::Rows rows,
         db_.Exec("UPDATE api_tokens SET revoked_at = ? "
                  "WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
                  {clock_.NowMillis(), std::string(token_id), std::string(user_id)}));
  if (rows.affected == 0) return MakeError(ErrorCode::kNotFound, "token not found");
  return {};
}

}  // namespace replideploy::auth
