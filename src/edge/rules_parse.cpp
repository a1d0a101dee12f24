// Parsers for `_redirects` and `_headers` (netlify.toml's tables: rules_toml.cpp).
//
// A line that does not parse is skipped and reported (SkippedRule), and the rest of the file
// applies: Netlify does the same (its engine, `netlify-redirector`, drops the line and lists a
// parse error; `@netlify/headers-parser` drops the header line). tests/oracle checks, on files
// with invalid lines, that we keep exactly the lines the engine keeps, apart from the lines
// below.
//
// Differs from Netlify (the `netlify-redirector` engine and `@netlify/redirect-parser`), on
// purpose: we also skip these lines, which the engine keeps, each because a rule that deploys
// must mean one thing:
//  - STATUS must be three digits in 200..599 with at most one '!'; the engine takes any integer
//    ("0", "999", "0301", "301!!").
//  - '*' is only allowed as the last character of FROM. The engine also reads a "/*/" segment
//    in the middle as a wildcard and any other '*' as a literal character, which is never what
//    was meant ("/*.html" would only match a request for "/*.html").
//  - FROM may not contain '?' or '//' (the engine keeps such rules but they never match), start
//    with "/.netlify" (platform routes), or name a placeholder with '*' in it (":id*" is one
//    placeholder called "id*" to the engine).
//  - TO may not be protocol-relative ("//host/x") or contain a backslash: both would let a
//    rule that looks like a path send visitors to another site.
//  - Conditions need STATUS before them, as in Netlify, but unknown condition names, repeated
//    conditions and repeated query keys skip the line (the engine keeps a rule that never
//    matches). Condition names are case-insensitive ("country=us"), as in
//    @netlify/redirect-parser.
//  - A full-URL FROM without a path ("https://old.example.com") means its root "/"; the engine
//    never matches it. Its host is lower-cased; the engine compares it case-sensitively.
//  - Query keys and values may not contain '&' (the engine pastes them into a regular
//    expression over the raw query string).
//  - A line over kMaxRuleLineBytes, or with NUL, control characters or invalid UTF-8.
// Accepted although the engine complains: a rule whose destination equals its origin ("/a /a",
// but also "/ id=1 /x" and host rules): the engine reports "origin and destination cannot be
// the same" and keeps the rule anyway.
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "core/text.hpp"
#include "edge/paths.hpp"
#include "edge/rules.hpp"
#include "edge/rules_internal.hpp"

namespace replideploy::edge {

using rules_internal::AsciiLower;
using rules_internal::DecodeRulePath;
using rules_internal::EqualsIgnoreCase;
using rules_internal::IsHeaderName;
using rules_internal::IsHeaderValue;

namespace rules_internal {

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

Error Reason(std::string reason) { return MakeError(ErrorCode::kUnprocessable, std::move(reason)); }

Result<std::string> DecodeRulePath(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '%') {
      const int byte = core::PercentEscapeAt(text, i);
      if (byte < 0) return Reason("malformed percent escape in '" + std::string(text) + "'");
      c = static_cast<unsigned char>(byte);
      i += 2;
      if (c == '/') return Reason("encoded '/' (%2F) in a rule path can never match");
    }
    if (c < 0x20 || c == 0x7f || c == '\\') {
      return Reason("control character or backslash in a rule path can never match");
    }
    out.push_back(static_cast<char>(c));
  }
  if (!IsValidUtf8(out)) return Reason("rule path is not UTF-8 once decoded");
  return out;
}

Result<RedirectPattern> ParseRedirectPattern(std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return Reason("'" + std::string(path) + "' is not a valid path or URL");
  }
  if (path.find('?') != std::string_view::npos) {
    return Reason("FROM cannot contain '?': match query parameters with KEY=VALUE after FROM");
  }
  if (path.find('#') != std::string_view::npos) return Reason("FROM cannot contain '#'");
  if (path.starts_with("/.netlify")) return Reason("FROM cannot start with /.netlify");
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);

  RedirectPattern pattern;
  if (path == "/") return pattern;
  std::size_t start = 1;
  while (true) {
    std::size_t end = path.find('/', start);
    const bool last = end == std::string_view::npos;
    if (last) end = path.size();
    const std::string_view seg = path.substr(start, end - start);
    if (seg.empty()) return Reason("empty segment ('//') in FROM");
    if (seg.size() > 1 && seg.front() == ':') {
      if (seg.find('*') != std::string_view::npos) {
        return Reason("'*' cannot be part of a placeholder name; write ':name/*'");
      }
      pattern.segments.push_back({true, std::string(seg.substr(1))});
    } else if (last && seg == "*") {
      pattern.splat = RedirectPattern::Splat::kSegment;
    } else if (last && seg.back() == '*' && seg.find('*') == seg.size() - 1) {
      RD_TRY(pattern.suffix, DecodeRulePath(seg.substr(0, seg.size() - 1)));
      pattern.splat = RedirectPattern::Splat::kSuffix;
    } else {
      if (seg.find('*') != std::string_view::npos) {
        return Reason("'*' is only allowed at the end of FROM");
      }
      RD_TRY(std::string literal, DecodeRulePath(seg));
      pattern.segments.push_back({false, std::move(literal)});
    }
    if (last) break;
    start = end + 1;
  }
  return pattern;
}

std::string Where(std::string_view file, std::size_t line) {
  return std::string(file) + ":" + std::to_string(line) + ": ";
}

Error LineError(std::string_view file, std::size_t line, std::string_view reason) {
  return MakeError(ErrorCode::kUnprocessable, Where(file, line) + std::string(reason));
}

void Skip(std::vector<SkippedRule>* skipped, std::string_view file, std::size_t line,
          std::string reason, std::string_view text) {
  if (skipped == nullptr) return;
  if (text.size() > kSkippedTextBytes) {
    std::size_t cut = kSkippedTextBytes;
    // Whole UTF-8 characters only: back off continuation bytes.
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut);
  }
  skipped->push_back({std::string(file), line, std::move(reason), std::string(text)});
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> SplitTokens(std::string_view line) {
  std::vector<std::string_view> tokens;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    const std::size_t start = i;
    while (i < line.size() && !IsSpace(line[i])) ++i;
    if (i > start) tokens.push_back(line.substr(start, i - start));
  }
  return tokens;
}

LineReader::LineReader(std::string_view text) : text_(text) {
  if (text_.starts_with("\xEF\xBB\xBF")) text_.remove_prefix(3);  // a UTF-8 byte order mark
}

bool LineReader::Next(std::string_view& line, std::string& problem) {
  if (pos_ > text_.size()) return false;
  std::size_t end = text_.find('\n', pos_);
  if (end == std::string_view::npos) end = text_.size();
  line = text_.substr(pos_, end - pos_);
  pos_ = end + 1;
  ++number_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  problem.clear();
  if (line.size() > kMaxRuleLineBytes) {
    problem = "line is longer than " + std::to_string(kMaxRuleLineBytes) + " bytes";
  } else if (line.find('\0') != std::string_view::npos) {
    problem = "NUL byte";
  } else if (!IsValidUtf8(line)) {
    problem = "not valid UTF-8";
  } else {
    for (char c : line) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && !IsSpace(c)) || u == 0x7f) {
        problem = "control character";
        break;
      }
    }
  }
  return true;
}

Status CheckFileSize(std::string_view text, std::string_view file) {
  if (text.size() > kMaxRuleFileBytes) {
    return MakeError(
        ErrorCode::kUnprocessable,
        std::string(file) + ": larger than " + std::to_string(kMaxRuleFileBytes >> 20) + " MiB");
  }
  return {};
}

bool IsUrl(std::string_view s) { return s.starts_with("http://") || s.starts_with("https://"); }

bool IsHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':';
}

Status ValidateDestination(std::string_view to) {
  for (char c : to) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f)
      return Reason(
          "destination contains whitespace or a control "
          "character");
    if (c == '\\') return Reason("destination '" + std::string(to) + "' contains a backslash");
  }
  if (IsUrl(to)) {
    const std::size_t host_start = to.find("://") + 3;
    const std::size_t host_end = to.find_first_of("/?#", host_start);
    if (host_end == host_start || host_start == to.size()) {
      return Reason("destination '" + std::string(to) + "' has no host");
    }
    return {};
  }
  if (to.starts_with("//")) {
    return Reason("destination '" + std::string(to) +
                  "' is protocol-relative: write the full https:// URL");
  }
  if (!to.starts_with("/")) {
    return Reason("'" + std::string(to) +
                  "' is not a valid destination: it must start with '/', 'http://' or 'https://'");
  }
  return {};
}

// FROM: a path, or an http(s) URL whose host the request must have.
Status ParseFrom(std::string_view from, RedirectRule& rule) {
  std::string_view path = from;
  if (IsUrl(from)) {
    rule.scheme = from.starts_with("https://") ? "https" : "http";
    const std::size_t host_start = rule.scheme.size() + 3;
    std::size_t host_end = from.find('/', host_start);
    if (host_end == std::string_view::npos) host_end = from.size();
    const std::string_view host = from.substr(host_start, host_end - host_start);
    if (host.empty()) return Reason("'" + std::string(from) + "' has no host");
    for (char c : host) {
      if (!IsHostChar(c)) return Reason("invalid host '" + std::string(host) + "' in FROM");
    }
    rule.host = AsciiLower(host);
    path = host_end == from.size() ? std::string_view("/") : from.substr(host_end);
  }
  RD_TRY_STATUS(rules_internal::ParseRedirectPattern(path));
  rule.from = std::string(path);
  return {};
}

// A status token, "301" or "200!". Returns false (and leaves the outputs) when `token` is not
// one; fails when it is shaped like one but out of range.
Result<bool> ParseStatus(std::string_view token, int& status, bool& force) {
  std::string_view digits = token;
  bool bang = false;
  if (digits.ends_with('!')) {
    digits.remove_suffix(1);
    bang = true;
  }
  if (digits.empty()) return false;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  int value = 0;
  if (digits.size() != 3) {
    return Reason("'" + std::string(token) + "' is not a valid status code (200-599)");
  }
  std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (value < 200 || value > 599) {
    return Reason("status " + std::string(digits) + " is not supported (200-599)");
  }
  status = value;
  force = bang;
  return true;
}

Status ValidateQueryKey(std::string_view key) {
  if (key.empty()) return Reason("empty query parameter name");
  if (key.find_first_of("&=#") != std::string_view::npos) {
    return Reason("query parameter name '" + std::string(key) + "' contains '&', '=' or '#'");
  }
  return {};
}

Status AddQueryCondition(RedirectRule& rule, std::string_view key, std::string_view value) {
  RD_TRY_STATUS(ValidateQueryKey(key));
  if (value.find('&') != std::string_view::npos) {
    return Reason("query parameter value '" + std::string(value) + "' contains '&'");
  }
  for (const auto& q : rule.query) {
    if (q.key == key) return Reason("query parameter '" + std::string(key) + "' given twice");
  }
  QueryCondition q;
  q.key = std::string(key);
  if (value.size() > 1 && value.front() == ':') {
    q.is_placeholder = true;
    q.value = std::string(value.substr(1));
  } else {
    q.value = std::string(value);
  }
  rule.query.push_back(std::move(q));
  return {};
}

Result<std::vector<std::string>> SplitList(std::string_view name, std::string_view value) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (true) {
    std::size_t end = value.find(',', start);
    const bool last = end == std::string_view::npos;
    if (last) end = value.size();
    const std::string_view item = Trim(value.substr(start, end - start));
    if (item.empty()) return Reason("empty item in " + std::string(name) + " list");
    items.emplace_back(item);
    if (last) break;
    start = end + 1;
  }
  return items;
}

// Country, Language, Role, Cookie (case-insensitive names) and Sign/signed.
Status AddCondition(RedirectRule& rule, std::string_view name, std::vector<std::string> values) {
  if (EqualsIgnoreCase(name, "sign") || EqualsIgnoreCase(name, "signed")) {
    if (!rule.signed_env.empty()) return Reason("condition " + std::string(name) + " given twice");
    if (values.size() != 1 || values[0].empty()) return Reason("Sign takes one value");
    rule.signed_env = std::move(values[0]);
    return {};
  }
  using Kind = RedirectCondition::Kind;
  Kind kind;
  if (EqualsIgnoreCase(name, "country")) {
    kind = Kind::kCountry;
  } else if (EqualsIgnoreCase(name, "language")) {
    kind = Kind::kLanguage;
  } else if (EqualsIgnoreCase(name, "role")) {
    kind = Kind::kRole;
  } else if (EqualsIgnoreCase(name, "cookie")) {
    kind = Kind::kCookie;
  } else {
    return Reason("'" + std::string(name) +
                  "' is not a valid condition (Country, Language, Role, Cookie, Sign)");
  }
  for (const auto& c : rule.conditions) {
    if (c.kind == kind) return Reason("condition " + std::string(name) + " given twice");
  }
  if (values.empty()) return Reason("condition " + std::string(name) + " has no value");
  for (auto& v : values) {
    if (v.empty()) return Reason("empty item in " + std::string(name) + " list");
    if (kind == Kind::kCountry || kind == Kind::kLanguage) v = AsciiLower(v);
  }
  rule.conditions.push_back({kind, std::move(values)});
  return {};
}

// "/blog/* 200": TO defaults to FROM with "*" as ":splat", for 2xx rules ending in "/*".
Status SetForwardTarget(RedirectRule& rule) {
  if (!rule.from.ends_with("/*") || rule.status < 200 || rule.status > 299) {
    return Reason("missing destination (only a 2xx rule whose FROM ends in /* may omit it)");
  }
  rule.to = rule.from.substr(0, rule.from.size() - 1) + ":splat";
  return {};
}

Result<RedirectRule> ParseRedirectLine(const std::vector<std::string_view>& tokens) {
  RedirectRule rule;
  RD_TRY_STATUS(ParseFrom(tokens[0], rule));
  std::size_t i = 1;
  if (i == tokens.size()) return Reason("missing destination");

  bool has_status = false;
  RD_TRY(bool forward, ParseStatus(tokens[i], rule.status, rule.force));
  if (forward) {
    RD_TRY_STATUS(SetForwardTarget(rule));
    has_status = true;
    ++i;
  } else {
    while (i < tokens.size() && !tokens[i].starts_with("/") && !IsUrl(tokens[i])) {
      const std::string_view token = tokens[i];
      const std::size_t eq = token.find('=');
      if (eq == std::string_view::npos || eq == 0 || eq + 1 == token.size()) {
        return Reason("'" + std::string(token) +
                      "' is not a valid destination (it must start with '/', 'http://' or "
                      "'https://') nor a KEY=VALUE query parameter");
      }
      RD_TRY_STATUS(AddQueryCondition(rule, token.substr(0, eq), token.substr(eq + 1)));
      ++i;
    }
    if (i == tokens.size()) return Reason("missing destination");
    RD_TRY_STATUS(ValidateDestination(tokens[i]));
    rule.to = std::string(tokens[i]);
    ++i;
  }

  if (!has_status && i < tokens.size()) {
    RD_TRY(bool is_status, ParseStatus(tokens[i], rule.status, rule.force));
    if (!is_status) {
      return Reason("'" + std::string(tokens[i]) +
                    "' is not a valid status code (conditions come after a status code)");
    }
    ++i;
  }
  for (; i < tokens.size(); ++i) {
    const std::string_view token = tokens[i];
    const std::size_t eq = token.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == token.size()) {
      return Reason("'" + std::string(token) + "' is not a valid condition");
    }
    const std::string_view name = token.substr(0, eq);
    RD_TRY(auto values, SplitList(name, token.substr(eq + 1)));
    RD_TRY_STATUS(AddCondition(rule, name, std::move(values)));
  }
  return rule;
}

}  // namespace rules_internal

// The helpers above are shared with rules_toml.cpp (rules_internal.hpp).
using namespace rules_internal;  // NOLINT(google-build-using-namespace)

bool IsProxyRule(const RedirectRule& rule) { return rule.status == 200 && IsUrl(rule.to); }

std::string PrimaryLanguage(std::string_view accept_language) {
  std::string_view first = accept_language.substr(0, accept_language.find(','));
  first = Trim(first.substr(0, first.find(';')));
  first = first.substr(0, first.find('-'));
  if (first == "*") return {};
  return AsciiLower(first);
}

std::string Describe(const SkippedRule& skipped) {
  return Where(skipped.file, skipped.line) + skipped.reason;
}

Result<std::vector<RedirectRule>> ParseRedirectsFile(std::string_view text,
                                                     std::string_view file_name,
                                                     std::vector<SkippedRule>* skipped) {
  RD_TRY_STATUS(CheckFileSize(text, file_name));
  std::vector<RedirectRule> rules;
  LineReader reader(text);
  std::string_view line;
  std::string problem;
  while (reader.Next(line, problem)) {
    const std::size_t n = reader.number();
    if (Trim(line).starts_with('#')) continue;  // a comment, whatever its bytes
    if (!problem.empty()) {
      // The reason only: the line itself may not be printable.
      Skip(skipped, file_name, n, problem, "");
      continue;
    }
    std::vector<std::string_view> tokens = SplitTokens(line);
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i].starts_with('#')) {
        tokens.resize(i);
        break;
      }
    }
    if (tokens.empty()) continue;
    if (rules.size() == kMaxRules) {
      Skip(skipped, file_name, n,
           "more than " + std::to_string(kMaxRules) + " rules: this line and the rest are skipped",
           Trim(line));
      break;
    }
    auto rule = ParseRedirectLine(tokens);
    if (!rule.ok()) {
      Skip(skipped, file_name, n, std::move(rule).error().message, Trim(line));
      continue;
    }
    rule->source = std::string(file_name) + ":" + std::to_string(n);
    rules.push_back(std::move(rule).value());
  }
  return rules;
}

}  // namespace replideploy::edge
