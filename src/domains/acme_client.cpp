#include "domains/acme_client.hpp"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <ctime>
#include <random>
#include <thread>

#include "core/crypto.hpp"

namespace replideploy::domains {
namespace json = boost::json;
namespace {

constexpr std::string_view kProblemPrefix = "urn:ietf:params:acme:error:";

std::string Str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return "";
  return std::string(v->as_string());
}

Result<json::object> ParseObject(const std::string& body, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return MakeError(ErrorCode::kUnavailable,
                     "the ACME server sent a malformed " + std::string(what));
  }
  return std::move(v.as_object());
}

std::string ProblemText(const json::value* v) {
  if (v == nullptr || !v->is_object()) return "";
  const auto& o = v->as_object();
  std::string type = Str(o, "type");
  if (type.rfind(kProblemPrefix, 0) == 0) type = type.substr(kProblemPrefix.size());
  std::string text = type + ": " + Str(o, "detail");
  if (const auto* subs = o.if_contains("subproblems"); subs != nullptr && subs->is_array()) {
    for (const auto& s : subs->as_array()) {
      if (s.is_object()) text += "; " + Str(s.as_object(), "detail");
    }
  }
  return text;
}

// An RFC 7807 problem document as an Error.
Error ProblemError(const AcmeClient::Reply& reply) {
  std::string type;
  std::string detail;
  boost::system::error_code ec;
  json::value v = json::parse(reply.body, ec);
  if (!ec && v.is_object()) {
    type = Str(v.as_object(), "type");
    detail = ProblemText(&v);
  }
  std::string short_type =
      type.rfind(kProblemPrefix, 0) == 0 ? type.substr(kProblemPrefix.size()) : "";
  if (short_type.empty()) short_type = reply.status == 429 ? "rateLimited" : "http_error";
  ErrorCode code = ErrorCode::kUnprocessable;
  if (short_type == "rateLimited" || reply.status == 429) {
    code = ErrorCode::kRateLimited;
  } else if (reply.status >= 500 || short_type == "serverInternal") {
    code = ErrorCode::kUnavailable;
  }
  Error e = MakeError(code, "acme_" + short_type,
                      "ACME error (HTTP " + std::to_string(reply.status) +
                          "): " + (detail.empty() ? short_type : detail));
  if (auto it = reply.headers.find("retry-after"); it != reply.headers.end()) {
    e.retry_after_seconds =
        ParseRetryAfterSeconds(it->second, static_cast<std::int64_t>(std::time(nullptr)));
  }
  return e;
}

bool IsBadNonce(const AcmeClient::Reply& reply) {
  return reply.status == 400 &&
         reply.body.find("urn:ietf:params:acme:error:badNonce") != std::string::npos;
}

std::size_t OnHeader(char* data, std::size_t size, std::size_t n, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string_view line(data, size * n);
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    (*headers)[name] = std::string(value);
  }
  return size * n;
}

std::size_t OnBody(char* data, std::size_t size, std::size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  constexpr std::size_t kMaxBody = 4 << 20;  // a certificate chain is a few KiB
  if (body->size() + size * n > kMaxBody) return 0;
  body->append(data, size * n);
  return size * n;
}

std::string JsonString(std::string_view s) { return json::serialize(json::value(s)); }

AcmeChallenge ChallengeFrom(const json::object& o) {
  return {Str(o, "type"), Str(o, "url"), Str(o, "token"), Str(o, "status")};
}

AcmeOrder OrderFrom(const json::object& o, std::string url) {
  AcmeOrder order;
  order.url = std::move(url);
  order.status = Str(o, "status");
  order.finalize = Str(o, "finalize");
  order.certificate = Str(o, "certificate");
  if (const auto* a = o.if_contains("authorizations"); a != nullptr && a->is_array()) {
    for (const auto& v : a->as_array()) {
      if (v.is_string()) order.authorizations.emplace_back(v.as_string());
    }
  }
  order.error = ProblemText(o.if_contains("error"));
  return order;
}

AcmeAuthorization AuthorizationFrom(const json::object& o, std::string url) {
  AcmeAuthorization authz;
  authz.url = std::move(url);
  authz.status = Str(o, "status");
  if (const auto* id = o.if_contains("identifier"); id != nullptr && id->is_object()) {
    authz.identifier = Str(id->as_object(), "value");
  }
  if (const auto* w = o.if_contains("wildcard"); w != nullptr && w->is_bool()) {
    authz.wildcard = w->as_bool();
  }
  if (const auto* cs = o.if_contains("challenges"); cs != nullptr && cs->is_array()) {
    for (const auto& c : cs->as_array()) {
      if (!c.is_object()) continue;
      authz.challenges.push_back(ChallengeFrom(c.as_object()));
      const std::string err = ProblemText(c.as_object().if_contains("error"));
      if (!err.empty()) authz.error = err;
    }
  }
  return authz;
}

}  // namespace

int ParseRetryAfterSeconds(const std::string& value, std::int64_t now_unix_seconds) {
  if (value.empty()) return 0;
  if (std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); })) {
    if (value.size() > 9) return 0;
    return std::stoi(value);
  }
  const time_t when = curl_getdate(value.c_str(), nullptr);
  if (when < 0) return 0;
  const auto delta = static_cast<std::int64_t>(when) - now_unix_seconds;
  return delta > 0 ? static_cast<int>(std::min<std::int64_t>(delta, 86400 * 7)) : 0;
}

AcmeClient::AcmeClient(AcmeClientOptions options, AcmeKey account_key)
    : options_(std::move(options)),
      key_(std::move(account_key)),
      rng_state_(std::random_device{}()) {
  curl_ = curl_easy_init();
}

AcmeClient::~AcmeClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

void AcmeClient::Sleep(std::chrono::milliseconds d) const {
  if (d.count() <= 0) return;
  if (options_.sleep) {
    options_.sleep(d);
  } else {
    std::this_thread::sleep_for(d);
  }
}

std::chrono::milliseconds AcmeClient::Backoff(int attempt) {
  const int shift = std::min(attempt - 2, 20);
  const auto cap = std::min<std::int64_t>(options_.backoff_max.count(),
                                          options_.backoff_base.count() << std::max(shift, 0));
  std::mt19937_64 rng(rng_state_++);
  std::uniform_int_distribution<std::int64_t> dist(0, std::max<std::int64_t>(cap, 0));
  return std::chrono::milliseconds(dist(rng));
}

Result<AcmeClient::Reply> AcmeClient::Transfer(const std::string& method, const std::string& url,
                                               const std::string& body) {
  auto* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return MakeError(ErrorCode::kInternal, "curl_easy_init failed");
  curl_easy_reset(curl);
  Reply reply;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, static_cast<long>(options_.request_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "replideploy-acme/" REPLIDEPLOY_VERSION);
  if (!options_.ca_bundle.empty())
    curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_bundle.c_str());
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply.headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_slist* headers = nullptr;
  if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (method == "POST") {
    headers = curl_slist_append(headers, "Content-Type: application/jose+json");
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  if (headers != nullptr) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  ++requests_sent_;
  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    return MakeError(ErrorCode::kUnavailable, "acme_network",
                     "cannot reach the ACME server (" + url + "): " + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  if (auto it = reply.headers.find("replay-nonce"); it != reply.headers.end()) {
    nonce_ = it->second;
  }
  return reply;
}

Result<AcmeClient::Reply> AcmeClient::TransferWithRetries(const std::string& method,
                                                          const std::string& url,
                                                          const std::string& body) {
  for (int attempt = 1;; ++attempt) {
    if (attempt > 1) Sleep(Backoff(attempt));
    auto reply = Transfer(method, url, body);
    const bool retry = !reply.ok() || reply->status >= 500;
    if (!retry || attempt >= options_.max_attempts) return reply;
    spdlog::warn("ACME {} {}: {}, retrying", method, url,
                 reply.ok() ? "HTTP " + std::to_string(reply->status) : reply.error().message);
  }
}

Status AcmeClient::LoadDirectory() {
  if (!directory_.empty()) return {};
  RD_TRY(Reply reply, TransferWithRetries("GET", options_.directory_url, ""));
  if (reply.status != 200) return ProblemError(reply);
  RD_TRY(json::object dir, ParseObject(reply.body, "directory"));
  for (const auto& [k, v] : dir) {
    if (v.is_string()) directory_[std::string(k)] = std::string(v.as_string());
  }
  for (const char* needed : {"newNonce", "newAccount", "newOrder"}) {
    if (directory_.count(needed) == 0) {
      directory_.clear();
      return MakeError(ErrorCode::kUnavailable, std::string("the ACME directory has no ") + needed);
    }
  }
  return {};
}

Result<std::string> AcmeClient::TakeNonce() {
  if (nonce_.empty()) {
    RD_TRY_STATUS(LoadDirectory());
    RD_TRY(Reply reply, TransferWithRetries("HEAD", directory_["newNonce"], ""));
    if (nonce_.empty()) {
      return MakeError(ErrorCode::kUnavailable, "the ACME server sent no Replay-Nonce");
    }
  }
  return std::exchange(nonce_, "");
}

Result<AcmeClient::Reply> AcmeClient::Post(const std::string& url, const std::string& payload,
                                           bool with_jwk) {
  RD_TRY_STATUS(LoadDirectory());
  if (!with_jwk && account_url_.empty()) {
    return MakeError(ErrorCode::kInternal, "ACME: no account (Register first)");
  }
  int bad_nonces = 0;
  for (int attempt = 1;;) {
    RD_TRY(std::string nonce, TakeNonce());
    std::string header = R"({"alg":"ES256",)";
    header += with_jwk ? R"("jwk":)" + key_.JwkJson() : R"("kid":)" + JsonString(account_url_);
    header += R"(,"nonce":)" + JsonString(nonce) + R"(,"url":)" + JsonString(url) + "}";
    RD_TRY(std::string jws, SignJws(key_, header, payload));
    auto reply = Transfer("POST", url, jws);
    if (reply.ok() && IsBadNonce(*reply)) {
      ++bad_nonces_;
      // The rejection carries a fresh nonce (kept by Transfer): retry at once.
      if (++bad_nonces <= options_.max_bad_nonce_retries) continue;
      return ProblemError(*reply);
    }
    const bool retry = !reply.ok() || reply->status >= 500;
    if (retry && attempt < options_.max_attempts) {
      spdlog::warn("ACME POST {}: {}, retrying", url,
                   reply.ok() ? "HTTP " + std::to_string(reply->status) : reply.error().message);
      ++attempt;
      Sleep(Backoff(attempt));
      continue;
    }
    if (!reply.ok()) return std::move(reply).error();
    if (reply->status >= 400) return ProblemError(*reply);
    return reply;
  }
}

Result<std::string> AcmeClient::Register(const std::vector<std::string>& contact_emails) {
  RD_TRY_STATUS(LoadDirectory());
  json::object payload;
  payload["termsOfServiceAgreed"] = true;
  json::array contact;
  for (const auto& email : contact_emails) contact.emplace_back("mailto:" + email);
  if (!contact.empty()) payload["contact"] = std::move(contact);
  RD_TRY(Reply reply, Post(directory_["newAccount"], json::serialize(payload), true));
  auto it = reply.headers.find("location");
  if (it == reply.headers.end() || it->second.empty()) {
    return MakeError(ErrorCode::kUnavailable, "the ACME server sent no account URL");
  }
  account_url_ = it->second;
  return account_url_;
}

Result<AcmeOrder> AcmeClient::NewOrder(const std::vector<std::string>& names) {
  RD_TRY_STATUS(LoadDirectory());
  json::array identifiers;
  for (const auto& name : names)
    identifiers.push_back(json::object{{"type", "dns"}, {"value", name}});
  json::object payload{{"identifiers", std::move(identifiers)}};
  RD_TRY(Reply reply, Post(directory_["newOrder"], json::serialize(payload), false));
  RD_TRY(json::object o, ParseObject(reply.body, "order"));
  auto it = reply.headers.find("location");
  return OrderFrom(o, it == reply.headers.end() ? "" : it->second);
}

Result<AcmeOrder> AcmeClient::GetOrder(const std::string& url) {
  RD_TRY(Reply reply, PostAsGet(url));
  RD_TRY(json::object o, ParseObject(reply.body, "order"));
  return OrderFrom(o, url);
}

Result<AcmeAuthorization> AcmeClient::GetAuthorization(const std::string& url) {
  RD_TRY(Reply reply, PostAsGet(url));
  RD_TRY(json::object o, ParseObject(reply.body, "authorization"));
  return AuthorizationFrom(o, url);
}

Status AcmeClient::RespondToChallenge(const std::string& url) {
  RD_TRY(Reply reply, Post(url, "{}", false));
  (void)reply;
  return {};
}

std::chrono::milliseconds AcmeClient::PollDelay(const Reply& reply, int polls) const {
  std::optional<int> retry_after;
  if (auto it = reply.headers.find("retry-after"); it != reply.headers.end()) {
    retry_after = ParseRetryAfterSeconds(it->second, static_cast<std::int64_t>(std::time(nullptr)));
  }
  return AcmePollDelay(options_, retry_after, polls);
}

std::chrono::milliseconds AcmePollDelay(const AcmeClientOptions& options,
                                        std::optional<int> retry_after_seconds, int polls) {
  if (retry_after_seconds && *retry_after_seconds > 0) {
    return std::min<std::chrono::milliseconds>(std::chrono::seconds(*retry_after_seconds),
                                               options.poll_timeout);
  }
  std::chrono::milliseconds delay = std::max(options.poll_first, std::chrono::milliseconds(1));
  for (int i = 0; i < polls && delay < options.poll_interval; ++i) delay *= 2;
  return std::min(delay, std::max(options.poll_interval, options.poll_first));
}

Result<AcmeAuthorization> AcmeClient::WaitForAuthorization(const std::string& url) {
  const auto deadline = std::chrono::steady_clock::now() + options_.poll_timeout;
  for (int polls = 0;; ++polls) {
    RD_TRY(Reply reply, PostAsGet(url));
    RD_TRY(json::object o, ParseObject(reply.body, "authorization"));
    AcmeAuthorization authz = AuthorizationFrom(o, url);
    if (authz.status == "valid") return authz;
    if (authz.status != "pending" && authz.status != "processing") {
      return MakeError(ErrorCode::kUnprocessable, "acme_challenge_failed",
                       "the ACME authorization of " + authz.identifier + " is " + authz.status +
                           (authz.error.empty() ? "" : " (" + authz.error + ")"));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return MakeError(ErrorCode::kUnavailable, "acme_timeout",
                       "the ACME authorization of " + authz.identifier + " stayed pending");
    }
    Sleep(PollDelay(reply, polls));
  }
}

Result<AcmeOrder> AcmeClient::Finalize(const AcmeOrder& order, const std::string& csr_der) {
  json::object payload{{"csr", core::Base64UrlEncode(csr_der)}};
  RD_TRY(Reply reply, Post(order.finalize, json::serialize(payload), false));
  const auto deadline = std::chrono::steady_clock::now() + options_.poll_timeout;
  for (int polls = 0;; ++polls) {
    RD_TRY(json::object o, ParseObject(reply.body, "order"));
    AcmeOrder current = OrderFrom(o, order.url);
    if (current.status == "valid") return current;
    if (current.status == "invalid") {
      return MakeError(
          ErrorCode::kUnprocessable, "acme_order_invalid",
          "the ACME order failed" + (current.error.empty() ? "" : " (" + current.error + ")"));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return MakeError(ErrorCode::kUnavailable, "acme_timeout",
                       "the ACME order stayed " + current.status);
    }
    Sleep(PollDelay(reply, polls));
    RD_TRY(reply, PostAsGet(order.url));
  }
}

Result<std::string> AcmeClient::DownloadCertificate(const std::string& url) {
  RD_TRY(Reply reply, PostAsGet(url));
  if (reply.body.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return MakeError(ErrorCode::kUnavailable, "the ACME server sent no PEM certificate chain");
  }
  return reply.body;
}

Status AcmeClient::RolloverKey(AcmeKey new_key) {
  RD_TRY_STATUS(LoadDirectory());
  auto it = directory_.find("keyChange");
  if (it == directory_.end()) {
    return MakeError(ErrorCode::kUnavailable, "the ACME server does not support key change");
  }
  if (account_url_.empty()) return MakeError(ErrorCode::kInternal, "ACME: no account");
  // The inner JWS: signed by the new key, with its JWK, no nonce (7.3.5).
  const std::string inner_header =
      R"({"alg":"ES256","jwk":)" + new_key.JwkJson() + R"(,"url":)" + JsonString(it->second) + "}";
  const std::string inner_payload =
      R"({"account":)" + JsonString(account_url_) + R"(,"oldKey":)" + key_.JwkJson() + "}";
  RD_TRY(std::string inner, SignJws(new_key, inner_header, inner_payload));
  RD_TRY(Reply reply, Post(it->second, inner, false));
  (void)reply;
  key_ = std::move(new_key);
  return {};
}

}  // namespace replideploy::domains
