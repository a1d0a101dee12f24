#include "git/github_client.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <ctime>
#include <initializer_list>
#include <limits>
#include <utility>

#include "core/crypto.hpp"
#include "core/text.hpp"
#include "http/client.hpp"

namespace replideploy::git {
namespace {

namespace json = boost::json;

constexpr std::string_view kApiVersion = "2022-11-28";
constexpr std::string_view kUserAgent = "replideploy";
// Already encoded: "repo admin:repo_hook".
constexpr std::string_view kOAuthScope = "repo%20admin:repo_hook";
constexpr std::string_view kRepoListQuery =
    "/user/repos?per_page=100&sort=pushed&affiliation=owner,collaborator,organization_member";
constexpr std::size_t kMaxStatusDescriptionChars = 140;
constexpr std::size_t kMaxRepoPartLength = 100;
constexpr std::size_t kMaxPathLength = 4096;
constexpr std::size_t kMaxJsonDepth = 64;
constexpr std::size_t kMaxGithubMessageLength = 300;

// What a request is about, so an error can name it.
enum class Subject { kAccount, kRepo, kHook };

Error Coded(ErrorCode code, std::string detail_code, std::string message) {
  Error e = MakeError(code, std::move(message));
  e.detail_code = std::move(detail_code);
  return e;
}

Error BadRequest(std::string message) {
  return MakeError(ErrorCode::kBadRequest, std::move(message));
}

Error Reconnect() {
  return Coded(ErrorCode::kForbidden, "github_reconnect",
               "GitHub no longer accepts RepliDeploy's access to your account (the authorization "
               "was revoked or has expired); reconnect GitHub and try again");
}

// `what` goes to the log only; it never holds a token.
Error Unexpected(std::string_view what) {
  spdlog::warn("unexpected answer from GitHub: {}", what);
  return MakeError(ErrorCode::kUnavailable, "unexpected answer from GitHub");
}

std::string TrimTrailingSlashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

using core::IsHex;
using core::UrlEncode;

bool IsRepoNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

bool IsValidRepoPart(std::string_view part) {
  if (part.empty() || part.size() > kMaxRepoPartLength || part == ".") return false;
  for (char c : part) {
    if (!IsRepoNameChar(c)) return false;
  }
  return true;
}

Status CheckFullName(std::string_view full_name) {
  if (!IsValidRepoFullName(full_name)) {
    return BadRequest("not a GitHub repository name (expected owner/name)");
  }
  return {};
}

// A path inside a repository: relative, '/'-separated, no empty, "." or ".." segments, no
// control characters. Returns it with each segment percent-encoded.
Result<std::string> EncodeRepoPath(std::string_view path) {
  if (path.empty() || path.size() > kMaxPathLength) return BadRequest("not a repository path");
  std::string out;
  for (;;) {
    const std::size_t slash = path.find('/');
    const std::string_view segment = path.substr(0, slash);
    if (segment.empty() || segment == "." || segment == "..") {
      return BadRequest("not a repository path");
    }
    for (char c : segment) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) return BadRequest("not a repository path");
    }
    if (!out.empty()) out.push_back('/');
    out += UrlEncode(segment);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// At most `max_chars` UTF-8 characters of `s`, never splitting a multi-byte sequence.
std::string TruncateUtf8(std::string_view s, std::size_t max_chars) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool continuation = (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80;
    if (!continuation && ++chars > max_chars) return std::string(s.substr(0, i));
  }
  return std::string(s);
}

Result<json::value> ParseJson(std::string_view body, std::string_view what) {
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  json::value value;
  try {
    value =
        json::parse(json::string_view(body.data(), body.size()), ec, json::storage_ptr(), options);
  } catch (const std::exception&) {
    return Unexpected(fmt::format("{}: body too large to parse", what));
  }
  if (ec) return Unexpected(fmt::format("{}: not JSON ({})", what, ec.message()));
  return value;
}

// Fields of a JSON object GitHub sent; any surprise is kUnavailable (and a log line).
class Fields {
 public:
  Fields(const json::object& object, std::string_view what) : object_(object), what_(what) {}

  Result<std::int64_t> Id(std::string_view key) const {
    const json::value* v = object_.if_contains(key);
    std::int64_t n = 0;
    if (v != nullptr && v->is_int64()) {
      n = v->get_int64();
    } else if (v != nullptr && v->is_uint64() &&
               v->get_uint64() <=
                   static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      n = static_cast<std::int64_t>(v->get_uint64());
    }
    if (n <= 0) return Unexpected(fmt::format("{}: '{}' is not a positive integer", what_, key));
    return n;
  }

  Result<std::string> String(std::string_view key) const {
    const json::value* v = object_.if_contains(key);
    if (v == nullptr || !v->is_string()) {
      return Unexpected(fmt::format("{}: '{}' is not a string", what_, key));
    }
    return std::string(v->get_string());
  }

  // Empty when missing or null.
  Result<std::string> OptionalString(std::string_view key) const {
    const json::value* v = object_.if_contains(key);
    if (v == nullptr || v->is_null()) return std::string();
    return String(key);
  }

  // False when missing or null.
  Result<bool> OptionalBool(std::string_view key) const {
    const json::value* v = object_.if_contains(key);
    if (v == nullptr || v->is_null()) return false;
    if (!v->is_bool()) return Unexpected(fmt::format("{}: '{}' is not a boolean", what_, key));
    return v->get_bool();
  }

  // Null when missing, null, or not an object.
  const json::object* OptionalObject(std::string_view key) const {
    const json::value* v = object_.if_contains(key);
    return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
  }

 private:
  const json::object& object_;
  std::string_view what_;
};

Result<const json::object*> AsObject(const json::value& value, std::string_view what) {
  if (!value.is_object()) return Unexpected(fmt::format("{}: not a JSON object", what));
  return &value.get_object();
}

// GitHub's error text ("message", and the reasons in "errors" for a 422), made safe to show.
std::string GithubMessage(const http::ClientResponse& response) {
  std::string message;
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  json::value value;
  try {
    value = json::parse(response.body, ec, json::storage_ptr(), options);
  } catch (const std::exception&) {
    ec = json::make_error_code(json::error::exception);
  }
  if (!ec && value.is_object()) {
    const json::object& object = value.get_object();
    if (const json::value* m = object.if_contains("message"); m != nullptr && m->is_string()) {
      message = std::string(m->get_string());
    }
    if (const json::value* errors = object.if_contains("errors");
        errors != nullptr && errors->is_array()) {
      std::string reasons;
      for (const json::value& item : errors->get_array()) {
        std::string reason;
        if (item.is_string()) {
          reason = std::string(item.get_string());
        } else if (item.is_object()) {
          const json::object& e = item.get_object();
          if (const json::value* m = e.if_contains("message"); m != nullptr && m->is_string()) {
            reason = std::string(m->get_string());
          } else {
            const json::value* field = e.if_contains("field");
            const json::value* code = e.if_contains("code");
            if (field != nullptr && field->is_string() && code != nullptr && code->is_string()) {
              reason = fmt::format("{} {}", std::string_view(field->get_string()),
                                   std::string_view(code->get_string()));
            }
          }
        }
        if (reason.empty()) continue;
        reasons += reasons.empty() ? reason : "; " + reason;
      }
      if (!reasons.empty()) message = message.empty() ? reasons : message + ": " + reasons;
    }
  }
  if (message.empty()) message = fmt::format("HTTP {}", response.status);
  if (message.size() > kMaxGithubMessageLength) {
    // Cut at a character boundary: back up over UTF-8 continuation bytes.
    std::size_t cut = kMaxGithubMessageLength;
    while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
    message.resize(cut);
  }
  for (char& c : message) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return message;
}

// Primary limit: 403 or 429 with x-ratelimit-remaining: 0; secondary: 403 or 429 with
// retry-after.
std::optional<Error> RateLimitError(const http::ClientResponse& response) {
  if (response.status != 403 && response.status != 429) return std::nullopt;
  const std::string_view remaining = response.headers.Get("x-ratelimit-remaining");
  const std::string_view retry_after = response.headers.Get("retry-after");
  if (response.status == 403 && remaining != "0" && retry_after.empty()) return std::nullopt;
  Error e = Coded(ErrorCode::kRateLimited, "github_rate_limited",
                  "GitHub's rate limit was reached; try again later");
  long long seconds = 0;
  if (!retry_after.empty()) {
    std::from_chars(retry_after.data(), retry_after.data() + retry_after.size(), seconds);
  } else {
    const std::string_view reset = response.headers.Get("x-ratelimit-reset");
    long long reset_at = 0;
    if (std::from_chars(reset.data(), reset.data() + reset.size(), reset_at).ec == std::errc()) {
      seconds = reset_at - static_cast<long long>(std::time(nullptr));
    }
  }
  e.retry_after_seconds = static_cast<int>(std::clamp<long long>(seconds, 1, 3600));
  return e;
}

// A non-success answer from the REST API, as an Error.
Error StatusError(const http::ClientResponse& response, Subject subject,
                  std::string_view full_name) {
  if (response.status == 401) return Reconnect();
  if (std::optional<Error> limited = RateLimitError(response)) return *std::move(limited);
  const std::string message = GithubMessage(response);
  if (subject != Subject::kAccount && (response.status == 403 || response.status == 404)) {
    return Coded(ErrorCode::kUnprocessable, "github_repo_access",
                 fmt::format("cannot access {} on GitHub: {}", full_name, message));
  }
  if (response.status == 422) {
    if (subject == Subject::kHook) {
      return Coded(ErrorCode::kUnprocessable, "github_hook_failed",
                   fmt::format("GitHub refused the webhook for {}: {}", full_name, message));
    }
    return Coded(ErrorCode::kUnprocessable, "github_request_failed",
                 fmt::format("GitHub refused the request: {}", message));
  }
  if (response.status >= 500) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("GitHub is unavailable (HTTP {})", response.status));
  }
  return Unexpected(fmt::format("HTTP {}: {}", response.status, message));
}

Result<http::ClientResponse> Send(http::ClientRequest request) {
  request.max_response_bytes = kMaxGithubResponseBytes;
  request.headers.Set("User-Agent", std::string(kUserAgent));
  Result<http::ClientResponse> response = http::Fetch(request);
  if (!response.ok() && response.error().code == ErrorCode::kUnavailable) {
    // Fetch's message names the method and URL (never a token) and curl's reason.
    return MakeError(ErrorCode::kUnavailable, "cannot reach GitHub: " + response.error().message);
  }
  return response;
}

http::ClientRequest ApiRequest(const GithubOptions& options, std::string method, std::string url,
                               std::string_view token) {
  http::ClientRequest request;
  request.method = std::move(method);
  request.url = std::move(url);
  request.timeout = options.timeout;
  request.headers.Set("Authorization", "Bearer " + std::string(token));
  request.headers.Set("Accept", "application/vnd.github+json");
  request.headers.Set("X-GitHub-Api-Version", std::string(kApiVersion));
  return request;
}

Result<http::ClientResponse> SendJson(const GithubOptions& options, std::string method,
                                      std::string url, std::string_view token,
                                      const json::object& body) {
  http::ClientRequest request = ApiRequest(options, std::move(method), std::move(url), token);
  request.headers.Set("Content-Type", "application/json");
  request.body = json::serialize(body);
  return Send(std::move(request));
}

Result<GithubUser> ParseUser(const json::value& value) {
  RD_TRY(const json::object* object, AsObject(value, "GET /user"));
  const Fields fields(*object, "GET /user");
  GithubUser user;
  RD_TRY(user.id, fields.Id("id"));
  RD_TRY(user.login, fields.String("login"));
  RD_TRY(user.name, fields.OptionalString("name"));
  RD_TRY(user.avatar_url, fields.OptionalString("avatar_url"));
  RD_TRY(user.html_url, fields.OptionalString("html_url"));
  return user;
}

Result<GithubRepo> ParseRepo(const json::value& value) {
  RD_TRY(const json::object* object, AsObject(value, "GET /user/repos item"));
  const Fields fields(*object, "GET /user/repos item");
  GithubRepo repo;
  RD_TRY(repo.id, fields.Id("id"));
  RD_TRY(repo.full_name, fields.String("full_name"));
  RD_TRY(repo.name, fields.OptionalString("name"));
  RD_TRY(repo.description, fields.OptionalString("description"));
  RD_TRY(repo.default_branch, fields.OptionalString("default_branch"));
  RD_TRY(repo.html_url, fields.OptionalString("html_url"));
  RD_TRY(repo.clone_url, fields.OptionalString("clone_url"));
  RD_TRY(repo.pushed_at, fields.OptionalString("pushed_at"));
  RD_TRY(repo.is_private, fields.OptionalBool("private"));
  if (const json::object* owner = fields.OptionalObject("owner")) {
    RD_TRY(repo.owner, Fields(*owner, "GET /user/repos item owner").OptionalString("login"));
  }
  const std::size_t slash = repo.full_name.find('/');
  if (repo.owner.empty() && slash != std::string::npos)
    repo.owner = repo.full_name.substr(0, slash);
  if (repo.name.empty() && slash != std::string::npos) repo.name = repo.full_name.substr(slash + 1);
  return repo;
}

// The rel="next" target of a Link header (RFC 8288), e.g.
//   <https://api.github.com/user/repos?page=2>; rel="next", <...?page=5>; rel="last"
// URLs may hold commas, so entries are split at '<', not at ','.
std::optional<std::string> NextLink(std::string_view header) {
  std::size_t pos = 0;
  while ((pos = header.find('<', pos)) != std::string_view::npos) {
    const std::size_t close = header.find('>', pos);
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view url = header.substr(pos + 1, close - pos - 1);
    const std::size_t next_entry = header.find('<', close);
    std::string_view params = header.substr(close + 1, next_entry - close - 1);
    pos = close;
    while (!params.empty()) {
      const std::size_t semicolon = params.find(';');
      std::string_view param = params.substr(0, semicolon);
      params =
          semicolon == std::string_view::npos ? std::string_view() : params.substr(semicolon + 1);
      while (!param.empty() && (param.front() == ' ' || param.front() == ','))
        param.remove_prefix(1);
      while (!param.empty() && (param.back() == ' ' || param.back() == ',')) param.remove_suffix(1);
      if (!param.starts_with("rel=")) continue;
      std::string_view rels = param.substr(4);
      if (rels.size() >= 2 && rels.front() == '"' && rels.back() == '"') {
        rels = rels.substr(1, rels.size() - 2);
      }
      // rel may list several relation types separated by spaces.
      while (!rels.empty()) {
        const std::size_t space = rels.find(' ');
        if (rels.substr(0, space) == "next") return std::string(url);
        if (space == std::string_view::npos) break;
        rels.remove_prefix(space + 1);
      }
    }
  }
  return std::nullopt;
}

std::string FormEncode(
    std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out.push_back('&');
    out += UrlEncode(name);
    out.push_back('=');
    out += UrlEncode(value);
  }
  return out;
}

}  // namespace

bool IsValidRepoFullName(std::string_view full_name) {
  const std::size_t slash = full_name.find('/');
  if (slash == std::string_view::npos) return false;
  if (full_name.find("..") != std::string_view::npos) return false;
  return IsValidRepoPart(full_name.substr(0, slash)) &&
         IsValidRepoPart(full_name.substr(slash + 1));
}

GithubClient::GithubClient(GithubOptions options) : options_(std::move(options)) {
  options_.web_url = TrimTrailingSlashes(std::move(options_.web_url));
  options_.api_url = TrimTrailingSlashes(std::move(options_.api_url));
}

bool GithubClient::configured() const {
  return !options_.client_id.empty() && !options_.client_secret.empty();
}

std::string GithubClient::AuthorizeUrl(std::string_view state,
                                       std::string_view redirect_uri) const {
  return fmt::format("{}/login/oauth/authorize?client_id={}&redirect_uri={}&scope={}&state={}",
                     options_.web_url, UrlEncode(options_.client_id), UrlEncode(redirect_uri),
                     kOAuthScope, UrlEncode(state));
}

Result<std::string> GithubClient::ExchangeCode(std::string_view code,
                                               std::string_view redirect_uri) const {
  if (!configured()) {
    return Coded(ErrorCode::kUnavailable, "github_not_configured",
                 "GitHub sign-in is not configured on this server");
  }
  if (code.empty()) return BadRequest("missing the code from GitHub");
  http::ClientRequest request;
  request.method = "POST";
  request.url = options_.web_url + "/login/oauth/access_token";
  request.timeout = options_.timeout;
  request.headers.Set("Accept", "application/json");
  request.headers.Set("Content-Type", "application/x-www-form-urlencoded");
  request.body = FormEncode({{"client_id", options_.client_id},
                             {"client_secret", options_.client_secret},
                             {"code", code},
                             {"redirect_uri", redirect_uri}});
  RD_TRY(http::ClientResponse response, Send(std::move(request)));
  if (response.status >= 500) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("GitHub is unavailable (HTTP {})", response.status));
  }
  if (response.status != 200) {
    return Unexpected(fmt::format("POST /login/oauth/access_token: HTTP {}", response.status));
  }
  RD_TRY(json::value value, ParseJson(response.body, "POST /login/oauth/access_token"));
  RD_TRY(const json::object* object, AsObject(value, "POST /login/oauth/access_token"));
  const Fields fields(*object, "POST /login/oauth/access_token");
  // GitHub reports a bad code, bad client credentials or a redirect mismatch as 200 + "error".
  if (object->contains("error")) {
    RD_TRY(std::string error, fields.OptionalString("error"));
    RD_TRY(std::string description, fields.OptionalString("error_description"));
    spdlog::info("GitHub refused an OAuth code exchange: {}", error);
    return Coded(ErrorCode::kUnprocessable, "github_oauth_failed",
                 "GitHub sign-in failed: " + (description.empty() ? error : description));
  }
  RD_TRY(std::string token, fields.String("access_token"));
  if (token.empty()) return Unexpected("POST /login/oauth/access_token: empty access_token");
  return token;
}

Result<GithubUser> GithubClient::CurrentUser(std::string_view token) const {
  if (token.empty()) return Reconnect();
  RD_TRY(http::ClientResponse response,
         Send(ApiRequest(options_, "GET", options_.api_url + "/user", token)));
  if (response.status != 200) return StatusError(response, Subject::kAccount, "");
  RD_TRY(json::value value, ParseJson(response.body, "GET /user"));
  return ParseUser(value);
}

Result<std::vector<GithubRepo>> GithubClient::ListRepos(std::string_view token) const {
  if (token.empty()) return Reconnect();
  std::vector<GithubRepo> repos;
  std::string url = options_.api_url + std::string(kRepoListQuery);
  for (int page = 0; page < kMaxGithubRepoPages; ++page) {
    RD_TRY(http::ClientResponse response, Send(ApiRequest(options_, "GET", url, token)));
    if (response.status != 200) return StatusError(response, Subject::kAccount, "");
    RD_TRY(json::value value, ParseJson(response.body, "GET /user/repos"));
    if (!value.is_array()) return Unexpected("GET /user/repos: not a JSON array");
    for (const json::value& item : value.get_array()) {
      RD_TRY(GithubRepo repo, ParseRepo(item));
      repos.push_back(std::move(repo));
    }
    std::optional<std::string> next = NextLink(response.headers.Get("Link"));
    if (!next) break;
    // The token goes only to our configured API host.
    if (!next->starts_with(options_.api_url + "/")) {
      spdlog::warn("GitHub's next page link leaves {}; stopping the repository list",
                   options_.api_url);
      break;
    }
    url = *std::move(next);
  }
  return repos;
}

Result<std::int64_t> GithubClient::CreateHook(std::string_view token, std::string_view full_name,
                                              std::string_view url, std::string_view secret) const {
  RD_TRY_STATUS(CheckFullName(full_name));
  if (url.empty()) return BadRequest("a webhook needs a URL");
  if (secret.empty()) return BadRequest("a webhook needs a secret");
  if (token.empty()) return Reconnect();
  json::object config;
  config["url"] = url;
  config["content_type"] = "json";
  config["secret"] = secret;
  config["insecure_ssl"] = "0";
  json::object body;
  body["name"] = "web";
  body["active"] = true;
  body["events"] = json::array{"push", "pull_request"};
  body["config"] = std::move(config);
  RD_TRY(http::ClientResponse response,
         SendJson(options_, "POST", fmt::format("{}/repos/{}/hooks", options_.api_url, full_name),
                  token, body));
  if (response.status != 201 && response.status != 200) {
    return StatusError(response, Subject::kHook, full_name);
  }
  const std::string what = fmt::format("POST /repos/{}/hooks", full_name);
  RD_TRY(json::value value, ParseJson(response.body, what));
  RD_TRY(const json::object* object, AsObject(value, what));
  return Fields(*object, what).Id("id");
}

Status GithubClient::DeleteHook(std::string_view token, std::string_view full_name,
                                std::int64_t hook_id) const {
  RD_TRY_STATUS(CheckFullName(full_name));
  if (hook_id <= 0) return BadRequest("not a GitHub webhook id");
  if (token.empty()) return Reconnect();
  RD_TRY(http::ClientResponse response,
         Send(ApiRequest(options_, "DELETE",
                         fmt::format("{}/repos/{}/hooks/{}", options_.api_url, full_name, hook_id),
                         token)));
  // 404: deleted already (by hand on GitHub, or by an earlier attempt whose answer was lost).
  if (response.status == 204 || response.status == 200 || response.status == 404) return {};
  return StatusError(response, Subject::kRepo, full_name);
}

Status GithubClient::CreateStatus(std::string_view token, std::string_view full_name,
                                  std::string_view sha, std::string_view state,
                                  std::string_view target_url, std::string_view description,
                                  std::string_view context) const {
  RD_TRY_STATUS(CheckFullName(full_name));
  if ((sha.size() != 40 && sha.size() != 64) || !IsHex(sha)) return BadRequest("not a commit sha");
  if (state != "pending" && state != "success" && state != "failure" && state != "error") {
    return BadRequest("commit status state must be pending, success, failure or error");
  }
  if (context.empty()) return BadRequest("a commit status needs a context");
  if (token.empty()) return Reconnect();
  json::object body;
  body["state"] = state;
  if (!target_url.empty()) body["target_url"] = target_url;
  body["description"] = TruncateUtf8(description, kMaxStatusDescriptionChars);
  body["context"] = context;
  RD_TRY(http::ClientResponse response,
         SendJson(options_, "POST",
                  fmt::format("{}/repos/{}/statuses/{}", options_.api_url, full_name, sha), token,
                  body));
  if (response.status == 201 || response.status == 200) return {};
  return StatusError(response, Subject::kRepo, full_name);
}

Result<std::optional<std::string>> GithubClient::GetFile(std::string_view token,
                                                         std::string_view full_name,
                                                         std::string_view path,
                                                         std::string_view ref) const {
  RD_TRY_STATUS(CheckFullName(full_name));
  RD_TRY(std::string encoded_path, EncodeRepoPath(path));
  if (token.empty()) return Reconnect();
  std::string url =
      fmt::format("{}/repos/{}/contents/{}", options_.api_url, full_name, encoded_path);
  if (!ref.empty()) url += "?ref=" + UrlEncode(ref);
  RD_TRY(http::ClientResponse response, Send(ApiRequest(options_, "GET", std::move(url), token)));
  // GitHub answers 404 alike for a missing file, ref or repository (it hides private ones).
  if (response.status == 404) return std::optional<std::string>();
  if (response.status != 200) return StatusError(response, Subject::kRepo, full_name);
  const std::string what = fmt::format("GET /repos/{}/contents", full_name);
  RD_TRY(json::value value, ParseJson(response.body, what));
  const std::string shown_path(path.substr(0, 200));
  if (value.is_array()) {
    return Coded(ErrorCode::kUnprocessable, "github_not_a_file",
                 fmt::format("{} in {} is a directory, not a file", shown_path, full_name));
  }
  RD_TRY(const json::object* object, AsObject(value, what));
  const Fields fields(*object, what);
  RD_TRY(std::string type, fields.String("type"));
  if (type != "file") {
    return Coded(ErrorCode::kUnprocessable, "github_not_a_file",
                 fmt::format("{} in {} is a {}, not a file", shown_path, full_name,
                             type == "dir" || type == "symlink" || type == "submodule"
                                 ? type
                                 : std::string("special entry")));
  }
  const json::value* size_value = object->if_contains("size");
  if (size_value == nullptr || !size_value->is_number()) return Unexpected("contents: no size");
  boost::system::error_code size_ec;
  const auto size = size_value->to_number<std::uint64_t>(size_ec);
  if (size_ec) return Unexpected("contents: size is not a byte count");
  if (size > kMaxGithubFileBytes) {
    return Coded(ErrorCode::kUnprocessable, "github_file_too_large",
                 fmt::format("{} in {} is larger than 1 MB", shown_path, full_name));
  }
  RD_TRY(std::string encoding, fields.OptionalString("encoding"));
  RD_TRY(std::string content, fields.OptionalString("content"));
  if (encoding != "base64") return Unexpected("contents: encoding is not base64");
  // Standard base64, wrapped with '\n' every 60 characters.
  auto decoded = core::Base64Decode(content);
  if (!decoded.ok()) return Unexpected("contents: content is not base64");
  if (decoded->size() != size) return Unexpected("contents: size does not match the content");
  return std::optional<std::string>(*std::move(decoded));
}

}  // namespace replideploy::git
