// The redirect and header matchers.
//
// Redirects behave as `netlify-redirector` 0.5.0 does (tests/oracle/ compares the two):
//  - A rule's trailing '/' is ignored and a request's is optional: "/a/" and "/a" match both
//    "/a" and "/a/". Paths compare case-sensitively, byte for byte.
//  - ":name" is a whole segment, any non-empty text but '/'. The name runs to the next '/'
//    (":id.html" is a placeholder called "id.html").
//  - "/blog/*" matches "/blog", "/blog/" and "/blog/<rest>", with ":splat" = <rest> (its
//    trailing '/' included); "/blog*" matches "/blog<rest>" and "/blog/<rest>".
//  - KEY=VALUE query conditions look at the last KEY=... pair of the raw query string that is
//    not followed by a bare '&' (the engine's regular expression); the value is decoded ('+' is
//    a space) and, for a literal, compared as written in the rule.
//  - Conditions are checked in the order written and the first that fails decides: a failing
//    Role refuses the visitor (kDenied unless a later rule matches), any other just does not
//    match. Country compares case-insensitively; Language compares the primary subtag of the
//    first Accept-Language entry; Cookie needs one of the cookies with a non-empty value; Role
//    needs one of the roles (the engine checks the nf_jwt cookie itself; here the edge has
//    verified the token and passes its roles).
//  - A full-URL FROM matches only that scheme and host.
//  - In TO, ":name" takes the value of the path placeholder, else of the query placeholder,
//    else ":splat" the splat; an unknown ":name" stays as written.
//
// Differs from Netlify, on purpose:
//  - Request paths are decoded (NormalizeRequestPath) and so are rule paths, so "/caf%C3%A9"
//    in a rule matches a request for "/caf%C3%A9" or "/caf%c3%a9". The engine compares both
//    as raw text.
//  - In TO, the longest placeholder name wins: with ":id" and ":idx", ":idx" is never read as
//    ":id" followed by "x" (the engine substitutes names in the order of FROM).
//  - Substituted path values are percent-encoded where a URL needs it ("a b" -> "a%20b"); the
//    engine pastes them raw.
//  - A malformed escape in a query value is kept literally; the engine decodes "%zz" as NUL.
//  - After a Role rule refused the visitor, a later non-forced rule shadowed by a file gives
//    kDenied instead of the file: Netlify's CLI serves the file, which would leak what the
//    Role rule protects.
//  - Header patterns: "/a/*" does not match "/abc", and '.' in a pattern is a dot; Netlify's
//    CLI builds a regular expression in which both happen.
#include <algorithm>
#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/text.hpp"
#include "edge/rules.hpp"
#include "edge/rules_internal.hpp"

namespace replideploy::edge {

using rules_internal::AsciiLower;
using rules_internal::EqualsIgnoreCase;
using rules_internal::HeaderPattern;
using rules_internal::RedirectPattern;

namespace rules_internal {

Result<HeaderPattern> CompileHeaderPattern(std::string_view path) {
  if (!path.starts_with('/')) {
    return MakeError(ErrorCode::kUnprocessable,
                     "header path '" + std::string(path) + "' must start with '/'");
  }
  HeaderPattern pattern;
  bool literal = true;
  auto push = [&](HeaderPattern::Op op, char byte = 0) {
    if (op != HeaderPattern::Op::kLiteral) literal = false;
    if (op == HeaderPattern::Op::kLiteral && literal) pattern.literal_prefix.push_back(byte);
    pattern.program.push_back({op, byte, 0});
  };
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
    start = end + 1;
    if (part.empty()) continue;
    if (part.front() == ':') {
      push(HeaderPattern::Op::kLiteral, '/');
      push(HeaderPattern::Op::kNonSlash);
      push(HeaderPattern::Op::kNonSlashStar);
    } else if (part == "*") {
      // "(/.*)?": nothing at all, or '/' and anything.
      const std::size_t skip = pattern.program.size();
      push(HeaderPattern::Op::kSkipTo);
      push(HeaderPattern::Op::kLiteral, '/');
      push(HeaderPattern::Op::kAnyStar);
      pattern.program[skip].target = static_cast<std::uint32_t>(pattern.program.size());
    } else {
      push(HeaderPattern::Op::kLiteral, '/');
      std::size_t piece_start = 0;
      while (true) {
        const std::size_t star = part.find('*', piece_start);
        const std::string_view piece =
            part.substr(piece_start, star == std::string_view::npos ? std::string_view::npos
                                                                    : star - piece_start);
        RD_TRY(std::string decoded, DecodeRulePath(piece));
        for (char c : decoded) push(HeaderPattern::Op::kLiteral, AsciiLower(c));
        if (star == std::string_view::npos) break;
        push(HeaderPattern::Op::kAnyStar);
        piece_start = star + 1;
      }
    }
  }
  if (pattern.program.empty()) push(HeaderPattern::Op::kLiteral, '/');
  pattern.is_literal = literal;
  push(HeaderPattern::Op::kOptSlash);
  return pattern;
}

}  // namespace rules_internal

namespace {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using IndexList = std::vector<std::uint32_t>;
using IndexTable = std::unordered_map<std::string, IndexList, StringHash, std::equal_to<>>;

std::string_view WithoutTrailingSlash(std::string_view path) {
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  return path;
}

// Walks several ascending index lists as one ascending sequence.
class MergedIndexes {
 public:
  void Add(const IndexList* list) {
    if (list != nullptr && !list->empty()) cursors_.push_back({list, 0});
  }
  // The next smallest index, or false when all lists are done.
  bool Next(std::uint32_t& index) {
    std::size_t best = cursors_.size();
    for (std::size_t i = 0; i < cursors_.size(); ++i) {
      const Cursor& c = cursors_[i];
      if (c.pos == c.list->size()) continue;
      if (best == cursors_.size() ||
          (*c.list)[c.pos] < (*cursors_[best].list)[cursors_[best].pos]) {
        best = i;
      }
    }
    if (best == cursors_.size()) return false;
    index = (*cursors_[best].list)[cursors_[best].pos++];
    return true;
  }

 private:
  struct Cursor {
    const IndexList* list;
    std::size_t pos;
  };
  std::vector<Cursor> cursors_;
};

// A query value as the engine reads it: '+' is a space, "%XX" a byte.
std::string DecodeQueryValue(std::string_view raw) { return core::PercentDecodeLenient(raw, true); }

constexpr char kHex[] = "0123456789ABCDEF";

void AppendEscaped(std::string& out, unsigned char c) {
  out.push_back('%');
  out.push_back(kHex[c >> 4]);
  out.push_back(kHex[c & 15]);
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// How the engine puts a query value into TO.
void AppendFormEncoded(std::string& out, std::string_view value) {
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c)) {
      out.push_back(ch);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      AppendEscaped(out, c);
    }
  }
}

// A decoded path value made safe for a URL path: RFC 3986 pchars stay, the rest is escaped.
void AppendPathEncoded(std::string& out, std::string_view value) {
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || std::string_view("!$&'()*+,;=:@/").find(ch) != std::string_view::npos) {
      out.push_back(ch);
    } else {
      AppendEscaped(out, c);
    }
  }
}

// The raw value of KEY in `query`, chosen as the engine's `^(?:.*&)?KEY=([^&]*)(?:&.+)?$`
// does: the last KEY=... pair that is not followed by a lone trailing '&'.
std::optional<std::string_view> FindQueryValue(std::string_view query, std::string_view key) {
  std::size_t end = query.size();
  while (true) {
    const std::size_t amp = end == 0 ? std::string_view::npos : query.rfind('&', end - 1);
    const std::size_t begin = amp == std::string_view::npos ? 0 : amp + 1;
    const std::string_view part = query.substr(begin, end - begin);
    const bool tail_ok = end == query.size() || query.size() - end >= 2;
    if (tail_ok && part.size() > key.size() && part.starts_with(key) && part[key.size()] == '=') {
      return part.substr(key.size() + 1);
    }
    if (amp == std::string_view::npos) return std::nullopt;
    end = amp;
  }
}

bool HasCookie(std::string_view header, std::string_view name) {
  std::size_t start = 0;
  while (start <= header.size()) {
    std::size_t end = header.find(';', start);
    if (end == std::string_view::npos) end = header.size();
    std::string_view pair = header.substr(start, end - start);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const std::size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      std::string_view value = pair.substr(eq + 1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      if (!value.empty()) return true;
    }
    start = end + 1;
  }
  return false;
}

bool Contains(const std::vector<std::string>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

bool ConditionHolds(const RedirectCondition& c, const RedirectRequest& request,
                    std::string_view language) {
  switch (c.kind) {
    case RedirectCondition::Kind::kCountry:
      return Contains(c.values, AsciiLower(request.country));
    case RedirectCondition::Kind::kLanguage:
      return Contains(c.values, language);
    case RedirectCondition::Kind::kRole:
      return std::any_of(request.roles.begin(), request.roles.end(),
                         [&](const std::string& role) { return Contains(c.values, role); });
    case RedirectCondition::Kind::kCookie:
      return std::any_of(c.values.begin(), c.values.end(), [&](const std::string& name) {
        return HasCookie(request.cookie_header, name);
      });
  }
  return false;
}

std::string Joined(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) {
    if (!out.empty()) out += ", ";
    out += v;
  }
  return out;
}

std::string WhyConditionFails(const RedirectCondition& c, const RedirectRequest& request,
                              std::string_view language) {
  switch (c.kind) {
    case RedirectCondition::Kind::kCountry:
      return (request.country.empty() ? std::string("the country is unknown")
                                      : "the country is " + AsciiLower(request.country)) +
             ", the rule needs Country=" + Joined(c.values);
    case RedirectCondition::Kind::kLanguage:
      return (language.empty() ? std::string("no language was asked for")
                               : "the language is " + std::string(language)) +
             ", the rule needs Language=" + Joined(c.values);
    case RedirectCondition::Kind::kRole:
      return (request.roles.empty() ? std::string("the visitor has no role")
                                    : "the visitor's roles are " +
                                          Joined({request.roles.begin(), request.roles.end()})) +
             ", the rule needs Role=" + Joined(c.values);
    case RedirectCondition::Kind::kCookie:
      return "none of the cookies " + Joined(c.values) + " is set";
  }
  return "a condition does not hold";
}

struct CompiledRedirect {
  RedirectPattern pattern;
  std::size_t literal_prefix = 0;  // leading literal segments
  bool exact = false;              // no placeholder, no splat
};

// FNV-1a, 64 bits: cheap for the short keys of the filter below.
std::uint64_t Fnv1a(std::string_view s) {
  std::uint64_t h = 14695981039346656037ULL;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

struct Scope {
  IndexTable exact;      // "/a/b" (no trailing '/'), "/" for the root
  IndexTable by_prefix;  // the leading literal segments: "/a/b", "" for none
  std::size_t max_prefix_segments = 0;
  // One bit per key of both tables (a Bloom filter with one hash): a request's path whose keys'
  // bits are clear skips the tables' lookups, which most requests on a site with many rules do.
  std::vector<std::uint64_t> filter;

  // After the tables are filled: about 16 bits per key, a power of two.
  void BuildFilter() {
    std::size_t bits = 64;
    while (bits < 16 * (exact.size() + by_prefix.size())) bits *= 2;
    filter.assign(bits / 64, 0);
    for (const IndexTable* table : {&exact, &by_prefix}) {
      for (const auto& entry : *table) SetBit(Fnv1a(entry.first));
    }
  }
  // False when `key` is in neither table for sure.
  bool MayHave(std::string_view key) const {
    if (filter.empty()) return true;  // not built
    const std::uint64_t bit = Fnv1a(key) & (filter.size() * 64 - 1);
    return (filter[bit / 64] >> (bit % 64) & 1) != 0;
  }

 private:
  void SetBit(std::uint64_t hash) {
    const std::uint64_t bit = hash & (filter.size() * 64 - 1);
    filter[bit / 64] |= std::uint64_t{1} << (bit % 64);
  }
};

struct PathSegments {
  struct Segment {
    std::size_t begin;
    std::string_view text;
  };
  // Inline for the usual depth: splitting a request's path costs no allocation.
  boost::container::small_vector<Segment, 12> segments;

  explicit PathSegments(std::string_view path) {
    std::size_t start = 1;
    while (start < path.size()) {
      std::size_t end = path.find('/', start);
      if (end == std::string_view::npos) end = path.size();
      if (end > start) segments.push_back({start, path.substr(start, end - start)});
      start = end + 1;
    }
  }
};

struct Captures {
  std::vector<std::string_view> path_values;
  std::vector<std::string> query_values;  // decoded, one per placeholder query condition
  std::string_view splat;
};

bool MatchPath(const RedirectPattern& p, std::string_view path, const PathSegments& req,
               Captures& captures) {
  const std::size_t k = p.segments.size();
  const auto& segs = req.segments;
  switch (p.splat) {
    case RedirectPattern::Splat::kNone:
      if (segs.size() != k) return false;
      break;
    case RedirectPattern::Splat::kSegment:
      if (segs.size() < k) return false;
      break;
    case RedirectPattern::Splat::kSuffix:
      if (segs.size() < k + 1 || !segs[k].text.starts_with(p.suffix)) return false;
      break;
  }
  captures.path_values.clear();
  for (std::size_t i = 0; i < k; ++i) {
    if (p.segments[i].is_placeholder) {
      captures.path_values.push_back(segs[i].text);
    } else if (p.segments[i].text != segs[i].text) {
      return false;
    }
  }
  captures.splat = {};
  if (p.splat == RedirectPattern::Splat::kSegment && segs.size() > k) {
    captures.splat = path.substr(segs[k].begin);
  } else if (p.splat == RedirectPattern::Splat::kSuffix) {
    std::string_view rest = path.substr(segs[k].begin + p.suffix.size());
    if (rest.starts_with('/')) rest.remove_prefix(1);
    captures.splat = rest;
  }
  return true;
}

}  // namespace

struct RedirectMatcher::Impl {
  std::vector<RedirectRule> rules;
  std::vector<CompiledRedirect> compiled;
  Scope hostless;
  std::unordered_map<std::string, Scope, StringHash, std::equal_to<>> by_host;  // "https://h"

  enum class Verdict { kNo, kRoleRefused, kYes };

  // With `why`, says what did not match (or why the role refused the visitor).
  Verdict Evaluate(std::size_t index, const RedirectRequest& request, const PathSegments& segs,
                   std::string_view language, Captures& captures,
                   std::string* why = nullptr) const {
    const RedirectRule& rule = rules[index];
    if (!MatchPath(compiled[index].pattern, request.path, segs, captures)) {
      if (why != nullptr) *why = "the path does not match " + rule.from;
      return Verdict::kNo;
    }
    captures.query_values.clear();
    for (const QueryCondition& q : rule.query) {
      auto raw = FindQueryValue(request.query, q.key);
      if (!raw) {
        if (why != nullptr) *why = "the query string has no " + q.key;
        return Verdict::kNo;
      }
      std::string value = DecodeQueryValue(*raw);
      if (q.is_placeholder) {
        captures.query_values.push_back(std::move(value));
      } else if (value != q.value) {
        if (why != nullptr)
          *why = q.key + " is \"" + value + "\", the rule needs \"" + q.value + "\"";
        return Verdict::kNo;
      }
    }
    for (const RedirectCondition& c : rule.conditions) {
      if (!ConditionHolds(c, request, language)) {
        if (why != nullptr) *why = WhyConditionFails(c, request, language);
        return c.kind == RedirectCondition::Kind::kRole ? Verdict::kRoleRefused : Verdict::kNo;
      }
    }
    return Verdict::kYes;
  }

  // The first rule, in order, that matches (see RedirectMatcher::Match), found through the
  // indexes.
  RedirectMatch MatchIndexed(const RedirectRequest& request,
                             const StaticFileLookup& has_static_file) const;

  // Every rule in order, evaluated as MatchIndexed evaluates its candidates, with the reason
  // of each verdict; `match` is MatchIndexed's answer, which decides the winner's outcome.
  void Trace(const RedirectRequest& request, const RedirectMatch& match,
             std::vector<RedirectVerdict>& out) const {
    using Outcome = RedirectVerdict::Outcome;
    out.assign(rules.size(), RedirectVerdict{});
    const PathSegments segs(request.path);
    const std::string language = PrimaryLanguage(request.accept_language);
    const std::string origin = std::string(request.scheme) + "://" + AsciiLower(request.host);
    Captures captures;
    bool role_refused = false;
    bool answered = false;
    for (std::size_t i = 0; i < rules.size(); ++i) {
      RedirectVerdict& v = out[i];
      const RedirectRule& rule = rules[i];
      if (answered) {
        v.outcome = Outcome::kNotReached;
        v.reason = "an earlier rule answered";
        continue;
      }
      if (!rule.host.empty() && rule.scheme + "://" + AsciiLower(rule.host) != origin) {
        v.outcome = Outcome::kNotMatched;
        v.reason = "the rule is for " + rule.scheme + "://" + rule.host + " only";
        continue;
      }
      const Verdict verdict = Evaluate(i, request, segs, language, captures, &v.reason);
      if (verdict == Verdict::kNo) {
        v.outcome = Outcome::kNotMatched;
        continue;
      }
      if (verdict == Verdict::kRoleRefused) {
        v.outcome = Outcome::kRoleRefused;
        role_refused = true;
        continue;
      }
      answered = true;
      if (match.kind == RedirectMatch::Kind::kRule) {
        v.outcome = Outcome::kMatched;
        v.reason = rule.force ? "forced (!): it applies even where a file exists"
                              : "no file answers the path";
      } else {
        v.outcome = Outcome::kShadowed;
        v.reason = role_refused ? "a file answers the path and the rule is not forced; a Role "
                                  "rule above refused the visitor, so the answer is 404"
                                : "a file answers the path and the rule is not forced (add ! to "
                                  "its status to force it)";
      }
    }
  }

  std::string Substitute(std::size_t index, const Captures& captures) const {
    const RedirectRule& rule = rules[index];
    const RedirectPattern& pattern = compiled[index].pattern;
    const std::string& to = rule.to;
    std::string out;
    out.reserve(to.size() + 32);
    std::size_t i = 0;
    while (i < to.size()) {
      if (to[i] != ':') {
        out.push_back(to[i++]);
        continue;
      }
      const std::string_view rest = std::string_view(to).substr(i + 1);
      enum class From { kNone, kPath, kQuery, kSplat } from = From::kNone;
      std::size_t best_len = 0;
      std::size_t best = 0;
      auto consider = [&](std::string_view name, From kind, std::size_t which) {
        if (name.size() > best_len && rest.starts_with(name)) {
          best_len = name.size();
          from = kind;
          best = which;
        }
      };
      std::size_t placeholder = 0;
      for (const auto& seg : pattern.segments) {
        if (seg.is_placeholder) consider(seg.text, From::kPath, placeholder++);
      }
      std::size_t query_placeholder = 0;
      for (const auto& q : rule.query) {
        if (q.is_placeholder) consider(q.value, From::kQuery, query_placeholder++);
      }
      if (pattern.splat != RedirectPattern::Splat::kNone) consider("splat", From::kSplat, 0);
      switch (from) {
        case From::kNone:
          out.push_back(':');
          ++i;
          continue;
        case From::kPath:
          AppendPathEncoded(out, captures.path_values[best]);
          break;
        case From::kQuery:
          AppendFormEncoded(out, captures.query_values[best]);
          break;
        case From::kSplat:
          AppendPathEncoded(out, captures.splat);
          break;
      }
      i += 1 + best_len;
    }
    // Values never contain "//", but a TO such as "/:a" must not become a protocol-relative URL.
    if (out.starts_with("//")) {
      const std::size_t first = out.find_first_not_of('/');
      out.erase(0, first == std::string::npos ? out.size() - 1 : first - 1);
    }
    return out;
  }
};

RedirectMatcher::RedirectMatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RedirectMatcher::RedirectMatcher(RedirectMatcher&&) noexcept = default;
RedirectMatcher& RedirectMatcher::operator=(RedirectMatcher&&) noexcept = default;
RedirectMatcher::~RedirectMatcher() = default;

const std::vector<RedirectRule>& RedirectMatcher::rules() const { return impl_->rules; }

Result<RedirectMatcher> RedirectMatcher::Compile(std::vector<RedirectRule> rules) {
  if (rules.size() > kMaxRules) {
    return MakeError(ErrorCode::kUnprocessable,
                     "more than " + std::to_string(kMaxRules) + " redirect rules");
  }
  auto impl = std::make_unique<Impl>();
  impl->compiled.reserve(rules.size());
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const RedirectRule& rule = rules[i];
    auto pattern = rules_internal::ParseRedirectPattern(rule.from);
    if (!pattern.ok()) {
      return MakeError(ErrorCode::kUnprocessable, rule.source + ": " + pattern.error().message);
    }
    CompiledRedirect c;
    c.pattern = std::move(pattern).value();
    c.exact = c.pattern.splat == RedirectPattern::Splat::kNone &&
              std::none_of(c.pattern.segments.begin(), c.pattern.segments.end(),
                           [](const auto& s) { return s.is_placeholder; });
    while (c.literal_prefix < c.pattern.segments.size() &&
           !c.pattern.segments[c.literal_prefix].is_placeholder) {
      ++c.literal_prefix;
    }
    std::string key;
    for (std::size_t s = 0; s < c.literal_prefix; ++s) key += "/" + c.pattern.segments[s].text;

    Scope& scope = rule.host.empty() ? impl->hostless
                                     : impl->by_host[rule.scheme + "://" + AsciiLower(rule.host)];
    const auto index = static_cast<std::uint32_t>(i);
    if (c.exact) {
      scope.exact[key.empty() ? "/" : key].push_back(index);
    } else {
      scope.by_prefix[key].push_back(index);
      scope.max_prefix_segments = std::max(scope.max_prefix_segments, c.literal_prefix);
    }
    impl->compiled.push_back(std::move(c));
  }
  impl->hostless.BuildFilter();
  for (auto& [host, scope] : impl->by_host) scope.BuildFilter();
  impl->rules = std::move(rules);
  return RedirectMatcher(std::move(impl));
}

std::string_view OutcomeName(RedirectVerdict::Outcome outcome) {
  switch (outcome) {
    case RedirectVerdict::Outcome::kNotMatched:
      return "not_matched";
    case RedirectVerdict::Outcome::kRoleRefused:
      return "role_refused";
    case RedirectVerdict::Outcome::kMatched:
      return "matched";
    case RedirectVerdict::Outcome::kShadowed:
      return "shadowed";
    case RedirectVerdict::Outcome::kNotReached:
      return "not_reached";
  }
  return "not_reached";
}

RedirectMatch RedirectMatcher::Match(const RedirectRequest& request,
                                     const StaticFileLookup& has_static_file,
                                     std::vector<RedirectVerdict>* trace) const {
  if (trace == nullptr) return impl_->MatchIndexed(request, has_static_file);
  std::optional<bool> file_exists;
  const StaticFileLookup lookup_once = [&](std::string_view path) {
    if (!file_exists) file_exists = has_static_file && has_static_file(path);
    return *file_exists;
  };
  RedirectMatch match = impl_->MatchIndexed(request, lookup_once);
  impl_->Trace(request, match, *trace);
  return match;
}

namespace {

// Calls `add` with each of `scope`'s index lists that may hold a rule matching `path`: its
// exact path, then each of its leading-segment prefixes ("" first).
template <class Add>
void ForEachCandidateList(const Scope& scope, std::string_view path, const PathSegments& segs,
                          Add&& add) {
  if (const std::string_view key = WithoutTrailingSlash(path); scope.MayHave(key)) {
    if (auto it = scope.exact.find(key); it != scope.exact.end()) add(it->second);
  }
  if (scope.by_prefix.empty()) return;
  const std::size_t depth = std::min(scope.max_prefix_segments, segs.segments.size());
  for (std::size_t d = 0; d <= depth; ++d) {
    const std::string_view prefix =
        d == 0 ? std::string_view()
               : path.substr(0, segs.segments[d - 1].begin + segs.segments[d - 1].text.size());
    if (!scope.MayHave(prefix)) continue;
    if (auto it = scope.by_prefix.find(prefix); it != scope.by_prefix.end()) add(it->second);
  }
}

}  // namespace

bool RedirectMatcher::MayMatch(std::string_view path) const {
  if (impl_->rules.empty()) return false;
  if (!impl_->by_host.empty()) return true;  // the host's own rules are not looked at here
  const PathSegments segs(path);
  bool any = false;
  ForEachCandidateList(impl_->hostless, path, segs,
                       [&any](const IndexList& list) { any = any || !list.empty(); });
  return any;
}

RedirectMatch RedirectMatcher::Impl::MatchIndexed(const RedirectRequest& request,
                                                  const StaticFileLookup& has_static_file) const {
  const PathSegments segs(request.path);
  MergedIndexes candidates;
  auto add_scope = [&](const Scope& scope) {
    ForEachCandidateList(scope, request.path, segs,
                         [&candidates](const IndexList& list) { candidates.Add(&list); });
  };
  add_scope(hostless);
  if (!by_host.empty()) {
    std::string key = std::string(request.scheme) + "://" + AsciiLower(request.host);
    if (auto it = by_host.find(key); it != by_host.end()) add_scope(it->second);
  }

  const std::string language = PrimaryLanguage(request.accept_language);
  bool role_refused = false;
  Captures captures;
  std::uint32_t index = 0;
  while (candidates.Next(index)) {
    const auto verdict = Evaluate(index, request, segs, language, captures);
    if (verdict == Impl::Verdict::kNo) continue;
    if (verdict == Impl::Verdict::kRoleRefused) {
      role_refused = true;
      continue;
    }
    const RedirectRule& rule = rules[index];
    RedirectMatch match;
    if (!rule.force && has_static_file && has_static_file(request.path)) {
      if (role_refused) {
        match.kind = RedirectMatch::Kind::kDenied;
        match.status = 404;
      } else {
        match.kind = RedirectMatch::Kind::kShadowed;
        match.rule_index = index;
      }
      return match;
    }
    match.kind = RedirectMatch::Kind::kRule;
    match.rule_index = index;
    match.status = rule.status;
    match.force = rule.force;
    match.target = Substitute(index, captures);
    match.destination = match.target;
    if (!request.query.empty() && match.target.find('?') == std::string::npos) {
      const std::size_t hash = match.destination.find('#');
      match.destination.insert(hash == std::string::npos ? match.destination.size() : hash,
                               "?" + std::string(request.query));
    }
    return match;
  }
  RedirectMatch none;
  if (role_refused) {
    none.kind = RedirectMatch::Kind::kDenied;
    none.status = 404;
  }
  return none;
}

namespace {

bool RunHeaderPattern(const HeaderPattern& p, std::string_view lower_path) {
  using Op = HeaderPattern::Op;
  const std::size_t m = p.program.size();
  std::vector<std::uint8_t> current(m + 1, 0);
  std::vector<std::uint8_t> next(m + 1, 0);
  std::vector<std::uint32_t> stack;
  auto add = [&](std::vector<std::uint8_t>& set, std::uint32_t state) {
    stack.push_back(state);
    while (!stack.empty()) {
      const std::uint32_t s = stack.back();
      stack.pop_back();
      if (set[s]) continue;
      set[s] = 1;
      if (s == m) continue;
      const auto& inst = p.program[s];
      switch (inst.op) {
        case Op::kAnyStar:
        case Op::kNonSlashStar:
        case Op::kOptSlash:
          stack.push_back(s + 1);
          break;
        case Op::kSkipTo:
          stack.push_back(s + 1);
          stack.push_back(inst.target);
          break;
        default:
          break;
      }
    }
  };
  add(current, 0);
  for (char ch : lower_path) {
    std::fill(next.begin(), next.end(), 0);
    bool any = false;
    for (std::uint32_t s = 0; s < m; ++s) {
      if (!current[s]) continue;
      const auto& inst = p.program[s];
      bool stay = false;
      bool advance = false;
      switch (inst.op) {
        case Op::kLiteral:
          advance = inst.byte == ch;
          break;
        case Op::kAnyStar:
          stay = true;
          break;
        case Op::kNonSlash:
          advance = ch != '/';
          break;
        case Op::kNonSlashStar:
          stay = ch != '/';
          break;
        case Op::kOptSlash:
          advance = ch == '/';
          break;
        case Op::kSkipTo:
          break;
      }
      if (stay) add(next, s);
      if (advance) add(next, s + 1);
      any = any || stay || advance;
    }
    if (!any) return false;
    current.swap(next);
  }
  return current[m] != 0;
}

// Netlify's servers set these themselves and ignore custom values; so do we.
bool IsReservedHeader(std::string_view name) {
  static constexpr std::string_view kReserved[] = {"accept-ranges",  "age",
                                                   "allow",          "alt-svc",
                                                   "connection",     "content-encoding",
                                                   "content-length", "content-range",
                                                   "date",           "keep-alive",
                                                   "location",       "server",
                                                   "trailer",        "transfer-encoding",
                                                   "upgrade"};
  for (auto reserved : kReserved) {
    if (EqualsIgnoreCase(name, reserved)) return true;
  }
  return false;
}

}  // namespace

struct HeaderMatcher::Impl {
  std::vector<HeaderRule> rules;
  std::vector<HeaderPattern> patterns;
  IndexTable literal;  // lower-cased path without trailing '/'
  IndexList wildcard;
};

HeaderMatcher::HeaderMatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HeaderMatcher::HeaderMatcher(HeaderMatcher&&) noexcept = default;
HeaderMatcher& HeaderMatcher::operator=(HeaderMatcher&&) noexcept = default;
HeaderMatcher::~HeaderMatcher() = default;

const std::vector<HeaderRule>& HeaderMatcher::rules() const { return impl_->rules; }

Result<HeaderMatcher> HeaderMatcher::Compile(std::vector<HeaderRule> rules) {
  if (rules.size() > kMaxRules) {
    return MakeError(ErrorCode::kUnprocessable,
                     "more than " + std::to_string(kMaxRules) + " header rules");
  }
  auto impl = std::make_unique<Impl>();
  for (std::size_t i = 0; i < rules.size(); ++i) {
    auto pattern = rules_internal::CompileHeaderPattern(rules[i].path);
    if (!pattern.ok()) {
      return MakeError(ErrorCode::kUnprocessable, rules[i].source + ": " + pattern.error().message);
    }
    const auto index = static_cast<std::uint32_t>(i);
    if (pattern->is_literal) {
      impl->literal[std::string(WithoutTrailingSlash(pattern->literal_prefix))].push_back(index);
    } else {
      impl->wildcard.push_back(index);
    }
    impl->patterns.push_back(std::move(pattern).value());
  }
  impl->rules = std::move(rules);
  return HeaderMatcher(std::move(impl));
}

std::vector<std::size_t> HeaderMatcher::MatchingRules(std::string_view path) const {
  const std::string lower = AsciiLower(path);
  std::vector<std::size_t> out;
  IndexList matched_wildcards;
  for (std::uint32_t index : impl_->wildcard) {
    const HeaderPattern& p = impl_->patterns[index];
    if (lower.starts_with(p.literal_prefix) && RunHeaderPattern(p, lower)) {
      matched_wildcards.push_back(index);
    }
  }
  MergedIndexes merged;
  if (auto it = impl_->literal.find(WithoutTrailingSlash(lower)); it != impl_->literal.end()) {
    merged.Add(&it->second);
  }
  merged.Add(&matched_wildcards);
  std::uint32_t index = 0;
  while (merged.Next(index)) out.push_back(index);
  return out;
}

HeaderList HeaderMatcher::HeadersFor(std::string_view path) const {
  HeaderList out;
  for (std::size_t index : MatchingRules(path)) {
    for (const auto& header : impl_->rules[index].values) {
      const auto& [name, value] = header;
      if (IsReservedHeader(name)) continue;
      // Captures `header`, not the binding: clang before 16 cannot capture structured bindings.
      auto it = std::find_if(out.begin(), out.end(), [&](const auto& h) {
        return EqualsIgnoreCase(h.first, header.first);
      });
      if (it == out.end()) {
        out.emplace_back(name, value);
      } else {
        it->second += ", ";
        it->second += value;
      }
    }
  }
  return out;
}

}  // namespace replideploy::edge
