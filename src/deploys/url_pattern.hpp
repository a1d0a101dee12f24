// A path pattern in URLPattern syntax (https://urlpattern.spec.whatwg.org/, the pathname part),
// as Netlify functions declare routes with `export const config = { path }`. There is no
// URLPattern library in Debian, so this is a small matcher of our own:
//   /api/hello            fixed text
//   /items/:id            a named segment: one or more characters other than '/'
//   /files/:path*         ... zero or more segments (":path+" one or more, ":id?" optional);
//                         the '/' before it belongs to the repetition
//   /blog/*               a wildcard: any characters, '/' included (groups "0", "1", ...)
//   /post/:id(\d+)        a named segment with its own regular expression (ECMAScript)
//   /books{/:id}?         a group: "{...}" with a modifier ("?", "*", "+")
//   \:                    an escaped character is fixed text
// Matching is over the whole (decoded, normalised) request path, case-sensitive; like
// zip-it-and-ship-it's compiled routes, one trailing '/' is optional ("/foo" matches "/foo/").
// Cost bounds (matching runs on the edge's I/O threads): at most 4 wildcards, custom regular
// expressions or repeated parts per pattern; a path longer than 1024 bytes matches no pattern
// that is not literal; a custom regular expression matches at most 256 bytes.
// Immutable after Parse; thread-safe.
#pragma once

#include <map>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace replideploy::deploys {

class UrlPattern {
 public:
  // kUnprocessable ("invalid_path_pattern") when `pattern` does not start with '/', is longer
  // than 2048 bytes, has more than 4 open parts (above) or is not valid URLPattern pathname syntax
  // (unbalanced "{}" or "()", a bad regular expression, a modifier with nothing before it, a nested
  // group).
  static Result<UrlPattern> Parse(std::string_view pattern);

  // Whether the whole of `path` matches. On a match, `params` (when not null) receives the
  // named groups ("id" -> "42", wildcards as "0", "1", ...); an optional group that did not
  // take part is left out.
  bool Match(std::string_view path, std::map<std::string, std::string>* params = nullptr) const;

  const std::string& source() const { return source_; }
  // Fixed text only (no groups): Match is a string comparison.
  bool literal() const { return literal_; }

 private:
  struct Part;
  struct Matcher;

  std::string source_;
  bool literal_ = true;
  std::string literal_text_;  // when literal_: the text, escapes resolved
  std::vector<std::shared_ptr<const Part>> parts_;
};

}  // namespace replideploy::deploys
