// rd_rules_oracle: the C++ side of tests/oracle/compare.mjs.
//
// Reads JSON lines on stdin, one rule set with its requests each:
//   {"id": 7, "redirects": "<_redirects text>", "toml": "<netlify.toml text, optional>",
//    "requests": [{"path": "/a", "query": "x=1", "scheme": "https", "host": "h.test",
//                  "country": "us", "language": "en", "roles": ["admin"], "cookie": "a=1",
//                  "static": false}]}
// and prints one JSON line per input line, in order:
//   {"id": 7, "error": "<parse error>"}  or
//   {"id": 7, "skipped": [{"file": "_redirects", "line": 3, "reason": "..."}],
//    "results": [{"kind": "rule", "rule": 0, "from": "/a", "to": "/b", "status": 301,
//                          "force": false, "destination": "/b?x=1"},
//                         {"kind": "none"}, {"kind": "shadowed", "rule": 2, "from": "/c"},
//                         {"kind": "denied"}, {"kind": "bad_path", "error": "..."}]}
// Exits non-zero only when stdin is not JSON lines of that shape.
#include <boost/json.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "edge/paths.hpp"
#include "edge/rules.hpp"

namespace json = boost::json;
using replideploy::Result;
using replideploy::edge::NormalizeRequestPath;
using replideploy::edge::ParseNetlifyToml;
using replideploy::edge::ParseRedirectsFile;
using replideploy::edge::RedirectMatch;
using replideploy::edge::RedirectMatcher;
using replideploy::edge::RedirectRequest;
using replideploy::edge::RedirectRule;
using replideploy::edge::SkippedRule;

namespace {

std::string_view StringField(const json::object& o, std::string_view key,
                             std::string_view fallback = "") {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return fallback;
  return v->get_string();
}

Result<RedirectMatcher> Load(const json::object& input, std::vector<SkippedRule>& skipped) {
  RD_TRY(std::vector<RedirectRule> rules,
         ParseRedirectsFile(StringField(input, "redirects"), "_redirects", &skipped));
  if (input.contains("toml")) {
    RD_TRY(auto toml, ParseNetlifyToml(StringField(input, "toml"), "netlify.toml", &skipped));
    for (auto& rule : toml.redirects) rules.push_back(std::move(rule));
  }
  return RedirectMatcher::Compile(std::move(rules));
}

json::object Answer(const RedirectMatcher& matcher, const json::object& r) {
  json::object out;
  auto path = NormalizeRequestPath(StringField(r, "path"));
  if (!path.ok()) {
    out["kind"] = "bad_path";
    out["error"] = path.error().message;
    return out;
  }
  std::vector<std::string> roles;
  if (const json::value* v = r.if_contains("roles"); v != nullptr && v->is_array()) {
    for (const auto& role : v->get_array()) {
      if (role.is_string()) roles.emplace_back(role.get_string());
    }
  }
  RedirectRequest request;
  request.path = *path;
  request.query = StringField(r, "query");
  request.scheme = StringField(r, "scheme", "https");
  request.host = StringField(r, "host");
  request.country = StringField(r, "country");
  request.accept_language = StringField(r, "language");
  request.roles = roles;
  request.cookie_header = StringField(r, "cookie");
  const json::value* is_static = r.if_contains("static");
  const bool has_file = is_static != nullptr && is_static->is_bool() && is_static->get_bool();

  const RedirectMatch m = matcher.Match(request, [&](std::string_view) { return has_file; });
  switch (m.kind) {
    case RedirectMatch::Kind::kNone:
      out["kind"] = "none";
      break;
    case RedirectMatch::Kind::kDenied:
      out["kind"] = "denied";
      break;
    case RedirectMatch::Kind::kShadowed:
      out["kind"] = "shadowed";
      out["rule"] = m.rule_index;
      out["from"] = matcher.rules()[m.rule_index].from;
      break;
    case RedirectMatch::Kind::kRule:
      out["kind"] = "rule";
      out["rule"] = m.rule_index;
      out["from"] = matcher.rules()[m.rule_index].from;
      out["to"] = m.target;
      out["status"] = m.status;
      out["force"] = m.force;
      out["destination"] = m.destination;
      break;
  }
  return out;
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(std::cin, line)) {
    ++line_number;
    if (line.empty()) continue;
    boost::system::error_code ec;
    json::value parsed = json::parse(line, ec);
    if (ec || !parsed.is_object()) {
      std::cerr << "rd_rules_oracle: line " << line_number << " is not a JSON object\n";
      return 2;
    }
    const json::object& input = parsed.get_object();
    json::object out;
    if (const json::value* id = input.if_contains("id")) out["id"] = *id;
    std::vector<SkippedRule> skipped;
    auto matcher = Load(input, skipped);
    if (!matcher.ok()) {
      out["error"] = matcher.error().message;
    } else {
      json::array skipped_json;
      for (const SkippedRule& s : skipped) {
        skipped_json.push_back(
            json::object{{"file", s.file}, {"line", s.line}, {"reason", s.reason}});
      }
      out["skipped"] = std::move(skipped_json);
      json::array results;
      if (const json::value* reqs = input.if_contains("requests"); reqs && reqs->is_array()) {
        for (const auto& r : reqs->get_array()) {
          if (!r.is_object()) {
            std::cerr << "rd_rules_oracle: line " << line_number
                      << ": a request is not an object\n";
            return 2;
          }
          results.push_back(Answer(*matcher, r.get_object()));
        }
      }
      out["results"] = std::move(results);
    }
    std::cout << json::serialize(out) << '\n';
  }
  std::cout.flush();
  return 0;
}
