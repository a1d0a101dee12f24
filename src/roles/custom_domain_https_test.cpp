// Issue 12 end to end: a user adds a custom domain through the API; the DNS check (against a real
// Knot, whose zone resolves every name to 127.0.0.1) finds it right; the certs role's loop gets
// a certificate from a real Pebble by HTTP-01 through the real edge; the HTTPS listener serves
// it from the database without a restart, and plain HTTP answers 301 to https. SQLite and
// PostgreSQL.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <mutex>

#include "core/crypto.hpp"
#include "core/subprocess.hpp"
#include "core/testing.hpp"
#include "db/testing.hpp"
#include "domains/acme_testing.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "http/tls.hpp"
#include "roles/api_calls_testing.hpp"
#include "roles/certs_role.hpp"
#include "roles/on_demand_tls.hpp"
#include "roles/roles.hpp"
#include "store/testing.hpp"

namespace replideploy::roles {
namespace {

namespace json = boost::json;

using Reply = ApiReply;

class CustomDomainHttps : public ::testing::TestWithParam<db::Engine>, protected ApiCalls {
 protected:
  void SetUp() override {
    core::InitCrypto();
    RD_SKIP_IF_UNAVAILABLE(tdb_);
    ASSERT_TRUE(knot_.ok()) << knot_.error();
    blobs_ = store::LocalBlobStore::Open(dir_.path() + "/blobs").value();
    http::TlsOptions tls_options;
    if (on_demand_) {
      // The operator's ask-URL: allows names starting with "ask-ok".
      http::ServerOptions ask_options;
      ask_options.port = 0;
      ask_server_ = std::make_unique<http::Server>(ask_options, [this](const http::Request&) {
        return http::Dispatch{.handler = [this](http::Request& r) {
          const std::string name = r.QueryParam("domain").value_or("");
          std::lock_guard lock(asked_mu_);
          asked_.push_back(name);
          return http::Response::Text(name.starts_with("ask-ok.") ? 200 : 403, "");
        }};
      });
      ASSERT_TRUE(ask_server_->Listen().ok());
      ask_server_->Start();
      requests_ = std::make_unique<OnDemandTlsRequests>(tdb_.db(), clock_);
      tls_options.on_unknown_name = [this](std::string_view name) { requests_->Note(name); };
    }
    store_ = std::make_shared<http::CertificateStore>(tls_options);
    http::ServerOptions server_options;
    server_options.port = 0;
    server_options.shutdown_grace = std::chrono::seconds(5);
    server_options.tls = http::TlsListenerOptions{};
    server_options.tls->port = 0;
    server_options.tls->certificates = store_;
    server_ = std::make_unique<http::Server>(
        server_options, [this](const http::Request& head) { return resolver_(head); });
    ASSERT_TRUE(server_->Listen().ok());
    tls_port_ = server_->tls_port();
    pebble_.emplace(server_->port(), knot_.port());
    ASSERT_TRUE(pebble_->ok()) << pebble_->error();

    source_ = std::make_unique<DatabaseCertificateSource>(tdb_.db(), clock_, key_);
    PlatformOptions options;
    options.users = {std::string(32, 'j'), 3600, core::PasswordCost::Minimum()};
    options.processor_interval = std::chrono::milliseconds(50);
    options.dns_resolver = "127.0.0.1:" + std::to_string(knot_.port());
    options.domains.edge_ipv4 = {"127.0.0.1"};
    options.domain_check_interval = std::chrono::milliseconds(0);
    options.edge.https_port_for = [this](std::string_view host) -> std::optional<std::uint16_t> {
      if (!store_->Covers(host)) return std::nullopt;
      return tls_port_.load();
    };
    options.certificates.acme_directory = pebble_->directory_url();
    options.certificates.acme_ca_bundle = pebble_->ca_bundle();
    options.certificates.acme_email = "ops@acme.test";
    options.certificates.key = key_;
    // Without on-demand TLS the loop's next pass is an hour away: only the wake-up of a domain
    // turning dns_ok can issue in time. On-demand handshakes are picked up by the next pass.
    options.certificates.issue_interval = on_demand_
                                              ? std::chrono::milliseconds(100)
                                              : std::chrono::milliseconds(std::chrono::hours(1));
    options.certificates.on_changed = [this] { EXPECT_TRUE(store_->Reload(*source_).ok()); };
    if (on_demand_) {
      options.certificates.on_demand = true;
      options.certificates.on_demand_ask =
          "http://127.0.0.1:" + std::to_string(ask_server_->port()) + "/allow?token=t";
      // Only a handshake starts the certificate of a domain that was added.
      options.domains.recheck_first = std::chrono::hours(1);
      // Sites' hosts that Knot resolves, so that Pebble can validate them.
      options.base_domain = std::string("sites.") + domains::testing::kZone;
    }
    platform_ = std::make_unique<Platform>(tdb_.db(), *blobs_, clock_, options);
    resolver_ = platform_->Resolver();
    platform_->SetPublicPort(server_->port());
    server_->Start();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    if (server_) server_->Stop();
    platform_.reset();
    requests_.reset();
    if (ask_server_) ask_server_->Stop();
  }

  // curl over HTTPS to `name`'s "/" at the listener, trusting Pebble's root, with `options`.
  Result<core::ProcessResult> Https(const std::string& name, std::vector<std::string> options) {
    const std::string root = dir_.path() + "/pebble-root.pem";
    std::ofstream(root) << pebble_->RootPem();
    const std::string port = std::to_string(tls_port_.load());
    core::ProcessSpec spec;
    spec.argv = {"curl"};
    spec.argv.insert(spec.argv.end(), options.begin(), options.end());
    spec.argv.insert(spec.argv.end(),
                     {"--cacert", root, "--resolve", name + ":" + port + ":127.0.0.1",
                      "https://" + name + ":" + port + "/"});
    spec.timeout = std::chrono::seconds(60);
    return core::RunProcess(spec);
  }
  // The status code of that request, or "000" when the handshake fails.
  std::string HttpsStatus(const std::string& name) {
    auto curl = Https(name, {"-s", "-o", "/dev/null", "-w", "%{http_code}"});
    return curl.ok() ? curl->out : "error";
  }
  std::vector<std::string> Asked() {
    std::lock_guard lock(asked_mu_);
    return asked_;
  }

  db::testing::TestDatabase tdb_{GetParam()};
  core::SystemClock clock_;
  const std::string key_ = std::string(32, 'c');
  store::testing::ScopedTempDir dir_;
  std::unique_ptr<store::LocalBlobStore> blobs_;
  domains::testing::Knot knot_;
  std::optional<domains::testing::Pebble> pebble_;
  std::shared_ptr<http::CertificateStore> store_;
  std::unique_ptr<DatabaseCertificateSource> source_;
  std::atomic<std::uint16_t> tls_port_{0};
  http::Resolver resolver_;
  bool on_demand_ = false;
  std::unique_ptr<http::Server> ask_server_;
  std::mutex asked_mu_;
  std::vector<std::string> asked_;
  std::unique_ptr<OnDemandTlsRequests> requests_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<Platform> platform_;
};

TEST_P(CustomDomainHttps, AddedDomainEndsServedOverHttps) {
  const std::string token = SignUp("owner@example.com");
  ASSERT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "shop"}}, token).status, 201);
  Deploy(token, "shop", {{"index.html", "shop home"}});

  const std::string name = std::string("www.") + domains::testing::kZone;
  const std::string domains = "/api/v1/sites/shop/domains";
  Reply added = CallJson("POST", domains, json::object{{"name", name}}, token);
  ASSERT_EQ(added.status, 201) << added.raw;
  // Before any certificate: plain HTTP serves the site.
  Reply before = Call("GET", "/", "", "", name);
  EXPECT_EQ(before.status, 200) << before.raw;
  EXPECT_EQ(before.raw, "shop home");

  Reply checked = Call("POST", domains + "/" + name + "/check", "", token);
  ASSERT_EQ(checked.status, 200) << checked.raw;
  ASSERT_NE(checked.body.at("state").as_string(), "pending_dns") << checked.raw;

  // The certs loop issues (Pebble asks the edge for the HTTP-01 answer) and marks it active.
  std::string state;
  Reply got;
  core::testing::WaitUntil([&] {
    got = Call("GET", domains + "/" + name, "", token);
    state = got.body.is_object() ? std::string(got.body.at("state").as_string()) : "";
    return state == "active" || state == "failed";
  });
  ASSERT_EQ(state, "active") << got.raw << "\n" << pebble_->log();
  EXPECT_NE(std::string(got.body.at("state_reason").as_string()).find("valid until"),
            std::string::npos)
      << got.raw;
  ASSERT_TRUE(store_->Covers(name));

  // HTTPS with Pebble's root, the certificate loaded without a restart.
  auto curl = Https(name, {"-sS"});
  ASSERT_TRUE(curl.ok());
  EXPECT_TRUE(curl->Succeeded()) << curl->err;
  EXPECT_EQ(curl->out, "shop home");

  // Plain HTTP now answers 301 to https.
  Reply plain = Call("GET", "/", "", "", name);
  EXPECT_EQ(plain.status, 301) << plain.raw;
  EXPECT_EQ(plain.headers.Get("Location"),
            "https://" + name + ":" + std::to_string(tls_port_.load()) + "/");
}

// On-demand TLS: a handshake for a name without a certificate gets one when the name is a
// custom domain of a site (its DNS is checked at once, not at its back-off), a site's host under
// the base domain, or allowed by the operator's ask-URL; any other name gets none.
class OnDemandTls : public CustomDomainHttps {
 public:
  OnDemandTls() { on_demand_ = true; }
};

TEST_P(OnDemandTls, HandshakesForAllowedNamesGetCertificates) {
  const std::string token = SignUp("owner@example.com");
  ASSERT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "shop"}}, token).status, 201);
  Deploy(token, "shop", {{"index.html", "shop home"}});
  const std::string name = std::string("www.") + domains::testing::kZone;
  const std::string domains = "/api/v1/sites/shop/domains";
  Reply added = CallJson("POST", domains, json::object{{"name", name}}, token);
  ASSERT_EQ(added.status, 201) << added.raw;
  ASSERT_EQ(added.body.at("state").as_string(), "pending_dns") << added.raw;

  // No certificate yet: the handshake fails, and asks for one.
  EXPECT_EQ(HttpsStatus(name), "000");
  std::string state;
  core::testing::WaitUntil([&] {
    Reply got = Call("GET", domains + "/" + name, "", token);
    state = got.body.is_object() ? std::string(got.body.at("state").as_string()) : "";
    return state == "active" || state == "failed";
  });
  ASSERT_EQ(state, "active") << pebble_->log();
  EXPECT_EQ(HttpsStatus(name), "200");

  // A name the ask-URL allows (not a domain of any site: the edge answers 404, over TLS).
  const std::string allowed = std::string("ask-ok.") + domains::testing::kZone;
  EXPECT_EQ(HttpsStatus(allowed), "000");
  EXPECT_TRUE(core::testing::WaitUntil([&] { return store_->Covers(allowed); })) << pebble_->log();
  EXPECT_EQ(HttpsStatus(allowed), "404");

  // A site's own host under the base domain: no need to ask.
  const std::string site_host = std::string("shop.sites.") + domains::testing::kZone;
  EXPECT_EQ(HttpsStatus(site_host), "000");
  EXPECT_TRUE(core::testing::WaitUntil([&] { return store_->Covers(site_host); }))
      << pebble_->log();
  EXPECT_EQ(HttpsStatus(site_host), "200");

  // A host of a site that does not exist, and a name the ask-URL refuses: decided (the rows
  // are written in order, so the second being asked means both are in), and no certificate.
  const std::string no_site = std::string("nosuch.sites.") + domains::testing::kZone;
  EXPECT_EQ(HttpsStatus(no_site), "000");
  const std::string refused = std::string("ask-no.") + domains::testing::kZone;
  EXPECT_EQ(HttpsStatus(refused), "000");
  ASSERT_TRUE(core::testing::WaitUntil([&] {
    const auto asked = Asked();
    if (std::find(asked.begin(), asked.end(), refused) == asked.end()) return false;
    auto waiting = tdb_.db().Exec("SELECT name FROM tls_on_demand");
    return waiting.ok() && waiting->rows.empty();
  }));
  domains::CertificateService certificates(tdb_.db(), clock_, {}, {});
  for (const std::string& none : {refused, no_site}) {
    EXPECT_FALSE(store_->Covers(none)) << none;
    auto record = certificates.Find({none});
    ASSERT_TRUE(record.ok());
    EXPECT_FALSE(record->has_value()) << none;
  }
  // The custom domain and the site host were not put to the ask-URL.
  for (const std::string& asked : Asked()) EXPECT_TRUE(asked.starts_with("ask-")) << asked;
}

INSTANTIATE_TEST_SUITE_P(Engines, OnDemandTls, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

INSTANTIATE_TEST_SUITE_P(Engines, CustomDomainHttps, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::roles
