// Per-site HTTPS policy end to end (migration 0015): the site API's https_redirect and hsts
// fields, and what the edge does with them behind a real HTTPS listener whose certificate
// (made by the openssl command) covers one site; and the live build log over that listener.
// SQLite and PostgreSQL.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <map>

#include "core/crypto.hpp"
#include "core/subprocess.hpp"
#include "core/testing.hpp"
#include "db/testing.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "http/tls.hpp"
#include "roles/api_calls_testing.hpp"
#include "roles/roles.hpp"
#include "store/testing.hpp"

namespace replideploy::api {
namespace {

namespace json = boost::json;

using Reply = roles::ApiReply;

core::ProcessResult RunTool(std::vector<std::string> argv) {
  core::ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = std::chrono::seconds(60);
  auto result = core::RunProcess(spec);
  if (!result.ok()) {
    core::ProcessResult failed;
    failed.err = result.error().message;
    return failed;
  }
  return std::move(*result);
}

class SiteTls : public ::testing::TestWithParam<db::Engine>, protected roles::ApiCalls {
 protected:
  void SetUp() override {
    core::InitCrypto();
    tdb_ = std::make_unique<db::testing::TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
    MakeCertificate();
    certificates_ = std::make_shared<http::CertificateStore>(http::TlsOptions{});
    http::FileCertificateSource source({{Path("web.crt"), Path("web.key")}}, {});
    ASSERT_TRUE(certificates_->Reload(source).ok());

    roles::PlatformOptions options;
    options.users = {std::string(32, 'j'), 3600, core::PasswordCost::Minimum()};
    options.processor_interval = std::chrono::milliseconds(50);
    options.edge.https_port_for = [this](std::string_view host) -> std::optional<std::uint16_t> {
      if (!certificates_->Covers(host)) return std::nullopt;
      return tls_port_.load();
    };
    blobs_ = store::LocalBlobStore::Open(dir_.path() + "/blobs").value();
    app_ = std::make_unique<roles::Platform>(tdb_->db(), *blobs_, clock_, options);
    http::ServerOptions server_options;
    server_options.port = 0;
    server_options.shutdown_grace = std::chrono::seconds(5);
    server_options.tls = http::TlsListenerOptions{};
    server_options.tls->port = 0;
    server_options.tls->certificates = certificates_;
    server_ = std::make_unique<http::Server>(server_options, app_->Resolver());
    ASSERT_TRUE(server_->Listen().ok());
    tls_port_ = server_->tls_port();
    app_->SetPublicPort(server_->port());
    server_->Start();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  std::string Path(std::string_view file) const { return dir_.path() + "/" + std::string(file); }

  void MakeCertificate() {
    ASSERT_TRUE(RunTool({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                         "ec_paramgen_curve:P-256", "-nodes", "-keyout", Path("ca.key"), "-out",
                         Path("ca.pem"), "-days", "2", "-subj", "/CN=Test CA"})
                    .Succeeded());
    ASSERT_TRUE(RunTool({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                         "-nodes", "-keyout", Path("web.key"), "-out", Path("web.csr"), "-subj",
                         "/CN=web.localhost", "-addext", "subjectAltName=DNS:web.localhost"})
                    .Succeeded());
    ASSERT_TRUE(RunTool({"openssl", "x509", "-req", "-in", Path("web.csr"), "-CA", Path("ca.pem"),
                         "-CAkey", Path("ca.key"), "-set_serial", "0x10", "-days", "2",
                         "-copy_extensions", "copy", "-out", Path("web.crt")})
                    .Succeeded());
  }

  // curl over HTTPS to `host`; the head (-D) then the body.
  core::ProcessResult Https(const std::string& host, const std::string& path) {
    const std::string port = std::to_string(server_->tls_port());
    return RunTool({"curl", "-sS", "--cacert", Path("ca.pem"), "--resolve",
                    host + ":" + port + ":127.0.0.1", "-D", "-",
                    "https://" + host + ":" + port + path});
  }

  core::ManualClock clock_{1'800'000'000'000};
  store::testing::ScopedTempDir dir_;
  std::unique_ptr<db::testing::TestDatabase> tdb_;
  std::unique_ptr<store::LocalBlobStore> blobs_;
  std::shared_ptr<http::CertificateStore> certificates_;
  std::atomic<std::uint16_t> tls_port_{0};
  std::unique_ptr<roles::Platform> app_;
  std::unique_ptr<http::Server> server_;
};

TEST_P(SiteTls, RedirectToHttpsByDefaultAndHstsOptIn) {
  const std::string token = SignUp("tls@example.com");
  ASSERT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "web"}}, token).status, 201);
  ASSERT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "other"}}, token).status, 201);
  Deploy(token, "web", {{"index.html", "web home"}, {"page.html", "a page"}});
  Deploy(token, "other", {{"index.html", "other home"}});

  Reply site = Call("GET", "/api/v1/sites/web", "", token);
  ASSERT_EQ(site.status, 200) << site.raw;
  EXPECT_EQ(site.body.at("https_redirect"), json::value(true));
  EXPECT_EQ(site.body.at("hsts"), json::value(false));

  // A certificate covers web.localhost: plain HTTP goes to HTTPS, path and query kept.
  const std::string https_base = "https://web.localhost:" + std::to_string(server_->tls_port());
  Reply plain = Call("GET", "/page?x=1", "", "", "web.localhost");
  EXPECT_EQ(plain.status, 301) << plain.raw;
  EXPECT_EQ(plain.headers.Get("Location"), https_base + "/page?x=1");
  // ... except ACME challenges, which the CA fetches over plain HTTP.
  EXPECT_NE(Call("GET", "/.well-known/acme-challenge/token", "", "", "web.localhost").status, 301);
  // No certificate for the other site: served over plain HTTP.
  Reply other = Call("GET", "/", "", "", "other.localhost");
  EXPECT_EQ(other.status, 200);
  EXPECT_EQ(other.raw, "other home");

  auto https = Https("web.localhost", "/page");
  ASSERT_TRUE(https.Succeeded()) << https.err;
  EXPECT_NE(https.out.find("a page"), std::string::npos) << https.out;
  EXPECT_EQ(https.out.find("strict-transport-security"), std::string::npos) << https.out;

  // HSTS on: HTTPS answers carry it (the in-memory path and the blocking one alike).
  Reply patched = CallJson("PATCH", "/api/v1/sites/web", json::object{{"hsts", true}}, token);
  ASSERT_EQ(patched.status, 200) << patched.raw;
  EXPECT_EQ(patched.body.at("hsts"), json::value(true));
  for (int i = 0; i < 2; ++i) {
    https = Https("web.localhost", "/page");
    ASSERT_TRUE(https.Succeeded()) << https.err;
    EXPECT_NE(https.out.find("strict-transport-security: max-age=31536000"), std::string::npos)
        << https.out;
  }
  EXPECT_EQ(Call("GET", "/page", "", "", "web.localhost").headers.Get("Strict-Transport-Security"),
            "");

  // Redirect off: plain HTTP is served again.
  patched = CallJson("PATCH", "/api/v1/sites/web", json::object{{"https_redirect", false}}, token);
  ASSERT_EQ(patched.status, 200) << patched.raw;
  EXPECT_EQ(patched.body.at("https_redirect"), json::value(false));
  EXPECT_EQ(patched.body.at("hsts"), json::value(true));
  plain = Call("GET", "/page", "", "", "web.localhost");
  EXPECT_EQ(plain.status, 200);
  EXPECT_EQ(plain.raw, "a page");

  // Bad input: 4xx with the error shape, nothing changed.
  Reply bad = CallJson("PATCH", "/api/v1/sites/web", json::object{{"hsts", "yes"}}, token);
  EXPECT_GE(bad.status, 400);
  EXPECT_LT(bad.status, 500);
  ASSERT_TRUE(bad.body.is_object()) << bad.raw;
  EXPECT_TRUE(bad.body.at("error").at("code").is_string());
  EXPECT_EQ(Call("GET", "/api/v1/sites/web", "", token).body.at("hsts"), json::value(true));
}

// The dashboard's live build log reached over HTTPS: a WebSocket on the TLS listener.
TEST_P(SiteTls, BuildLogStreamsOverTheHttpsListener) {
  const std::string token = SignUp("log@example.com");
  ASSERT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "web"}}, token).status, 201);
  std::string deploy_id;
  Deploy(token, "web", {{"index.html", "web home"}}, &deploy_id);
  for (const auto& [seq, line] : {std::pair{0, "first line"}, std::pair{1, "second line"}}) {
    ASSERT_TRUE(tdb_->db()
                    .Exec("INSERT INTO build_logs (deploy_id, seq, ts, stream, line) VALUES "
                          "(?, ?, 0, 'stdout', ?)",
                          {deploy_id, std::int64_t{seq}, std::string(line)})
                    .ok());
  }

  namespace asio = boost::asio;
  namespace websocket = boost::beast::websocket;
  asio::io_context io;
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.load_verify_file(Path("ca.pem"));
  tls.set_verify_mode(asio::ssl::verify_peer);
  websocket::stream<asio::ssl::stream<asio::ip::tcp::socket>> ws(io, tls);
  boost::beast::get_lowest_layer(ws).connect(
      {asio::ip::make_address("127.0.0.1"), server_->tls_port()});
  SSL_set_tlsext_host_name(ws.next_layer().native_handle(), "web.localhost");
  ws.next_layer().set_verify_callback(asio::ssl::host_name_verification("web.localhost"));
  ws.next_layer().handshake(asio::ssl::stream_base::client);
  ws.set_option(websocket::stream_base::decorator([&token](websocket::request_type& req) {
    req.set(boost::beast::http::field::sec_websocket_protocol,
            "replideploy.log.v1, bearer." + token);
  }));
  ws.handshake("127.0.0.1", "/api/v1/deploys/" + deploy_id + "/log/stream");

  std::vector<std::string> lines;
  while (lines.size() < 2) {
    boost::beast::flat_buffer buffer;
    boost::beast::error_code ec;
    ws.read(buffer, ec);
    ASSERT_FALSE(ec) << ec.message() << " after " << lines.size() << " lines";
    const json::value message = json::parse(boost::beast::buffers_to_string(buffer.data()));
    if (message.at("type") != "lines") continue;
    for (const auto& l : message.at("lines").as_array()) {
      lines.emplace_back(l.at("line").as_string());
    }
  }
  EXPECT_EQ(lines, (std::vector<std::string>{"first line", "second line"}));
}

INSTANTIATE_TEST_SUITE_P(Engines, SiteTls, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::api
