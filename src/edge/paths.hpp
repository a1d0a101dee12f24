// Request paths made safe to look up in a deploy: decoded once, with dot segments resolved, so
// that no request can name anything outside the deploy's root.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace replideploy::edge {

// Longest raw (still percent-encoded) request path accepted.
inline constexpr std::size_t kMaxRequestPathBytes = 8192;

// Turns the path of a request target, as sent (the part before '?', still percent-encoded),
// into the decoded path that rules and file lookups use. Pure function; thread-safe.
//
// The result starts with '/', has no empty, "." or ".." segment, no NUL, backslash or other
// control character, and is valid UTF-8. A trailing '/' is kept: it matters for directories.
//
// Normalised, as browsers and RFC 3986 section 5.2.4 do:
//   - runs of '/' collapse to one ("/a//b" -> "/a/b");
//   - "." segments drop ("/a/./b" -> "/a/b", "/a/." -> "/a/");
//   - a literal ".." removes the segment before it ("/a/b/../c" -> "/a/c").
// Rejected with kBadRequest (the edge answers 400):
//   - a path that does not start with '/' or is longer than kMaxRequestPathBytes;
//   - a ".." that would climb above the root ("/../x", "/a/../../x"): no file is there;
//   - a dot segment written with an encoded dot ("%2e", "%2e%2e", "%2E.", ".%2e"): browsers
//     resolve those before sending, so only a traversal attempt sends them;
//   - a malformed escape ("%zz", "%4", a trailing '%'): decoding is done once, never guessed;
//   - NUL and other control characters, raw or encoded ("%00", "%0a", "%7f");
//   - an encoded slash ("%2f", "%2F") and any backslash, raw or encoded ("\", "%5c"): a second
//     kind of separator would let a name mean one thing here and another on a file system;
//   - bytes that are not UTF-8 once decoded, including overlong forms ("%c0%ae", "%e0%80%ae")
//     and UTF-16 surrogates ("%ed%a0%80").
// "%25" decodes to a literal '%', so "%252e%252e" names a file called "%2e%2e", not a parent.
Result<std::string> NormalizeRequestPath(std::string_view raw_target_path);

// Whether `bytes` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF).
bool IsValidUtf8(std::string_view bytes);

}  // namespace replideploy::edge
