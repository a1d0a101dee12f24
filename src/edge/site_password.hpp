// Site-wide password protection at the edge (docs/edge.md, "Password-protected sites").
//
// A protected deploy answers only a visitor who shows the site's password: browsers get a
// sign-in page whose form posts to kSitePasswordPath and, on success, a signed cookie; other
// clients get 401 with `WWW-Authenticate: Basic` and may send the password as Basic credentials
// (any user name). The cookie's MAC is keyed by the stored password hash, so changing or
// removing the password ends every cookie made for the old one, and no process needs a shared
// secret to check it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/message.hpp"

namespace replideploy::edge {

inline constexpr std::string_view kSitePasswordPath = "/.netlify/site-password";
inline constexpr std::string_view kSitePasswordCookie = "rd_site_password";
inline constexpr std::int64_t kSitePasswordCookieSeconds = 7 * 24 * 3600;

// "<expires_at>.<hex mac>": opens site `site_id` until `expires_at` (unix seconds) while its
// password hash is `password_hash`.
std::string SignSitePasswordCookie(std::string_view site_id, std::string_view password_hash,
                                   std::int64_t expires_at);
// True when `value` was made by SignSitePasswordCookie for this site and hash and has not
// expired at `now` (unix seconds).
bool VerifySitePasswordCookie(std::string_view value, std::string_view site_id,
                              std::string_view password_hash, std::int64_t now);

// The Set-Cookie value for a signed cookie (HttpOnly, SameSite=Lax, Path=/).
std::string SitePasswordSetCookie(std::string_view value, std::int64_t max_age_seconds);

// The sign-in page for `host`; the form posts to kSitePasswordPath and comes back to
// `return_to`. `wrong` adds "wrong password".
std::string SitePasswordPage(std::string_view host, std::string_view return_to, bool wrong);

// Where to go after signing in: `raw` when it is a path on this host ("/..." but not "//..."
// or "/\..." and without control characters), else "/".
std::string SafeReturnPath(std::string_view raw);

// A field of an application/x-www-form-urlencoded body (the first of that name), decoded.
std::optional<std::string> FormField(std::string_view body, std::string_view name);

// Whether the request looks like a browser navigation: a GET or HEAD whose Accept names
// text/html.
bool WantsHtml(const http::Request& request);

}  // namespace replideploy::edge
