// Pieces shared by the rule parsers (rules_parse.cpp) and matchers (rules_match.cpp). Not part
// of the edge's interface: include rules.hpp instead.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/text.hpp"
#include "edge/rules.hpp"

namespace replideploy::edge::rules_internal {

// A redirect FROM path, split into segments. The trailing '/' of the written path is dropped:
// "/a/" and "/a" match the same requests.
struct RedirectPattern {
  struct Segment {
    bool is_placeholder = false;
    std::string text;  // decoded literal, or the placeholder's name without ':'
  };
  enum class Splat {
    kNone,
    kSegment,  // "/blog/*": "/blog", "/blog/" and "/blog/<rest>"
    kSuffix,   // "/blog*": "/blog<rest>" and "/blog/<rest>"
  };
  std::vector<Segment> segments;
  Splat splat = Splat::kNone;
  std::string suffix;  // kSuffix: the decoded literal before '*' in the last segment
};

// Parses the path of a redirect FROM. The error's message is the reason only; callers add
// "<file>:<line>: ".
Result<RedirectPattern> ParseRedirectPattern(std::string_view path);

// A header rule path compiled for a small NFA (no backtracking): O(path * pattern) to match.
struct HeaderPattern {
  enum class Op : std::uint8_t {
    kLiteral,       // one byte, ASCII case-insensitive
    kAnyStar,       // any bytes, '/' included, zero or more
    kNonSlash,      // one byte other than '/'
    kNonSlashStar,  // bytes other than '/', zero or more
    kOptSlash,      // an optional '/'
    kSkipTo,        // either go on, or jump to `target` without reading
  };
  struct Inst {
    Op op;
    char byte = 0;
    std::uint32_t target = 0;
  };
  std::vector<Inst> program;   // accepting state: program.size()
  std::string literal_prefix;  // lower-cased bytes every match starts with
  bool is_literal = false;     // no wildcard: literal_prefix + an optional '/' is all it matches
};

// Compiles a header rule path ("/assets/*"); the error's message is the reason only.
Result<HeaderPattern> CompileHeaderPattern(std::string_view path);

// Percent-decodes a piece of a rule path. Refuses malformed escapes and encoded '/', NUL and
// control characters (a rule could never match a normalised request path containing them).
Result<std::string> DecodeRulePath(std::string_view text);

bool IsHeaderName(std::string_view name);
bool IsHeaderValue(std::string_view value);

using core::AsciiLower;
std::string AsciiLower(std::string_view text);
using core::EqualsIgnoreCase;

// Shared by the line parsers (rules_parse.cpp, rules_headers.cpp) and netlify.toml's tables
// (rules_toml.cpp).
// A kUnprocessable error whose message is the reason only.
Error Reason(std::string reason);
std::string Where(std::string_view file, std::size_t line);
Error LineError(std::string_view file, std::size_t line, std::string_view reason);
// Appends a SkippedRule to `skipped` (when not null), with `text` cut to kSkippedTextBytes.
void Skip(std::vector<SkippedRule>* skipped, std::string_view file, std::size_t line,
          std::string reason, std::string_view text);
std::string_view Trim(std::string_view s);
bool IsUrl(std::string_view s);

// Walks the lines of a rule file, checking what every line must satisfy.
class LineReader {
 public:
  explicit LineReader(std::string_view text);  // skips a UTF-8 byte order mark

  // Fills `line` with the next line (without its end of line) and returns true, or returns
  // false at the end. `problem` is why the line is unacceptable (over kMaxRuleLineBytes, NUL,
  // a control character, invalid UTF-8), or empty.
  bool Next(std::string_view& line, std::string& problem);
  std::size_t number() const { return number_; }  // of the line Next returned, 1-based

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t number_ = 0;
};
Status CheckFileSize(std::string_view text, std::string_view file);
Status ValidateDestination(std::string_view to);
// FROM: a path, or an http(s) URL whose host the request must have.
Status ParseFrom(std::string_view from, RedirectRule& rule);
// A status token, "301" or "200!": false when `token` is not one.
Result<bool> ParseStatus(std::string_view token, int& status, bool& force);
Status AddQueryCondition(RedirectRule& rule, std::string_view key, std::string_view value);
Result<std::vector<std::string>> SplitList(std::string_view name, std::string_view value);
Status AddCondition(RedirectRule& rule, std::string_view name, std::vector<std::string> values);
Status SetForwardTarget(RedirectRule& rule);
Status AddHeaderValue(HeaderList& values, std::string_view name, std::string_view value);
Status ValidateHeaderPath(std::string_view path);

}  // namespace replideploy::edge::rules_internal
