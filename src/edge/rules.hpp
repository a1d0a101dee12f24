// Netlify-compatible redirect and header rules: parsers for `_redirects`, `_headers` and the
// [[redirects]] / [[headers]] tables of `netlify.toml`, and matchers compiled from them once
// per deploy.
//
// Matching follows Netlify's own engine, the `netlify-redirector` package (a WebAssembly build
// of their C++ matcher), which tests/oracle/ runs side by side with ours on a generated corpus.
// Parsing follows the engine and `@netlify/redirect-parser` / `@netlify/headers-parser`: a rule
// that does not parse (a line of `_redirects` or `_headers`, a table of `netlify.toml`) is left
// out and reported as a SkippedRule, and the rest of the file applies, as on Netlify. We skip
// some lines the engine keeps (rules that could never match, or would mislead); only what
// Netlify itself refuses (a `netlify.toml` that is not TOML) and our size limits fail a file.
// Where we differ on purpose, rules_parse.cpp says so and why.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace replideploy::edge {

inline constexpr std::size_t kMaxRules = 10000;            // per file, and per compiled set
inline constexpr std::size_t kMaxRuleLineBytes = 4096;     // per line of _redirects/_headers
inline constexpr std::size_t kMaxRuleFileBytes = 4 << 20;  // per rule file

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// A rule left out of a deploy: a line of `_redirects` or `_headers` (with the header lines of a
// skipped `_headers` path), or a [[redirects]] / [[headers]] table of `netlify.toml`.
struct SkippedRule {
  std::string file;      // "_redirects"
  std::size_t line = 0;  // 1-based
  std::string reason;    // "missing destination"
  std::string text;      // the line as written (trimmed, at most kSkippedTextBytes); "" for TOML
};
inline constexpr std::size_t kSkippedTextBytes = 200;

// "<file>:<line>: <reason>".
std::string Describe(const SkippedRule& skipped);

// `KEY=VALUE` after FROM: the request must carry KEY. KEY is compared with the query string as
// sent (still encoded); the value is compared after decoding ('+' is a space), unless it is a
// placeholder (`id=:id`), which takes any value and can be used in TO as `:id`.
struct QueryCondition {
  std::string key;
  std::string value;  // the literal value, or the placeholder's name without ':'
  bool is_placeholder = false;
};

struct RedirectCondition {
  enum class Kind {
    kCountry,   // the client's country is one of `values` (lower-cased ISO 3166 codes)
    kLanguage,  // the primary language subtag is one of `values` (lower-cased)
    kRole,      // the visitor's verified JWT has one of `values` as a role
    kCookie,    // one of the cookies named in `values` is set to a non-empty value
  };
  Kind kind = Kind::kCountry;
  std::vector<std::string> values;
};

struct RedirectRule {
  std::string from;    // the path of FROM as written: "/blog/:year/*"
  std::string scheme;  // "http" or "https" when FROM is a full URL; empty otherwise
  std::string host;    // lower-cased host when FROM is a full URL; empty otherwise
  std::vector<QueryCondition> query;
  std::string to;  // "/news/:splat" or "https://example.com/:splat"
  int status = 301;
  bool force = false;
  // Country=, Language=, Role=, Cookie=, in the order written: the first that fails decides.
  // A failing Role refuses the visitor (see RedirectMatcher::Match); any other just does not
  // match, as in Netlify's engine.
  std::vector<RedirectCondition> conditions;
  HeaderList proxy_headers;  // sent upstream when proxying (netlify.toml `headers`)
  std::string signed_env;    // `signed` / `Sign=`: env var naming a signing secret
  std::string source;        // "_redirects:12", for messages
};

// A status 200 rule whose TO is an absolute URL: the edge proxies instead of rewriting.
bool IsProxyRule(const RedirectRule& rule);

struct HeaderRule {
  std::string path;   // the pattern as written: "/assets/*", "/:lang/about"
  HeaderList values;  // in file order; a name given twice in one rule is comma-joined
  std::string source;
};

// `_redirects`: one rule a line,
//   FROM [KEY=VALUE ...] TO [STATUS[!]] [Country=a,b] [Language=a,b] [Role=a,b] [Cookie=a,b]
//   [Sign=ENV]
// with '#' comments (whole lines, or from a token starting with '#'). FROM is a path (with
// `:placeholder` segments and an optional trailing `*`) or an http(s) URL; TO is a path or an
// http(s) URL; STATUS is 200..599 (default 301), '!' forces the rule; `FROM/* 200` alone
// rewrites to itself. A line that is not such a rule (also one over kMaxRuleLineBytes, with NUL,
// control characters or invalid UTF-8) is skipped and appended to `skipped` (when not null), and
// so are the lines after the first kMaxRules rules (one entry). Fails with kUnprocessable only
// on a file over kMaxRuleFileBytes.
Result<std::vector<RedirectRule>> ParseRedirectsFile(std::string_view text,
                                                     std::string_view file_name = "_redirects",
                                                     std::vector<SkippedRule>* skipped = nullptr);

// `_headers`: a path line (starting with '/', with `*` and `:placeholder`) followed by
// `Name: value` lines (indentation optional), '#' comment lines. Skipped, as above: a header line
// with no name, no value, an invalid name or a control character in its value, one before any
// path, a line that is neither a path nor a header; and a path that can never match (or a URL)
// together with its header lines. Fails only on a file over kMaxRuleFileBytes.
Result<std::vector<HeaderRule>> ParseHeadersFile(std::string_view text,
                                                 std::string_view file_name = "_headers",
                                                 std::vector<SkippedRule>* skipped = nullptr);

struct NetlifyTomlRules {
  std::vector<RedirectRule> redirects;
  std::vector<HeaderRule> headers;
};

// The [[redirects]] (from, to, status, force, query, conditions, headers, signed) and
// [[headers]] (for, values) tables of `netlify.toml`; every other table is ignored, and so are
// unknown keys inside these tables, as Netlify does. A table with a wrong type or an invalid
// value is skipped (appended to `skipped`, at the line of the offending value), as
// `@netlify/config` skips it with a warning; so is a `redirects` or `headers` key that is not an
// array of tables. Fails with kUnprocessable "<file_name>:<line>: <reason>" on a TOML syntax
// error (Netlify's build fails on it too), NUL, or a file over kMaxRuleFileBytes.
Result<NetlifyTomlRules> ParseNetlifyToml(std::string_view text,
                                          std::string_view file_name = "netlify.toml",
                                          std::vector<SkippedRule>* skipped = nullptr);

// The primary language subtag of the first entry of an Accept-Language value, lower-cased:
// "de-AT,en;q=0.5" -> "de". Empty when there is none.
std::string PrimaryLanguage(std::string_view accept_language);

// What Match needs to know about a request.
struct RedirectRequest {
  std::string_view path;               // as returned by NormalizeRequestPath (decoded)
  std::string_view query;              // raw query string without '?', as sent
  std::string_view scheme = "https";   // "http" or "https"
  std::string_view host;               // Host name without port (compared case-insensitively)
  std::string_view country;            // the client's ISO 3166 code, any case; empty: unknown
  std::string_view accept_language;    // the Accept-Language header; empty: none
  std::span<const std::string> roles;  // roles from the visitor's verified JWT; empty: none
  std::string_view cookie_header;      // the Cookie header, for Cookie= conditions
};

// Whether the deploy has a file that answers `path` (with the static file rules: exact,
// `.html`, `/index.html`). Called at most once per Match.
using StaticFileLookup = std::function<bool(std::string_view path)>;

struct RedirectMatch {
  enum class Kind {
    kNone,      // no rule applies: serve the path as if there were no rules
    kShadowed,  // the first matching rule is not forced and a file exists: serve the file
    kRule,      // apply rule_index: redirect (3xx), rewrite or proxy (200), or status page
    kDenied,    // a Role rule covers the path and the visitor has none of its roles: 404
  };
  Kind kind = Kind::kNone;
  std::size_t rule_index = 0;  // kShadowed, kRule
  int status = 0;              // kRule: the rule's status; kDenied: 404
  bool force = false;          // kRule
  // kRule: TO with `:placeholders` and `:splat` substituted. Values from the path are
  // percent-encoded where a URL needs it; values from the query are form-encoded, as Netlify
  // does. A rewrite target must go through NormalizeRequestPath before a file lookup.
  std::string target;
  // kRule: `target`, plus the request's query string when TO has none of its own (Netlify
  // passes query strings through to redirect and rewrite destinations).
  std::string destination;
};

// Why one redirect rule did or did not answer a request (RedirectMatcher::Match with a trace):
// what `replideploy rules test` shows, rule by rule.
struct RedirectVerdict {
  enum class Outcome {
    kNotMatched,   // `reason` names the part that did not match
    kRoleRefused,  // everything matched but the visitor has none of the rule's roles
    kMatched,      // this rule answers the request
    kShadowed,     // it matched, but it is not forced and a file answers the path
    kNotReached,   // an earlier rule answered
  };
  Outcome outcome = Outcome::kNotReached;
  std::string reason;
};

// "not_matched", "role_refused", "matched", "shadowed", "not_reached".
std::string_view OutcomeName(RedirectVerdict::Outcome outcome);

// The compiled redirect rules of one deploy. Exact paths are looked up in a hash table and
// rules with placeholders or a splat are indexed by their literal leading segments, so a
// request costs a few hash lookups whatever the number of rules, while the first rule (in file
// order) that matches still wins. Immutable and thread-safe once compiled.
class RedirectMatcher {
 public:
  // Rules are in priority order: `_redirects` before `netlify.toml`, as Netlify does. Fails
  // with kUnprocessable (naming the rule's source) on more than kMaxRules rules or a pattern
  // that the parsers would have refused.
  static Result<RedirectMatcher> Compile(std::vector<RedirectRule> rules);

  // The first rule, in order, whose FROM, host, query and conditions match. A Role rule whose
  // conditions hold except for the role does not match; when no later rule does either, the
  // answer is kDenied. When the first matching rule is not forced and `has_static_file`
  // (checked for request.path) says a file exists, the file wins (kShadowed) and no later rule
  // is tried, as in Netlify's CLI; after a refused Role rule that answer is kDenied instead,
  // so a protected file is never served.
  //
  // With `trace`, also says for every rule, in order, why it did or did not answer (one entry
  // per rule); the answer is the same as without it. Tracing costs a pass over every rule:
  // for explaining, not for serving.
  RedirectMatch Match(const RedirectRequest& request, const StaticFileLookup& has_static_file = {},
                      std::vector<RedirectVerdict>* trace = nullptr) const;

  // False when no rule can match `path` whatever the rest of the request (its host, query,
  // cookies, language): the index has no candidate for it. Match then answers kNone, so the
  // edge need not gather the rest of the request.
  bool MayMatch(std::string_view path) const;

  const std::vector<RedirectRule>& rules() const;

  RedirectMatcher(RedirectMatcher&&) noexcept;
  RedirectMatcher& operator=(RedirectMatcher&&) noexcept;
  ~RedirectMatcher();

 private:
  struct Impl;
  explicit RedirectMatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The compiled header rules of one deploy: every rule whose pattern matches the path applies.
// Patterns match case-insensitively, ignore a trailing slash, `:name` takes one segment, a `*`
// segment takes any rest (or nothing: "/a/*" matches "/a"), `*` inside a segment takes any
// characters. Immutable and thread-safe once compiled.
class HeaderMatcher {
 public:
  // Rules are in order: `_headers` before `netlify.toml`. Fails with kUnprocessable on more
  // than kMaxRules rules or an invalid pattern.
  static Result<HeaderMatcher> Compile(std::vector<HeaderRule> rules);

  // Indexes of the rules matching `path` (decoded, normalised), in order.
  std::vector<std::size_t> MatchingRules(std::string_view path) const;

  // The headers of every matching rule, in order of first appearance. A name set by several
  // matching rules gets their values joined with ", " (names compare case-insensitively), so
  // that a broad rule ("/*") and a specific one both take effect; Netlify's CLI keeps only the
  // last value instead. Names Netlify reserves for its servers (Content-Length, Location,
  // Transfer-Encoding, ...) are left out, as Netlify ignores them.
  HeaderList HeadersFor(std::string_view path) const;

  const std::vector<HeaderRule>& rules() const;

  HeaderMatcher(HeaderMatcher&&) noexcept;
  HeaderMatcher& operator=(HeaderMatcher&&) noexcept;
  ~HeaderMatcher();

 private:
  struct Impl;
  explicit HeaderMatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace replideploy::edge
