// Session-ticket keys shared through the database (migration 0024): two HTTPS servers over one
// database (as two edge processes would be) resume each other's sessions, a rotation keeps the
// previous key's tickets working and is made once, old keys go, and the keys are encrypted at
// rest. Handshakes by `openssl s_client -sess_out/-sess_in`. SQLite and PostgreSQL.
#include "roles/tls_ticket_keys.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "core/crypto.hpp"
#include "db/testing.hpp"
#include "http/server.hpp"
#include "http/tls.hpp"
#include "http/tls_testing.hpp"

namespace replideploy::roles {
namespace {

using http::testing::Handshake;
constexpr std::chrono::seconds kRotation{3600};
constexpr const char* kRequest = "GET / HTTP/1.1\r\nHost: alpha.test\r\nConnection: close\r\n\r\n";

// One HTTPS server with its own key source, as in its own process.
struct Edge {
  std::unique_ptr<DatabaseTicketKeys> keys;
  std::shared_ptr<http::CertificateStore> store;
  std::unique_ptr<http::Server> server;
};

class TicketKeys : public ::testing::TestWithParam<db::Engine> {
 protected:
  void SetUp() override {
    core::InitCrypto();
    tdb_ = std::make_unique<db::testing::TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
    pki_.Issue("alpha", {"alpha.test"}, "a1");
  }
  void TearDown() override {
    for (auto& edge : edges_) edge.server->Stop();
  }

  Edge& StartEdge() {
    Edge edge;
    edge.keys = std::make_unique<DatabaseTicketKeys>(tdb_->db(), clock_, key_, kRotation);
    http::TlsOptions options;
    options.ticket_keys = edge.keys->Source();
    options.ticket_key_refresh = std::chrono::hours(1);  // the test refreshes by hand
    edge.store = std::make_shared<http::CertificateStore>(options);
    http::FileCertificateSource source({{pki_.Path("alpha.crt"), pki_.Path("alpha.key")}}, {});
    EXPECT_TRUE(edge.store->Reload(source).ok());
    http::ServerOptions server_options;
    server_options.port = 0;
    server_options.tls = http::TlsListenerOptions{};
    server_options.tls->port = 0;
    server_options.tls->certificates = edge.store;
    edge.server = std::make_unique<http::Server>(server_options, [](const http::Request&) {
      return http::Dispatch{[](http::Request&) { return http::Response::Text(200, "hello"); },
                            http::kDefaultBodyLimit,
                            {},
                            {}};
    });
    EXPECT_TRUE(edge.server->Listen().ok());
    edge.server->Start();
    edges_.push_back(std::move(edge));
    return edges_.back();
  }

  Handshake Connect(const Edge& edge, const std::string& version, const std::string& sess_flag,
                    const std::string& session) {
    return http::testing::SClient(edge.server->tls_port(), pki_.ca(), "alpha.test",
                                  {version, sess_flag, session}, kRequest);
  }

  // Every server takes a rotation.
  void Rotate() {
    clock_.Advance(std::chrono::duration_cast<std::chrono::milliseconds>(kRotation).count());
    for (auto& edge : edges_) ASSERT_TRUE(edge.store->RefreshTicketKeys().ok());
  }

  std::vector<std::int64_t> Generations() {
    auto rows = tdb_->db().Exec("SELECT generation FROM tls_ticket_keys ORDER BY generation");
    EXPECT_TRUE(rows.ok());
    std::vector<std::int64_t> out;
    if (rows.ok()) {
      for (const auto& row : rows->rows) out.push_back(row.Int(0));
    }
    return out;
  }

  const std::string key_ = std::string(32, 'k');
  core::ManualClock clock_{1'800'000'000'000};
  std::unique_ptr<db::testing::TestDatabase> tdb_;
  http::testing::TestPki pki_;
  std::deque<Edge> edges_;
};

TEST_P(TicketKeys, ATicketFromOneServerResumesAtTheOther) {
  Edge& a = StartEdge();
  Edge& b = StartEdge();
  EXPECT_EQ(Generations(), (std::vector<std::int64_t>{1}));  // the second server took the first's
  for (const char* version : {"-tls1_2", "-tls1_3"}) {
    const std::string session = pki_.Path(std::string("session") + version);
    const Handshake first = Connect(a, version, "-sess_out", session);
    ASSERT_TRUE(first.connected) << first.output;
    EXPECT_FALSE(first.reused);
    const Handshake second = Connect(b, version, "-sess_in", session);
    ASSERT_TRUE(second.connected) << second.output;
    EXPECT_TRUE(second.reused) << version << "\n" << second.output;
  }
}

TEST_P(TicketKeys, RotationIsMadeOnceAndThePreviousKeysTicketsStillResume) {
  Edge& a = StartEdge();
  Edge& b = StartEdge();
  const std::string session = pki_.Path("session");
  ASSERT_TRUE(Connect(a, "-tls1_2", "-sess_out", session).connected);

  // Both servers find the key due at once: one new generation.
  clock_.Advance(std::chrono::duration_cast<std::chrono::milliseconds>(kRotation).count());
  std::thread other([&] { EXPECT_TRUE(b.store->RefreshTicketKeys().ok()); });
  EXPECT_TRUE(a.store->RefreshTicketKeys().ok());
  other.join();
  EXPECT_EQ(Generations(), (std::vector<std::int64_t>{1, 2}));
  // The ticket's key is now the previous one: still accepted, at either server.
  const Handshake resumed = Connect(b, "-tls1_2", "-sess_in", session);
  EXPECT_TRUE(resumed.reused) << resumed.output;

  // Three rotations later it is out of use (a full handshake, which works all the same), and
  // keys older than three rotations are gone from the table.
  for (int i = 0; i < 3; ++i) Rotate();
  const Handshake expired = Connect(a, "-tls1_2", "-sess_in", session);
  EXPECT_TRUE(expired.connected) << expired.output;
  EXPECT_FALSE(expired.reused) << expired.output;
  Rotate();
  const auto generations = Generations();
  ASSERT_FALSE(generations.empty());
  EXPECT_GT(generations.front(), 1);
  EXPECT_EQ(generations.back(), 6);
}

TEST_P(TicketKeys, KeysAreEncryptedAtRest) {
  DatabaseTicketKeys keys(tdb_->db(), clock_, key_, kRotation);
  auto loaded = keys.Refresh();
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded->size(), 1u);
  const http::TicketKey& key = loaded->front();
  EXPECT_EQ(key.name.size(), 16u);
  EXPECT_EQ(key.aes.size(), 32u);
  EXPECT_EQ(key.hmac.size(), 32u);
  auto rows = tdb_->db().Exec("SELECT name, key_encrypted FROM tls_ticket_keys");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->rows.size(), 1u);
  const std::string stored = rows->rows[0].Text(1);
  EXPECT_EQ(rows->rows[0].Text(0), core::HexEncode(key.name));
  for (const std::string& secret : {key.aes, key.hmac}) {
    EXPECT_EQ(stored.find(secret), std::string::npos);
    EXPECT_EQ(stored.find(core::HexEncode(secret)), std::string::npos);
  }
  EXPECT_FALSE(core::Decrypt(std::string(32, 'x'), stored).ok());
  auto opened = core::Decrypt(key_, stored);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, key.aes + key.hmac);
  // Not due yet: the same key again, nothing new made.
  auto again = keys.Refresh();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->front().name, key.name);
  EXPECT_EQ(Generations(), (std::vector<std::int64_t>{1}));
}

INSTANTIATE_TEST_SUITE_P(Engines, TicketKeys, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::roles
