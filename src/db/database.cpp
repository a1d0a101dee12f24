#include "db/database.hpp"

#include <cctype>
#include <charconv>
#include <string>
#include <utility>
#include <vector>

#include "db/drivers.hpp"

namespace replideploy::db {

namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// [begin, end) ranges of the secrets in a URL, in order: the password of its user info, and
// the values of query parameters named like "password" ("?password=...", "&sslpassword=...").
std::vector<std::pair<std::size_t, std::size_t>> SecretSpans(std::string_view url) {
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    // No authority to parse: everything before an '@' may be a secret.
    const std::size_t at = url.rfind('@');
    if (at != std::string_view::npos) spans.emplace_back(0, at);
    return spans;
  }
  const std::size_t begin = scheme_end + 3;
  std::size_t end = url.find_first_of("/?#", begin);
  if (end == std::string_view::npos) end = url.size();
  const std::size_t at = url.substr(0, end).rfind('@');
  if (at != std::string_view::npos && at >= begin) {
    const std::size_t colon = url.substr(0, at).find(':', begin);
    if (colon != std::string_view::npos) spans.emplace_back(colon + 1, at);
  }
  const std::size_t query = url.find('?', end);
  if (query == std::string_view::npos) return spans;
  for (std::size_t param = query + 1; param < url.size();) {
    std::size_t param_end = url.find('&', param);
    if (param_end == std::string_view::npos) param_end = url.size();
    const std::size_t equals = url.substr(0, param_end).find('=', param);
    if (equals != std::string_view::npos) {
      std::string key(url.substr(param, equals - param));
      for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (key.size() >= 8 && key.compare(key.size() - 8, 8, "password") == 0) {
        spans.emplace_back(equals + 1, param_end);
      }
    }
    param = param_end + 1;
  }
  return spans;
}

}  // namespace

std::int64_t Row::Int(std::size_t i) const {
  const std::optional<std::string>& cell = cells_.at(i);
  if (!cell.has_value() || cell->empty()) return 0;
  const char* begin = cell->data();
  const char* end = begin + cell->size();
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr == begin) return 0;
  if (ptr == end) return value;
  // PostgreSQL renders some integral results as numeric ("3.0", "42.000"): keep the integer
  // part when only a fraction of digits follows.
  if (*ptr != '.') return 0;
  for (const char* p = ptr + 1; p != end; ++p) {
    if (std::isdigit(static_cast<unsigned char>(*p)) == 0) return 0;
  }
  return value;
}

namespace internal {

std::string RedactUrl(std::string_view url) {
  std::string out(url);
  const auto spans = SecretSpans(url);
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
    out.replace(it->first, it->second - it->first, "***");
  }
  return out;
}

std::vector<std::string> UrlPasswords(std::string_view url) {
  std::vector<std::string> secrets;
  for (const auto& [begin, end] : SecretSpans(url)) {
    if (end > begin) secrets.emplace_back(url.substr(begin, end - begin));
  }
  return secrets;
}

std::string OneLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool blank = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      blank = true;
      continue;
    }
    if (blank && !out.empty()) out.push_back(' ');
    blank = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace internal

Result<std::unique_ptr<Database>> Open(const std::string& url, const OpenOptions& options) {
  constexpr std::string_view kSqliteMemory = "sqlite::memory:";
  constexpr std::string_view kSqlite = "sqlite://";
  if (url == kSqliteMemory) return internal::OpenSqlite(":memory:", options);
  if (StartsWith(url, kSqlite)) {
    // "sqlite:///abs/path.db" keeps its leading '/'; "sqlite://rel/path.db" is relative.
    std::string path = url.substr(kSqlite.size());
    if (path.empty()) {
      return MakeError(ErrorCode::kBadRequest,
                       "database URL 'sqlite://' names no file: use sqlite:///abs/path.db or "
                       "sqlite://relative/path.db");
    }
    return internal::OpenSqlite(path, options);
  }
  if (StartsWith(url, "postgres://") || StartsWith(url, "postgresql://")) {
    return internal::OpenPostgres(url, options);
  }
  return MakeError(ErrorCode::kBadRequest, "unsupported database URL '" +
                                               internal::OneLine(internal::RedactUrl(url)) +
                                               "': use sqlite://PATH or postgres://...");
}

}  // namespace replideploy::db
