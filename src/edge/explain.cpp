#include "edge/explain.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "edge/paths.hpp"
#include "edge/route.hpp"
#include "edge/static_files.hpp"

namespace replideploy::edge {

namespace json = boost::json;

namespace {

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
  });
}

Error Invalid(std::string message) { return MakeError(ErrorCode::kBadRequest, std::move(message)); }

std::string_view ConditionName(RedirectCondition::Kind kind) {
  switch (kind) {
    case RedirectCondition::Kind::kCountry:
      return "Country";
    case RedirectCondition::Kind::kLanguage:
      return "Language";
    case RedirectCondition::Kind::kRole:
      return "Role";
    case RedirectCondition::Kind::kCookie:
      return "Cookie";
  }
  return "Condition";
}

// "alice:secret bob:x" -> "alice:*** bob:***": an explanation never shows passwords.
std::string RedactCredentials(std::string_view value) {
  std::string out;
  std::size_t pos = 0;
  while (pos < value.size()) {
    std::size_t end = value.find(' ', pos);
    if (end == std::string_view::npos) end = value.size();
    const std::string_view token = value.substr(pos, end - pos);
    if (!token.empty()) {
      if (!out.empty()) out += ' ';
      out += std::string(token.substr(0, token.find(':'))) + ":***";
    }
    pos = end + 1;
  }
  return out;
}

bool IsBasicAuth(std::string_view name) {
  constexpr std::string_view kName = "basic-auth";
  return name.size() == kName.size() &&
         std::equal(name.begin(), name.end(), kName.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

json::array HeaderArray(const HeaderList& headers) {
  json::array out;
  for (const auto& header : headers) {
    const std::string value =
        IsBasicAuth(header.first) ? RedactCredentials(header.second) : header.second;
    out.push_back(json::object{{"name", header.first}, {"value", value}});
  }
  return out;
}

json::value OrNull(const std::string& s) { return s.empty() ? json::value() : json::value(s); }

// The rule that answered, from the trace (the first matched or shadowed one).
const RedirectRule* AnsweringRule(const DeployRules& rules, const RouteTrace& trace,
                                  RedirectVerdict::Outcome outcome) {
  for (std::size_t i = 0; i < trace.redirects.size(); ++i) {
    if (trace.redirects[i].outcome == outcome) return &rules.redirect_rules()[i];
  }
  return nullptr;
}

}  // namespace

std::string FormatRedirectRule(const RedirectRule& rule) {
  std::string out;
  if (!rule.host.empty()) out += rule.scheme + "://" + rule.host;
  out += rule.from;
  for (const QueryCondition& q : rule.query) {
    out += " " + q.key + "=" + (q.is_placeholder ? ":" + q.value : q.value);
  }
  out += " " + rule.to + " " + std::to_string(rule.status);
  if (rule.force) out += "!";
  for (const RedirectCondition& c : rule.conditions) {
    out += " " + std::string(ConditionName(c.kind)) + "=";
    for (std::size_t i = 0; i < c.values.size(); ++i) out += (i > 0 ? "," : "") + c.values[i];
  }
  return out;
}

Result<http::Request> BuildExplainRequest(const ExplainInput& input,
                                          std::string_view default_host) {
  http::Request request;
  request.method = input.method.empty() ? "GET" : input.method;
  if (!http::IsToken(request.method) || request.method.size() > 32) {
    return Invalid("method: not an HTTP method");
  }
  std::transform(request.method.begin(), request.method.end(), request.method.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  std::string host(default_host);
  const std::string& url = input.url;
  if (url.empty()) return Invalid("url: give a path (/about) or an http(s) URL");
  if (url.size() > 8192) return Invalid("url: longer than 8192 bytes");
  if (HasControl(url) || url.find(' ') != std::string::npos) {
    return Invalid("url: spaces and control characters must be percent-encoded");
  }
  if (url.front() == '/') {
    if (url.starts_with("//")) return Invalid("url: a path must not start with //");
    request.target = url;
  } else {
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed || (parsed->scheme() != "http" && parsed->scheme() != "https") ||
        parsed->encoded_host().empty()) {
      return Invalid("url: give a path (/about) or an http(s) URL");
    }
    host = std::string(parsed->encoded_host());
    if (parsed->has_port()) host += ":" + std::string(parsed->port());
    request.target = parsed->encoded_path().empty() ? "/" : std::string(parsed->encoded_path());
    if (parsed->has_query()) request.target += "?" + std::string(parsed->encoded_query());
  }
  for (const auto& [name, value] : input.headers) {
    if (!http::IsToken(name)) return Invalid("headers: \"" + name + "\" is not a header name");
    if (HasControl(value)) return Invalid("headers: the value of " + name + " has a line break");
    request.headers.Add(name, value);
  }
  const std::pair<std::string_view, const std::string*> fields[] = {
      {"country", &input.country}, {"language", &input.language}, {"cookie", &input.cookie}};
  for (const auto& [field, value] : fields) {
    if (HasControl(*value)) return Invalid(std::string(field) + ": has a control character");
  }
  if (!input.country.empty()) request.headers.Set("X-Country", input.country);
  if (!input.language.empty()) request.headers.Set("Accept-Language", input.language);
  if (!input.cookie.empty()) request.headers.Set("Cookie", input.cookie);
  for (const std::string& role : input.roles) {
    if (role.empty() || HasControl(role)) return Invalid("roles: a role must be a non-empty word");
  }
  request.headers.Set("Host", host);
  const auto q = request.target.find('?');
  request.path = request.target.substr(0, q);
  if (q != std::string::npos) request.query = http::ParseQuery(request.target.substr(q + 1));
  return request;
}

std::string ExplainJson(const deploys::DeployManifest& manifest, const DeployRules& rules,
                        const http::Request& request, std::span<const std::string> roles) {
  json::object out;
  out["deploy_id"] = manifest.deploy_id;
  const auto q = request.target.find('?');
  json::array role_list;
  for (const auto& r : roles) role_list.push_back(json::string(r));
  json::object req{{"method", request.method},
                   {"host", request.HostName()},
                   {"target", request.target},
                   {"country", std::string(request.Header("X-Country"))},
                   {"language", std::string(request.Header("Accept-Language"))},
                   {"cookie", std::string(request.Header("Cookie"))},
                   {"roles", std::move(role_list)}};

  auto path = NormalizeRequestPath(std::string_view(request.target).substr(0, q));
  json::object answer;
  if (!path.ok()) {
    req["path"] = nullptr;
    out["request"] = std::move(req);
    out["redirects"] = json::array();
    out["headers"] = json::array();
    out["static_file"] = nullptr;
    answer = {{"kind", "bad_request"},   {"status", 400},    {"location", nullptr},
              {"rewrite", nullptr},      {"proxy", nullptr}, {"file", nullptr},
              {"headers", json::array()}};
    out["answer"] = std::move(answer);
    out["summary"] = "400: the path is not valid (" + path.error().message + ")";
    return json::serialize(out);
  }
  req["path"] = *path;
  out["request"] = std::move(req);

  RouteTrace trace;
  const Route route = RouteRequest(manifest, rules, request, *path, roles, &trace);

  json::array redirects;
  for (std::size_t i = 0; i < rules.redirect_rules().size(); ++i) {
    const RedirectRule& rule = rules.redirect_rules()[i];
    const RedirectVerdict& v = trace.redirects.at(i);
    redirects.push_back(json::object{{"source", rule.source},
                                     {"rule", FormatRedirectRule(rule)},
                                     {"outcome", OutcomeName(v.outcome)},
                                     {"reason", v.reason}});
  }
  out["redirects"] = std::move(redirects);
  json::array headers;
  for (std::size_t i = 0; i < rules.header_rules().size(); ++i) {
    const HeaderRule& rule = rules.header_rules()[i];
    const bool applies = std::find(trace.header_rules.begin(), trace.header_rules.end(), i) !=
                         trace.header_rules.end();
    headers.push_back(json::object{{"source", rule.source},
                                   {"for", rule.path},
                                   {"applies", applies},
                                   {"values", HeaderArray(rule.values)}});
  }
  out["headers"] = std::move(headers);
  out["static_file"] = trace.static_match.kind == StaticMatch::Kind::kFile
                           ? json::value(trace.static_match.path)
                           : json::value();

  const RedirectRule* matched = AnsweringRule(rules, trace, RedirectVerdict::Outcome::kMatched);
  const RedirectRule* shadowed = AnsweringRule(rules, trace, RedirectVerdict::Outcome::kShadowed);
  const std::string by = matched != nullptr ? " by " + matched->source : std::string();
  std::string kind;
  std::string summary = std::to_string(route.status);
  std::string rewrite;
  std::string proxy;
  std::string file;
  // A Role rule refused the visitor and no later rule answered (RedirectMatch::Kind::kDenied).
  const bool denied = route.decision.kind == RuleDecision::Kind::kStatus && matched == nullptr;
  switch (route.kind) {
    case Route::Kind::kRedirect:
      kind = "redirect";
      summary +=
          " redirect to " + route.location +
          (matched != nullptr ? by : " (pretty URLs: the path names a folder or .html file)");
      break;
    case Route::Kind::kUnauthorized:
      kind = "unauthorized";
      summary += ": " + route.auth_source +
                 " protects the path with Basic-Auth and the request has none of its credentials "
                 "(give them with --header \"Authorization: Basic ...\")";
      break;
    case Route::Kind::kFunction:
      kind = "function";
      summary += " from the function " + route.function +
                 (matched != nullptr ? by : " (functions paths answer before any rule)");
      break;
    case Route::Kind::kProxy:
      kind = "proxy";
      proxy = route.decision.target;
      summary += " proxied to " + proxy + by;
      break;
    case Route::Kind::kFile:
    case Route::Kind::kNotFound:
      file = route.file;
      const std::string page =
          route.kind == Route::Kind::kFile ? "the page " + file : "the platform's not-found page";
      if (denied) {
        kind = "denied";
        summary += " with " + page + " (a Role rule refused the visitor)";
      } else if (route.decision.kind == RuleDecision::Kind::kNone) {
        if (route.status == 200) {
          kind = "file";
          summary += " with the file " + file;
          summary += shadowed != nullptr ? " (" + shadowed->source +
                                               " matched, but the file shadows it: not forced)"
                                         : " (no rule applies)";
        } else {
          kind = "not_found";
          summary += " with " + page + " (no file and no rule answers the path)";
        }
      } else {
        rewrite = route.decision.target;
        const bool found = !route.not_found_page;
        kind = route.decision.kind == RuleDecision::Kind::kRewrite && found ? "rewrite" : "status";
        summary +=
            found ? " with the file " + file + ", rewritten" + by
                  : " with " + page + by +
                        (rewrite.empty() ? "" : " (" + rewrite + " is not a file of the deploy)");
      }
      break;
  }
  answer = {{"kind", kind},
            {"status", route.status},
            {"location", OrNull(route.location)},
            {"rewrite", OrNull(rewrite)},
            {"proxy", OrNull(proxy)},
            {"file", OrNull(file)},
            {"headers", HeaderArray(route.headers)},
            {"basic_auth", OrNull(route.auth_source)}};
  out["answer"] = std::move(answer);
  out["summary"] = std::move(summary);
  return json::serialize(out);
}

Result<std::string> FormatExplanation(std::string_view text) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  const json::object* o = doc.if_object();
  if (ec || o == nullptr || !o->contains("answer") || !o->contains("redirects") ||
      !o->contains("headers") || !o->contains("request")) {
    return MakeError(ErrorCode::kBadRequest, "not an explanation");
  }
  auto str = [](const json::value* v) {
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  std::string out;
  const json::object* req = o->at("request").if_object();
  if (req != nullptr) {
    out += str(req->if_contains("method")) + " " + str(req->if_contains("target")) + "  (host " +
           str(req->if_contains("host"));
    if (!str(req->if_contains("path")).empty() &&
        str(req->if_contains("path")) != str(req->if_contains("target"))) {
      out += ", path " + str(req->if_contains("path"));
    }
    out += ", deploy " + str(o->if_contains("deploy_id")) + ")\n";
  }
  // Added by the API for a site with a site-wide password (docs/edge.md).
  if (const json::object* pw =
          o->contains("site_password") ? o->at("site_password").if_object() : nullptr) {
    const json::value* required = pw->if_contains("required");
    if (required != nullptr && required->is_bool() && required->get_bool()) {
      out += "\nSite password: required (" + str(pw->if_contains("scope")) +
             "). Without it the edge answers 401 before any rule; what follows is the answer "
             "after signing in.\n";
    } else {
      out += "\nSite password: set (" + str(pw->if_contains("scope")) +
             "), not asked on this deploy's address.\n";
    }
  }
  const json::array* redirects = o->at("redirects").if_array();
  out += "\nRedirect rules, in order:\n";
  if (redirects == nullptr || redirects->empty()) out += "  (none)\n";
  if (redirects != nullptr) {
    for (const json::value& v : *redirects) {
      const json::object* r = v.if_object();
      if (r == nullptr) continue;
      const std::string outcome = str(r->if_contains("outcome"));
      const std::string mark = outcome == "matched"        ? "=>"
                               : outcome == "shadowed"     ? "~ "
                               : outcome == "role_refused" ? "x "
                               : outcome == "not_reached"  ? "  "
                                                           : "- ";
      out += "  " + mark + " " + str(r->if_contains("source")) + "  " +
             str(r->if_contains("rule")) + "\n       " + outcome + ": " +
             str(r->if_contains("reason")) + "\n";
    }
  }
  const json::array* headers = o->at("headers").if_array();
  const json::object* answer = o->at("answer").if_object();
  // Header rules never apply to a proxied answer (Netlify leaves those to the origin).
  const bool proxied = answer != nullptr && str(answer->if_contains("kind")) == "proxy";
  const char* not_applied =
      proxied ? "  not applied: the answer is proxied\n" : "  does not match the path\n";
  out += "\nHeader rules:\n";
  if (headers == nullptr || headers->empty()) out += "  (none)\n";
  if (headers != nullptr) {
    for (const json::value& v : *headers) {
      const json::object* h = v.if_object();
      if (h == nullptr) continue;
      const json::value* applies = h->if_contains("applies");
      const bool yes = applies != nullptr && applies->is_bool() && applies->get_bool();
      out += std::string("  ") + (yes ? "=> " : "-  ") + str(h->if_contains("source")) + "  " +
             str(h->if_contains("for")) + (yes ? "  applies\n" : not_applied);
    }
  }
  out += "\nAnswer: " + str(o->if_contains("summary")) + "\n";
  if (answer != nullptr) {
    for (const char* key : {"location", "rewrite", "proxy", "file"}) {
      const std::string value = str(answer->if_contains(key));
      if (!value.empty()) out += "  " + std::string(key) + ": " + value + "\n";
    }
    if (const json::value* hs = answer->if_contains("headers"); hs != nullptr && hs->is_array()) {
      for (const json::value& v : hs->get_array()) {
        const json::object* h = v.if_object();
        if (h != nullptr) {
          out += "  header: " + str(h->if_contains("name")) + ": " + str(h->if_contains("value")) +
                 "\n";
        }
      }
    }
  }
  return out;
}

}  // namespace replideploy::edge
