#include "domains/dns_providers.hpp"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "core/text.hpp"
#include "domains/acme_crypto.hpp"

namespace replideploy::domains {

namespace json = boost::json;

namespace {

constexpr int kAttempts = 3;

Error ProviderError(const std::string& message) {
  return MakeError(ErrorCode::kUnavailable, "dns_provider_error", message);
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string WithoutDot(std::string s) {
  if (!s.empty() && s.back() == '.') s.pop_back();
  return Lower(std::move(s));
}

// `name`, then each parent with at least two labels: www.a.example.com, a.example.com,
// example.com.
std::vector<std::string> ZoneCandidates(const std::string& name) {
  std::vector<std::string> out;
  std::string rest = WithoutDot(name);
  while (rest.find('.') != std::string::npos) {
    out.push_back(rest);
    rest = rest.substr(rest.find('.') + 1);
  }
  return out;
}

// The text of the first <tag>...</tag> at or after `from` (no nesting inside; enough for the
// few leaf elements read here). nullopt when absent.
std::optional<std::string> XmlText(std::string_view xml, std::string_view tag,
                                   std::size_t from = 0) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  const std::size_t a = xml.find(open, from);
  if (a == std::string_view::npos) return std::nullopt;
  const std::size_t b = xml.find(close, a + open.size());
  if (b == std::string_view::npos) return std::nullopt;
  return std::string(xml.substr(a + open.size(), b - a - open.size()));
}

std::size_t OnBody(char* data, std::size_t size, std::size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * n > (std::size_t{4} << 20)) return 0;  // a runaway answer
  body->append(data, size * n);
  return size * n;
}

struct Reply {
  long status = 0;
  std::string body;
};

class Http {
 public:
  explicit Http(const DnsProviderOptions& o) : o_(o) {}

  // One request; 5xx, 429 and transport errors are tried again (kAttempts in all, backing off).
  Result<Reply> Send(const std::string& method, const std::string& url,
                     const std::vector<std::string>& headers, const std::string& body) const {
    Result<Reply> last = ProviderError("no attempt");
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(250 << attempt));
      last = Once(method, url, headers, body);
      if (last.ok() && last->status < 500 && last->status != 429) return last;
    }
    return last;
  }

 private:
  Result<Reply> Once(const std::string& method, const std::string& url,
                     const std::vector<std::string>& headers, const std::string& body) const {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) return MakeError(ErrorCode::kInternal, "curl_easy_init failed");
    Reply reply;
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(o_.request_timeout.count()));
    curl_easy_setopt(c, CURLOPT_USERAGENT, "replideploy-dns01/" REPLIDEPLOY_VERSION);
    if (!o_.ca_bundle.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, o_.ca_bundle.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method != "GET" && method != "DELETE") {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    curl_slist* list = nullptr;
    for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    const CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(list);
    if (rc != CURLE_OK) {
      return ProviderError("cannot reach the DNS provider (" + method + " " + url +
                           "): " + curl_easy_strerror(rc));
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
    return reply;
  }

  const DnsProviderOptions& o_;
};

// The common part: the value is answered by the resolver at `fqdn`.
class ProviderSolver : public ChallengeSolver {
 public:
  ProviderSolver(DnsProviderOptions options, std::shared_ptr<DnsResolver> resolver)
      : o_(std::move(options)), resolver_(std::move(resolver)), http_(o_) {}
  std::string_view type() const override { return kDns01; }

 protected:
  Status WaitVisible(const std::string& fqdn, const std::string& value) const {
    const auto deadline = std::chrono::steady_clock::now() + o_.propagation_timeout;
    std::string last;
    for (;;) {
      auto answer = resolver_->Query(fqdn, DnsType::kTxt);
      if (answer.ok()) {
        for (const DnsRecord& r : answer->records) {
          if (r.type == DnsType::kTxt && r.data == value) return {};
        }
        last = answer->nxdomain ? "no such name" : "other TXT values";
      } else {
        last = answer.error().message;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return MakeError(
            ErrorCode::kUnavailable, "dns_not_propagated",
            "the resolver does not answer the TXT record at " + fqdn + " (" + last + ")");
      }
      std::this_thread::sleep_for(o_.poll_interval);
    }
  }

  DnsProviderOptions o_;
  std::shared_ptr<DnsResolver> resolver_;
  Http http_;
};

// --- acme-dns --------------------------------------------------------------------------------

struct AcmeDnsAccount {
  std::string username;
  std::string password;
  std::string subdomain;
  std::string fulldomain;
};

class AcmeDnsSolver final : public ProviderSolver {
 public:
  AcmeDnsSolver(DnsProviderOptions o, std::shared_ptr<DnsResolver> r,
                std::map<std::string, AcmeDnsAccount> accounts)
      : ProviderSolver(std::move(o), std::move(r)), accounts_(std::move(accounts)) {}

  Status Present(const std::string& name, const std::string& /*token*/,
                 const std::string& key_authorization) override {
    const auto it = accounts_.find(WithoutDot(name));
    if (it == accounts_.end()) {
      return MakeError(ErrorCode::kUnprocessable, "dns_provider_error",
                       "no acme-dns account for " + name + " in " + o_.acme_dns_accounts_file +
                           " (register one and CNAME _acme-challenge." + name +
                           " to its fulldomain)");
    }
    const AcmeDnsAccount& a = it->second;
    const std::string value = Dns01TxtValue(key_authorization);
    json::object body{{"subdomain", a.subdomain}, {"txt", value}};
    RD_TRY(Reply reply, http_.Send("POST", o_.api_url + "/update",
                                   {"Content-Type: application/json", "X-Api-User: " + a.username,
                                    "X-Api-Key: " + a.password},
                                   json::serialize(body)));
    if (reply.status != 200) {
      return ProviderError("acme-dns refused the update for " + name + ": HTTP " +
                           std::to_string(reply.status) + " " + reply.body.substr(0, 200));
    }
    return WaitVisible("_acme-challenge." + WithoutDot(name), value);
  }

  // acme-dns has no delete: an account keeps its two newest values, replaced by the next ones.
  void CleanUp(const std::string&, const std::string&, const std::string&) override {}

 private:
  std::map<std::string, AcmeDnsAccount> accounts_;
};

Result<std::map<std::string, AcmeDnsAccount>> ReadAcmeDnsAccounts(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kBadRequest, "cannot read the acme-dns accounts " + file);
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  json::value doc = json::parse(text.str(), ec);
  if (ec || !doc.is_object()) {
    return MakeError(ErrorCode::kBadRequest,
                     "the acme-dns accounts file " + file + " is not a JSON object");
  }
  std::map<std::string, AcmeDnsAccount> out;
  for (const auto& [name, v] : doc.as_object()) {
    const json::object* o = v.if_object();
    auto field = [&](std::string_view key) -> std::string {
      const json::value* f = o != nullptr ? o->if_contains(key) : nullptr;
      return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string();
    };
    AcmeDnsAccount a{field("username"), field("password"), field("subdomain"), field("fulldomain")};
    if (a.username.empty() || a.password.empty() || a.subdomain.empty()) {
      return MakeError(ErrorCode::kBadRequest, "acme-dns account " + std::string(name) + " in " +
                                                   file +
                                                   " needs username, password and subdomain");
    }
    out.emplace(WithoutDot(std::string(name)), std::move(a));
  }
  return out;
}

// --- Cloudflare ------------------------------------------------------------------------------

// The message of a Cloudflare envelope that says success false (or is not one).
std::string CloudflareErrors(const Reply& reply) {
  boost::system::error_code ec;
  json::value doc = json::parse(reply.body, ec);
  std::string out = "HTTP " + std::to_string(reply.status);
  if (ec || !doc.is_object()) return out + " (not a Cloudflare API answer)";
  if (const json::value* errors = doc.as_object().if_contains("errors");
      errors != nullptr && errors->is_array()) {
    for (const json::value& e : errors->as_array()) {
      if (!e.is_object()) continue;
      const json::value* code = e.as_object().if_contains("code");
      const json::value* message = e.as_object().if_contains("message");
      out += ": ";
      if (code != nullptr) out += json::serialize(*code) + " ";
      if (message != nullptr && message->is_string()) out += std::string(message->as_string());
    }
  }
  return out;
}

// The `result` of a successful envelope.
Result<json::value> CloudflareResult(const Reply& reply, const std::string& what) {
  boost::system::error_code ec;
  json::value doc = json::parse(reply.body, ec);
  if (reply.status / 100 != 2 || ec || !doc.is_object()) {
    return ProviderError("Cloudflare: " + what + ": " + CloudflareErrors(reply));
  }
  const json::value* success = doc.as_object().if_contains("success");
  const json::value* result = doc.as_object().if_contains("result");
  if (success == nullptr || !success->is_bool() || !success->as_bool() || result == nullptr) {
    return ProviderError("Cloudflare: " + what + ": " + CloudflareErrors(reply));
  }
  return *result;
}

class CloudflareSolver final : public ProviderSolver {
 public:
  using ProviderSolver::ProviderSolver;

  Status Present(const std::string& name, const std::string& /*token*/,
                 const std::string& key_authorization) override {
    const std::string fqdn = "_acme-challenge." + WithoutDot(name);
    const std::string value = Dns01TxtValue(key_authorization);
    RD_TRY(std::string zone, Zone(name));
    json::object record{{"type", "TXT"}, {"name", fqdn}, {"content", value}, {"ttl", o_.ttl}};
    RD_TRY(Reply reply, http_.Send("POST", o_.api_url + "/zones/" + zone + "/dns_records",
                                   Headers(true), json::serialize(record)));
    RD_TRY(json::value result, CloudflareResult(reply, "creating the TXT record at " + fqdn));
    const json::value* id = result.is_object() ? result.as_object().if_contains("id") : nullptr;
    if (id == nullptr || !id->is_string() || !ValidId(id->as_string())) {
      return ProviderError("Cloudflare: the created record has no id");
    }
    {
      std::lock_guard lock(mu_);
      records_[{fqdn, value}] = {zone, std::string(id->as_string())};
    }
    return WaitVisible(fqdn, value);
  }

  void CleanUp(const std::string& name, const std::string& /*token*/,
               const std::string& key_authorization) override {
    const std::string fqdn = "_acme-challenge." + WithoutDot(name);
    std::pair<std::string, std::string> where;
    {
      std::lock_guard lock(mu_);
      auto it = records_.find({fqdn, Dns01TxtValue(key_authorization)});
      if (it == records_.end()) return;
      where = it->second;
      records_.erase(it);
    }
    auto reply =
        http_.Send("DELETE", o_.api_url + "/zones/" + where.first + "/dns_records/" + where.second,
                   Headers(false), "");
    auto result = reply.ok() ? CloudflareResult(*reply, "deleting the TXT record at " + fqdn)
                             : Result<json::value>(reply.error());
    if (!result.ok()) spdlog::warn("acme: {}", result.error().message);
  }

 private:
  static bool ValidId(std::string_view id) {
    return !id.empty() && id.size() <= 64 &&
           std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isalnum(c); });
  }

  std::vector<std::string> Headers(bool json_body) const {
    std::vector<std::string> h{"Authorization: Bearer " + o_.cloudflare_api_token};
    if (json_body) h.emplace_back("Content-Type: application/json");
    return h;
  }

  // The id of the Cloudflare zone holding `name`: the longest suffix Cloudflare knows.
  Result<std::string> Zone(const std::string& name) {
    for (const std::string& candidate : ZoneCandidates(name)) {
      {
        std::lock_guard lock(mu_);
        if (auto it = zones_.find(candidate); it != zones_.end()) return it->second;
      }
      RD_TRY(Reply reply,
             http_.Send("GET", o_.api_url + "/zones?name=" + candidate, Headers(false), ""));
      RD_TRY(json::value result, CloudflareResult(reply, "looking up the zone " + candidate));
      if (!result.is_array()) continue;
      for (const json::value& z : result.as_array()) {
        const json::object* o = z.if_object();
        const json::value* id = o != nullptr ? o->if_contains("id") : nullptr;
        const json::value* zname = o != nullptr ? o->if_contains("name") : nullptr;
        if (id == nullptr || !id->is_string() || zname == nullptr || !zname->is_string()) continue;
        if (WithoutDot(std::string(zname->as_string())) != candidate) continue;
        if (!ValidId(id->as_string())) continue;
        std::lock_guard lock(mu_);
        zones_[candidate] = std::string(id->as_string());
        return zones_[candidate];
      }
    }
    return ProviderError("Cloudflare: no zone of this account holds " + name);
  }

  std::mutex mu_;
  std::map<std::string, std::string> zones_;  // name -> zone id
  std::map<std::pair<std::string, std::string>, std::pair<std::string, std::string>>
      records_;  // (fqdn, value) -> (zone id, record id)
};

// --- Route 53 --------------------------------------------------------------------------------

class Route53Solver final : public ProviderSolver {
 public:
  using ProviderSolver::ProviderSolver;

  Status Present(const std::string& name, const std::string& /*token*/,
                 const std::string& key_authorization) override {
    const std::string fqdn = "_acme-challenge." + WithoutDot(name);
    const std::string value = Dns01TxtValue(key_authorization);
    {
      // One change at a time per name: the record set is written whole.
      std::lock_guard lock(mu_);
      RD_TRY(std::string zone, Zone(name));
      std::set<std::string> values = wanted_[fqdn];
      values.insert(value);
      RD_TRY_STATUS(Change(zone, "UPSERT", fqdn, values));
      wanted_[fqdn] = values;
      written_[fqdn] = {zone, values};
    }
    return WaitVisible(fqdn, value);
  }

  void CleanUp(const std::string& name, const std::string& /*token*/,
               const std::string& key_authorization) override {
    const std::string fqdn = "_acme-challenge." + WithoutDot(name);
    std::lock_guard lock(mu_);
    auto it = written_.find(fqdn);
    if (it == written_.end()) return;
    std::set<std::string> rest = wanted_[fqdn];
    rest.erase(Dns01TxtValue(key_authorization));
    // DELETE must name the set exactly as it is; an UPSERT of the rest otherwise.
    const Status s = rest.empty() ? Change(it->second.first, "DELETE", fqdn, it->second.second)
                                  : Change(it->second.first, "UPSERT", fqdn, rest);
    if (!s.ok()) {
      spdlog::warn("acme: removing TXT at {}: {}", fqdn, s.error().message);
      return;
    }
    if (rest.empty()) {
      wanted_.erase(fqdn);
      written_.erase(it);
    } else {
      wanted_[fqdn] = rest;
      it->second.second = rest;
    }
  }

 private:
  std::string Endpoint() const { return o_.api_url; }

  // A signed request to the Route 53 API; `path` and `query` unencoded.
  Result<Reply> Signed(const std::string& method, const std::string& path,
                       const std::vector<std::pair<std::string, std::string>>& query,
                       const std::string& body) {
    const std::string url_base = Endpoint();
    const std::size_t scheme_end = url_base.find("://");
    std::string host = url_base.substr(scheme_end + 3);
    std::string prefix;  // a path in the endpoint, e.g. a proxy's
    if (auto slash = host.find('/'); slash != std::string::npos) {
      prefix = host.substr(slash);
      host.resize(slash);
    }
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    const std::string full_path = prefix + path;
    std::string url =
        url_base.substr(0, scheme_end + 3) + host + core::SigV4UriEncode(full_path, false);
    std::string q;
    for (const auto& [k, v] : query) {
      q += (q.empty() ? "?" : "&") + core::SigV4UriEncode(k, true) + "=" +
           core::SigV4UriEncode(v, true);
    }
    url += q;
    const std::string amz_date =
        core::AmzDate(std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count());
    core::SigV4Request to_sign;
    to_sign.method = method;
    to_sign.path = full_path;
    to_sign.query = query;
    to_sign.payload_sha256 = core::Sha256Hex(body);
    to_sign.headers = {
        {"host", host}, {"x-amz-content-sha256", to_sign.payload_sha256}, {"x-amz-date", amz_date}};
    if (!o_.aws.session_token.empty()) {
      to_sign.headers.emplace_back("x-amz-security-token", o_.aws.session_token);
    }
    std::vector<std::string> headers;
    for (const auto& [k, v] : to_sign.headers) {
      if (k != "host") headers.push_back(k + ": " + v);
    }
    headers.push_back("Authorization: " +
                      core::SigV4Authorization(to_sign, o_.aws, o_.aws_region, "route53"));
    if (!body.empty()) headers.emplace_back("Content-Type: text/xml");
    return http_.Send(method, url, headers, body);
  }

  static std::string ErrorText(const Reply& reply) {
    std::string out = "HTTP " + std::to_string(reply.status);
    if (auto code = XmlText(reply.body, "Code")) out += " " + *code;
    if (auto message = XmlText(reply.body, "Message")) out += ": " + *message;
    return out;
  }

  Result<std::string> Zone(const std::string& name) {
    if (!o_.route53_hosted_zone_id.empty()) return o_.route53_hosted_zone_id;
    for (const std::string& candidate : ZoneCandidates(name)) {
      if (auto it = zones_.find(candidate); it != zones_.end()) return it->second;
      RD_TRY(Reply reply, Signed("GET", "/2013-04-01/hostedzonesbyname",
                                 {{"dnsname", candidate}, {"maxitems", "1"}}, ""));
      if (reply.status != 200) {
        return ProviderError("Route 53: looking up the hosted zone " + candidate + ": " +
                             ErrorText(reply));
      }
      const std::size_t at = reply.body.find("<HostedZone>");
      if (at == std::string::npos) continue;
      auto id = XmlText(reply.body, "Id", at);
      auto zname = XmlText(reply.body, "Name", at);
      if (!id || !zname || WithoutDot(*zname) != candidate) continue;
      std::string zone = *id;
      if (zone.rfind("/hostedzone/", 0) == 0) zone = zone.substr(12);
      if (zone.empty() ||
          !std::all_of(zone.begin(), zone.end(), [](unsigned char c) { return std::isalnum(c); })) {
        return ProviderError("Route 53: a malformed hosted zone id for " + candidate);
      }
      zones_[candidate] = zone;
      return zone;
    }
    return ProviderError("Route 53: no hosted zone of this account holds " + name);
  }

  Status Change(const std::string& zone, const std::string& action, const std::string& fqdn,
                const std::set<std::string>& values) {
    std::string records;
    for (const std::string& v : values) {
      records +=
          "<ResourceRecord><Value>&quot;" + core::HtmlEscape(v) + "&quot;</Value></ResourceRecord>";
    }
    const std::string body =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ChangeResourceRecordSetsRequest "
        "xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><ChangeBatch>"
        "<Comment>replideploy ACME DNS-01</Comment><Changes><Change><Action>" +
        action + "</Action><ResourceRecordSet><Name>" + core::HtmlEscape(fqdn) +
        ".</Name><Type>TXT</Type><TTL>" + std::to_string(o_.ttl) + "</TTL><ResourceRecords>" +
        records + "</ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch>" +
        "</ChangeResourceRecordSetsRequest>";
    RD_TRY(Reply reply, Signed("POST", "/2013-04-01/hostedzone/" + zone + "/rrset/", {}, body));
    if (reply.status != 200) {
      return ProviderError("Route 53: " + action + " TXT at " + fqdn + ": " + ErrorText(reply));
    }
    auto id = XmlText(reply.body, "Id");
    if (!id) return ProviderError("Route 53: the change has no id");
    std::string change = *id;
    if (change.rfind("/change/", 0) == 0) change = change.substr(8);
    if (change.empty() || !std::all_of(change.begin(), change.end(),
                                       [](unsigned char c) { return std::isalnum(c); })) {
      return ProviderError("Route 53: a malformed change id");
    }
    // Route 53 says INSYNC once every one of its name servers has the change.
    const auto deadline = std::chrono::steady_clock::now() + o_.propagation_timeout;
    for (std::optional<std::string> status = XmlText(reply.body, "Status"); status != "INSYNC";) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return ProviderError("Route 53: change " + change + " is not INSYNC in time");
      }
      std::this_thread::sleep_for(o_.poll_interval);
      RD_TRY(Reply got, Signed("GET", "/2013-04-01/change/" + change, {}, ""));
      if (got.status != 200) {
        return ProviderError("Route 53: reading change " + change + ": " + ErrorText(got));
      }
      status = XmlText(got.body, "Status");
    }
    return {};
  }

  std::mutex mu_;
  std::map<std::string, std::string> zones_;
  std::map<std::string, std::set<std::string>> wanted_;  // fqdn -> values in use
  std::map<std::string, std::pair<std::string, std::set<std::string>>>
      written_;  // fqdn -> (zone, the set as last written)
};

bool IsHttpUrl(const std::string& url) {
  return (url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0) &&
         url.find_first_of(" \r\n\t") == std::string::npos && url.size() > 8;
}

}  // namespace

void DnsProviderOptionsFromEnvironment(DnsProviderOptions& o) {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr ? std::string(v) : std::string();
  };
  if (o.cloudflare_api_token.empty()) o.cloudflare_api_token = env("CLOUDFLARE_API_TOKEN");
  if (o.cloudflare_api_token.empty()) o.cloudflare_api_token = env("CF_DNS_API_TOKEN");
  if (o.aws.access_key_id.empty()) o.aws.access_key_id = env("AWS_ACCESS_KEY_ID");
  if (o.aws.secret_access_key.empty()) o.aws.secret_access_key = env("AWS_SECRET_ACCESS_KEY");
  if (o.aws.session_token.empty()) o.aws.session_token = env("AWS_SESSION_TOKEN");
  if (const std::string region = env("AWS_REGION"); !region.empty()) o.aws_region = region;
}

Result<std::unique_ptr<ChallengeSolver>> MakeDnsProviderSolver(
    DnsProviderOptions o, std::shared_ptr<DnsResolver> resolver) {
  if (!resolver) return MakeError(ErrorCode::kBadRequest, "DNS-01 needs a resolver");
  while (!o.api_url.empty() && o.api_url.back() == '/') o.api_url.pop_back();
  if (o.provider == "acme-dns") {
    if (!IsHttpUrl(o.api_url)) {
      return MakeError(ErrorCode::kBadRequest,
                       "--dns-provider acme-dns needs --dns-provider-url http(s)://...");
    }
    if (o.acme_dns_accounts_file.empty()) {
      return MakeError(ErrorCode::kBadRequest,
                       "--dns-provider acme-dns needs --acme-dns-accounts FILE");
    }
    RD_TRY(auto accounts, ReadAcmeDnsAccounts(o.acme_dns_accounts_file));
    return std::unique_ptr<ChallengeSolver>(
        new AcmeDnsSolver(std::move(o), std::move(resolver), std::move(accounts)));
  }
  if (o.provider == "cloudflare") {
    if (o.api_url.empty()) o.api_url = "https://api.cloudflare.com/client/v4";
    if (!IsHttpUrl(o.api_url)) {
      return MakeError(ErrorCode::kBadRequest, "--dns-provider-url must be http(s)://...");
    }
    if (o.cloudflare_api_token.empty() ||
        o.cloudflare_api_token.find_first_of(" \r\n") != std::string::npos) {
      return MakeError(ErrorCode::kBadRequest,
                       "--dns-provider cloudflare needs an API token (--cloudflare-api-token or "
                       "CLOUDFLARE_API_TOKEN)");
    }
    return std::unique_ptr<ChallengeSolver>(
        new CloudflareSolver(std::move(o), std::move(resolver)));
  }
  if (o.provider == "route53") {
    if (o.api_url.empty()) o.api_url = "https://route53.amazonaws.com";
    if (!IsHttpUrl(o.api_url)) {
      return MakeError(ErrorCode::kBadRequest, "--dns-provider-url must be http(s)://...");
    }
    if (o.aws.access_key_id.empty() || o.aws.secret_access_key.empty()) {
      return MakeError(ErrorCode::kBadRequest,
                       "--dns-provider route53 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    }
    if (!std::all_of(o.route53_hosted_zone_id.begin(), o.route53_hosted_zone_id.end(),
                     [](unsigned char c) { return std::isalnum(c); })) {
      return MakeError(ErrorCode::kBadRequest, "--route53-hosted-zone-id: letters and digits");
    }
    return std::unique_ptr<ChallengeSolver>(new Route53Solver(std::move(o), std::move(resolver)));
  }
  return MakeError(
      ErrorCode::kBadRequest,
      "--dns-provider: rfc2136, acme-dns, cloudflare or route53, not '" + o.provider + "'");
}

}  // namespace replideploy::domains
