#include "edge/site_password.hpp"

#include <charconv>

#include "core/crypto.hpp"
#include "core/text.hpp"

namespace replideploy::edge {

namespace {

std::string CookieMac(std::string_view site_id, std::string_view password_hash,
                      std::int64_t expires_at) {
  // The key is a digest of the stored hash: it changes with the password, and the hash itself
  // (which carries its salt) never leaves the database.
  const std::string key = core::Sha256("rd-site-password-cookie\n" + std::string(password_hash));
  return core::HexEncode(
      core::HmacSha256(key, std::string(site_id) + "\n" + std::to_string(expires_at)));
}

}  // namespace

std::string SignSitePasswordCookie(std::string_view site_id, std::string_view password_hash,
                                   std::int64_t expires_at) {
  return std::to_string(expires_at) + "." + CookieMac(site_id, password_hash, expires_at);
}

bool VerifySitePasswordCookie(std::string_view value, std::string_view site_id,
                              std::string_view password_hash, std::int64_t now) {
  if (password_hash.empty()) return false;
  const auto dot = value.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 19) return false;
  std::int64_t expires_at = 0;
  const auto* first = value.data();
  const auto [end, ec] = std::from_chars(first, first + dot, expires_at);
  if (ec != std::errc{} || end != first + dot || expires_at <= now) return false;
  return core::ConstantTimeEquals(value.substr(dot + 1),
                                  CookieMac(site_id, password_hash, expires_at));
}

std::string SitePasswordSetCookie(std::string_view value, std::int64_t max_age_seconds) {
  return std::string(kSitePasswordCookie) + "=" + std::string(value) +
         "; Path=/; Max-Age=" + std::to_string(max_age_seconds) + "; HttpOnly; SameSite=Lax";
}

std::string SitePasswordPage(std::string_view host, std::string_view return_to, bool wrong) {
  const std::string h = core::HtmlEscape(host);
  std::string page =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<meta name=\"robots\" content=\"noindex\">"
      "<title>Password required</title><style>"
      "body{font-family:system-ui,sans-serif;background:#f8fafc;color:#0f172a;display:flex;"
      "min-height:100vh;align-items:center;justify-content:center;margin:0}"
      "form{background:#fff;border:1px solid #e2e8f0;border-radius:12px;padding:2rem;"
      "width:20rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}"
      "h1{font-size:1.15rem;margin:0 0 .25rem}p{color:#475569;font-size:.9rem;margin:0 0 1rem}"
      "input{width:100%;box-sizing:border-box;padding:.55rem .7rem;border:1px solid #cbd5e1;"
      "border-radius:8px;font-size:1rem}"
      "button{margin-top:.8rem;width:100%;padding:.55rem;border:0;border-radius:8px;"
      "background:#0f766e;color:#fff;font-size:1rem;cursor:pointer}"
      ".err{color:#b91c1c}</style></head><body>\n"
      "<form method=\"post\" action=\"" +
      std::string(kSitePasswordPath) +
      "\">\n<h1>This site is password protected</h1>\n<p>Enter the password for " + h + ".</p>\n";
  if (wrong) page += "<p class=\"err\" role=\"alert\">Wrong password. Try again.</p>\n";
  page += "<input type=\"hidden\" name=\"return_to\" value=\"" + core::HtmlEscape(return_to) +
          "\">\n<label for=\"password\" style=\"font-size:.85rem\">Password</label>\n"
          "<input id=\"password\" type=\"password\" name=\"password\" "
          "autocomplete=\"current-password\" "
          "required autofocus>\n<button type=\"submit\">Open the site</button>\n</form>\n</body>"
          "</html>\n";
  return page;
}

std::string SafeReturnPath(std::string_view raw) {
  if (raw.empty() || raw.front() != '/' || raw.size() > 2048) return "/";
  if (raw.size() > 1 && (raw[1] == '/' || raw[1] == '\\')) return "/";
  for (char c : raw) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u == 0x7f || c == '\\') return "/";
  }
  return std::string(raw);
}

std::optional<std::string> FormField(std::string_view body, std::string_view name) {
  while (!body.empty()) {
    const auto amp = body.find('&');
    const std::string_view pair = body.substr(0, amp);
    const auto eq = pair.find('=');
    const std::string key = core::PercentDecodeLenient(pair.substr(0, eq), true);
    if (key == name) {
      return eq == std::string_view::npos ? std::string()
                                          : core::PercentDecodeLenient(pair.substr(eq + 1), true);
    }
    if (amp == std::string_view::npos) break;
    body.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

bool WantsHtml(const http::Request& request) {
  if (request.method != "GET" && request.method != "HEAD") return false;
  return request.Header("Accept").find("text/html") != std::string_view::npos;
}

}  // namespace replideploy::edge
