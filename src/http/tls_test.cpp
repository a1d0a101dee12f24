// The HTTPS listener against real clients on loopback: openssl s_client, curl and h2load, with a
// CA and certificates made by the openssl command for each test run.
#include "http/tls.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "core/subprocess.hpp"
#include "core/testing.hpp"
#include "http/server.hpp"
#include "http/testing.hpp"
#include "http/tls_testing.hpp"

namespace replideploy::http {
namespace {

using namespace std::chrono_literals;
using testing::Handshake;
using testing::kWait;
using testing::RawConnection;
using testing::ReadAll;
using testing::RunTool;
using testing::TestPki;

constexpr std::size_t kBigFileBytes = std::size_t{3} << 20;  // far past a 64 KiB window

// A TLS client on a RawConnection's socket, for one connection that stays open while the test
// does other things.
class TlsClient {
 public:
  // `alpn`: protocols to offer, in wire format ("\x02h2"); empty: none.
  TlsClient(std::uint16_t port, const std::string& ca, const std::string& name,
            const std::string& alpn = "")
      : raw_(port), name_(name) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!alpn.empty()) {
      SSL_CTX_set_alpn_protos(ctx_, reinterpret_cast<const unsigned char*>(alpn.data()),
                              static_cast<unsigned int>(alpn.size()));
    }
    SSL_CTX_load_verify_locations(ctx_, ca.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(ctx_);
    SSL_set_tlsext_host_name(ssl_, name.c_str());
    SSL_set1_host(ssl_, name.c_str());
    SSL_set_fd(ssl_, raw_.fd());
    connected_ = raw_.IsConnected() && SSL_connect(ssl_) == 1;
  }
  ~TlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  bool connected() const { return connected_; }

  // The serial number of the server's certificate, in hex ("A1").
  std::string Serial() const {
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (cert == nullptr) return "";
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr);
    char* hex = BN_bn2hex(bn);
    std::string serial = hex;
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(cert);
    return serial;
  }

  bool Write(std::string_view data) {
    return SSL_write(ssl_, data.data(), static_cast<int>(data.size())) ==
           static_cast<int>(data.size());
  }
  // One read: what the server sent first.
  std::string ReadSome() {
    char buffer[4096];
    const int n = SSL_read(ssl_, buffer, sizeof buffer);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "";
  }
  // Everything until the server closes (or the read times out).
  std::string ReadToEnd() {
    std::string in;
    char buffer[4096];
    for (int n; (n = SSL_read(ssl_, buffer, sizeof buffer)) > 0;) {
      in.append(buffer, static_cast<std::size_t>(n));
    }
    return in;
  }

  // GET `path` on this connection; the body, or "" on failure.
  std::string Get(const std::string& path) {
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + name_ + "\r\n\r\n";
    if (SSL_write(ssl_, request.data(), static_cast<int>(request.size())) <= 0) return "";
    std::string in;
    std::size_t end = std::string::npos;
    std::size_t length = 0;
    char buffer[4096];
    for (;;) {
      if (end == std::string::npos && (end = in.find("\r\n\r\n")) != std::string::npos) {
        const std::string head = testing::Lower(in.substr(0, end));
        const std::size_t at = head.find("content-length: ");
        if (at == std::string::npos) return "";
        length = std::stoul(head.substr(at + 16));
      }
      if (end != std::string::npos && in.size() >= end + 4 + length) {
        return in.substr(end + 4, length);
      }
      const int n = SSL_read(ssl_, buffer, sizeof buffer);
      if (n <= 0) return "";
      in.append(buffer, static_cast<std::size_t>(n));
    }
  }

 private:
  RawConnection raw_;
  std::string name_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool connected_ = false;
};

// A streamed body the test writes piece by piece (as a function's streamed answer).
class ScriptedBody : public BodyStream {
 public:
  void Push(std::string piece) {
    std::lock_guard lock(mu_);
    pieces_.push_back(std::move(piece));
    cv_.notify_all();
  }
  void End(bool complete) {
    std::lock_guard lock(mu_);
    ended_ = true;
    complete_ = complete;
    cv_.notify_all();
  }
  std::optional<std::string> Next() override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !pieces_.empty() || ended_ || cancelled_; });
    if (pieces_.empty()) return std::nullopt;
    std::string piece = std::move(pieces_.front());
    pieces_.pop_front();
    return piece;
  }
  bool Complete() const override {
    std::lock_guard lock(mu_);
    return ended_ && complete_ && !cancelled_;
  }
  void Cancel() override {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }
  bool cancelled() const {
    std::lock_guard lock(mu_);
    return cancelled_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> pieces_;
  bool ended_ = false;
  bool complete_ = false;
  bool cancelled_ = false;
};

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_.Issue("alpha", {"alpha.test"}, "a1");
    pki_.Issue("beta", {"beta.test"}, "b1", /*rsa=*/true);
    pki_.Issue("wild", {"*.wild.test"}, "c1");
    ASSERT_TRUE(std::filesystem::create_directory(pki_.Path("certs")));
    big_file_ = pki_.Path("big.bin");
    std::string big(kBigFileBytes, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7) % 26);
    std::ofstream(big_file_, std::ios::binary) << big;
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  void StartServer(TlsOptions tls = {}, std::size_t body_limit = std::size_t{1} << 20) {
    certificates_ = std::make_shared<CertificateStore>(tls);
    source_ = std::make_unique<FileCertificateSource>(
        std::vector<FileCertificateSource::Pair>{{pki_.Path("alpha.crt"), pki_.Path("alpha.key")},
                                                 {pki_.Path("beta.crt"), pki_.Path("beta.key")},
                                                 {pki_.Path("wild.crt"), pki_.Path("wild.key")}},
        std::vector<std::string>{});
    const Status loaded = certificates_->Reload(*source_);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    ServerOptions options;
    options.port = 0;
    options.shutdown_grace = kWait;
    options.tls = TlsListenerOptions{};
    options.tls->port = 0;
    options.tls->certificates = certificates_;
    const std::string big_file = big_file_;
    server_ = std::make_unique<Server>(options, [this, big_file, body_limit](const Request& head) {
      Dispatch dispatch;
      dispatch.body_limit = body_limit;
      dispatch.handler = [this, big_file](Request& request) {
        if (request.path == "/stream") {
          Response response;
          response.headers.Set("Content-Type", "text/plain");
          std::lock_guard lock(streamed_mu_);
          response.body_stream = streamed_;
          return response;
        }
        if (request.path == "/big") {
          auto body = std::make_shared<FileBody>();
          body->fd = core::UniqueFd(::open(big_file.c_str(), O_RDONLY | O_CLOEXEC));
          body->length = kBigFileBytes;
          Response response;
          response.headers.Set("Content-Type", "application/octet-stream");
          response.file_body = std::move(body);
          return response;
        }
        if (request.path == "/echo") {
          return Response::Text(200, "got " + std::to_string(request.body.size()) + " bytes");
        }
        Response response = Response::Text(
            200, "hello " + request.HostName() + (request.secure ? " secure" : " plain") + " " +
                     request.method + " " + request.target +
                     " cookie=" + std::string(request.Header("Cookie")));
        response.headers.Set("X-Test", "one");
        return response;
      };
      (void)head;
      return dispatch;
    });
    const Status listening = server_->Listen();
    ASSERT_TRUE(listening.ok()) << listening.error().message;
    ASSERT_NE(server_->tls_port(), 0);
    server_->Start();
  }

  std::string Port() const { return std::to_string(server_->tls_port()); }

  Handshake Connect(const std::string& name, std::vector<std::string> extra = {},
                    const std::string& input = "") {
    return testing::SClient(server_->tls_port(), pki_.ca(), name, std::move(extra), input);
  }

  // curl against `name` resolved to loopback; the output is the head (-D) then the body.
  core::ProcessResult Curl(const std::string& name, const std::string& path,
                           std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        "curl", "-sS", "--cacert",   pki_.ca(), "--resolve", name + ":" + Port() + ":127.0.0.1",
        "-D",   "-",   "--max-time", "30"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("https://" + name + ":" + Port() + path);
    return RunTool(argv);
  }

  TestPki pki_;
  std::string big_file_;
  std::shared_ptr<CertificateStore> certificates_;
  std::unique_ptr<FileCertificateSource> source_;
  std::unique_ptr<Server> server_;
  // What /stream answers (set before the request).
  std::mutex streamed_mu_;
  std::shared_ptr<ScriptedBody> streamed_;
};

std::string Body(const std::string& output) {
  const std::size_t end = output.find("\r\n\r\n");
  return end == std::string::npos ? "" : output.substr(end + 4);
}

TEST(CertificateNames, FromSubjectAltNameLowerCased) {
  TestPki pki;
  pki.Issue("multi", {"Www.Example.TEST", "*.apps.example.test"}, "01");
  auto names = CertificateNames(ReadAll(pki.Path("multi.crt")));
  ASSERT_TRUE(names.ok()) << names.error().message;
  EXPECT_EQ(*names, (std::vector<std::string>{"www.example.test", "*.apps.example.test"}));
  EXPECT_FALSE(CertificateNames("not a certificate").ok());
}

TEST(CertificateStore, InstallReportsBadEntriesAndKeepsGoodOnes) {
  TestPki pki;
  pki.Issue("one", {"one.test"}, "01");
  pki.Issue("two", {"two.test"}, "02");
  CertificateStore store(TlsOptions{});
  const std::string one_crt = ReadAll(pki.Path("one.crt"));
  const std::string two_key = ReadAll(pki.Path("two.key"));
  // The key of another certificate: left out, named in the error.
  const Status mismatched =
      store.Install({{{"one.test"}, one_crt, ReadAll(pki.Path("one.key"))},
                     {{"two.test"}, ReadAll(pki.Path("two.crt")), ReadAll(pki.Path("one.key"))}});
  ASSERT_FALSE(mismatched.ok());
  EXPECT_NE(mismatched.error().message.find("two.test"), std::string::npos);
  EXPECT_EQ(store.size(), 1u);
  EXPECT_TRUE(store.Covers("one.test"));
  EXPECT_TRUE(store.Covers("ONE.test:443"));
  EXPECT_FALSE(store.Covers("two.test"));
  // Nothing usable: the set loaded before stays.
  EXPECT_FALSE(store.Install({{{"x.test"}, "garbage", two_key}}).ok());
  EXPECT_TRUE(store.Covers("one.test"));
}

TEST(CertificateStore, WildcardCoversOneLevel) {
  TestPki pki;
  pki.Issue("wild", {"*.example.test"}, "01");
  CertificateStore store(TlsOptions{});
  ASSERT_TRUE(
      store
          .Install(
              {{{"*.example.test"}, ReadAll(pki.Path("wild.crt")), ReadAll(pki.Path("wild.key"))}})
          .ok());
  EXPECT_TRUE(store.Covers("www.example.test"));
  EXPECT_FALSE(store.Covers("example.test"));
  EXPECT_FALSE(store.Covers("a.b.example.test"));
}

TEST_F(TlsTest, EachNameGetsItsOwnCertificate) {
  StartServer();
  const Handshake alpha = Connect("alpha.test");
  EXPECT_TRUE(alpha.connected) << alpha.output;
  EXPECT_EQ(alpha.subject, "CN = alpha.test");
  const Handshake beta = Connect("beta.test");
  EXPECT_TRUE(beta.connected) << beta.output;
  EXPECT_EQ(beta.subject, "CN = beta.test");
  const Handshake wild = Connect("any.wild.test");
  EXPECT_TRUE(wild.connected) << wild.output;
  EXPECT_EQ(wild.subject, "CN = *.wild.test");
  // No certificate and no default: the handshake fails.
  EXPECT_FALSE(Connect("other.test").connected);
  EXPECT_FALSE(Connect("").connected);

  for (const std::string name : {"alpha.test", "beta.test", "x.wild.test"}) {
    const auto curl = Curl(name, "/hi?q=1");
    ASSERT_TRUE(curl.Succeeded()) << curl.err;
    EXPECT_EQ(Body(curl.out), "hello " + name + " secure GET /hi?q=1 cookie=");
  }
  // The plain listener is still there and says so.
  auto plain =
      RunTool({"curl", "-sS", "http://127.0.0.1:" + std::to_string(server_->port()) + "/p"});
  ASSERT_TRUE(plain.Succeeded()) << plain.err;
  EXPECT_EQ(plain.out, "hello 127.0.0.1 plain GET /p cookie=");
}

TEST_F(TlsTest, DefaultCertificateAnswersUnknownNames) {
  TlsOptions options;
  options.default_name = "beta.test";
  StartServer(options);
  const Handshake none = Connect("", {"-noservername"});
  EXPECT_TRUE(none.connected) << none.output;
  EXPECT_EQ(none.subject, "CN = beta.test");
  EXPECT_EQ(Connect("unknown.test").subject, "CN = beta.test");
  EXPECT_EQ(Connect("alpha.test").subject, "CN = alpha.test");
}

TEST_F(TlsTest, OnlyTls12AndTls13) {
  StartServer();
  EXPECT_EQ(Connect("alpha.test", {"-tls1_3"}).protocol, "TLSv1.3");
  EXPECT_EQ(Connect("alpha.test", {"-tls1_2"}).protocol, "TLSv1.2");
  // The client allows old protocols (security level 0) so that the refusal is the server's.
  for (const char* old : {"-tls1_1", "-tls1"}) {
    const Handshake refused = Connect("alpha.test", {old, "-cipher", "DEFAULT@SECLEVEL=0"});
    EXPECT_FALSE(refused.connected) << refused.output;
    EXPECT_NE(refused.output.find("alert protocol version"), std::string::npos) << refused.output;
  }
  const auto curl =
      Curl("alpha.test", "/", {"--tlsv1.1", "--tls-max", "1.1", "--ciphers", "DEFAULT@SECLEVEL=0"});
  EXPECT_FALSE(curl.Succeeded());
}

TEST_F(TlsTest, CertificateSwapNeedsNoRestartAndKeepsOpenConnections) {
  StartServer();
  TlsClient open(server_->tls_port(), pki_.ca(), "alpha.test");
  ASSERT_TRUE(open.connected());
  EXPECT_EQ(open.Serial(), "A1");
  EXPECT_EQ(open.Get("/one"), "hello alpha.test secure GET /one cookie=");

  // The files change and the source is loaded again: no restart.
  pki_.Issue("alpha", {"alpha.test"}, "a2");
  const Status reloaded = certificates_->Reload(*source_);
  ASSERT_TRUE(reloaded.ok()) << reloaded.error().message;

  TlsClient fresh(server_->tls_port(), pki_.ca(), "alpha.test");
  ASSERT_TRUE(fresh.connected());
  EXPECT_EQ(fresh.Serial(), "A2");
  EXPECT_EQ(fresh.Get("/two"), "hello alpha.test secure GET /two cookie=");
  // The connection made before the swap keeps its certificate and keeps working.
  EXPECT_EQ(open.Serial(), "A1");
  EXPECT_EQ(open.Get("/three"), "hello alpha.test secure GET /three cookie=");
  // The other names are untouched; openssl s_client sees the new certificate too.
  TlsClient beta(server_->tls_port(), pki_.ca(), "beta.test");
  EXPECT_EQ(beta.Serial(), "B1");
  const Handshake seen = Connect("alpha.test");
  EXPECT_TRUE(seen.connected) << seen.output;
}

// A streamed body (a function's ReadableStream) reaches an HTTP/2 client piece by piece: the
// first piece is in the client's file while the second is not yet written. Cut short, the
// stream is reset (the client sees an error, not a short body); a HEAD gets no body; a client
// that leaves mid-stream cancels it.
TEST_F(TlsTest, Http2StreamsABodyAsItIsProduced) {
  StartServer();
  auto body = std::make_shared<ScriptedBody>();
  {
    std::lock_guard lock(streamed_mu_);
    streamed_ = body;
  }
  const std::string out = pki_.Path("streamed.out");
  auto curl = std::async(std::launch::async, [&] {
    return Curl("alpha.test", "/stream", {"--http2", "-N", "-o", out});
  });
  body->Push("first piece;");
  const bool first_arrived =
      core::testing::WaitUntil([&] { return ReadAll(out) == "first piece;"; });
  body->Push("second piece");
  body->End(/*complete=*/true);
  const auto done = curl.get();
  EXPECT_TRUE(first_arrived) << "the first piece did not reach the client before the end";
  ASSERT_TRUE(done.Succeeded()) << done.err;
  EXPECT_EQ(done.out.rfind("HTTP/2 200", 0), 0u) << done.out;
  EXPECT_EQ(done.out.find("content-length"), std::string::npos) << done.out;
  EXPECT_EQ(ReadAll(out), "first piece;second piece");

  // Cut short: the stream is reset, curl fails.
  body = std::make_shared<ScriptedBody>();
  {
    std::lock_guard lock(streamed_mu_);
    streamed_ = body;
  }
  body->Push("partial");
  body->End(/*complete=*/false);
  const auto cut = Curl("alpha.test", "/stream", {"--http2", "-o", out});
  EXPECT_FALSE(cut.Succeeded()) << cut.out;
  EXPECT_NE(cut.err.find("INTERNAL_ERROR"), std::string::npos) << cut.err;

  // HEAD: the stream is stopped at once, no body.
  body = std::make_shared<ScriptedBody>();
  {
    std::lock_guard lock(streamed_mu_);
    streamed_ = body;
  }
  const auto head = Curl("alpha.test", "/stream", {"--http2", "-I"});
  EXPECT_TRUE(head.Succeeded()) << head.err;
  EXPECT_EQ(head.out.rfind("HTTP/2 200", 0), 0u) << head.out;
  EXPECT_TRUE(body->cancelled());

  // A client that goes away mid-stream (curl gives up after a second) cancels the body.
  body = std::make_shared<ScriptedBody>();
  {
    std::lock_guard lock(streamed_mu_);
    streamed_ = body;
  }
  body->Push("never ends");
  const auto left = Curl("alpha.test", "/stream", {"--http2", "--max-time", "1", "-o", out});
  EXPECT_FALSE(left.Succeeded());
  EXPECT_TRUE(core::testing::WaitUntil([&] { return body->cancelled(); }));
  // The connection still serves.
  EXPECT_TRUE(Curl("alpha.test", "/", {"--http2"}).Succeeded());
}

TEST_F(TlsTest, Http2ByAlpnAnswersLikeHttp1) {
  StartServer(TlsOptions{}, /*body_limit=*/std::size_t{8} << 20);
  const auto h1 = Curl("alpha.test", "/page?x=1", {"--http1.1", "-b", "a=1; b=2"});
  const auto h2 = Curl("alpha.test", "/page?x=1", {"--http2", "-b", "a=1; b=2"});
  ASSERT_TRUE(h1.Succeeded()) << h1.err;
  ASSERT_TRUE(h2.Succeeded()) << h2.err;
  EXPECT_EQ(h1.out.rfind("HTTP/1.1 200", 0), 0u) << h1.out;
  EXPECT_EQ(h2.out.rfind("HTTP/2 200", 0), 0u) << h2.out;
  EXPECT_EQ(Body(h1.out), Body(h2.out));
  EXPECT_EQ(Body(h2.out), "hello alpha.test secure GET /page?x=1 cookie=a=1; b=2");
  for (const char* header : {"x-test: one", "content-type: text/plain; charset=utf-8",
                             "server: replideploy", "content-length: "}) {
    EXPECT_NE(testing::Lower(h1.out).find(header), std::string::npos) << header;
    EXPECT_NE(h2.out.find(header), std::string::npos) << header << "\n" << h2.out;
  }

  // A file body far larger than the flow-control window, read in chunks by the data provider.
  const std::string out1 = pki_.Path("big1"), out2 = pki_.Path("big2");
  ASSERT_TRUE(Curl("alpha.test", "/big", {"--http1.1", "-o", out1}).Succeeded());
  const auto big2 = Curl("alpha.test", "/big", {"--http2", "-o", out2});
  ASSERT_TRUE(big2.Succeeded()) << big2.err;
  EXPECT_EQ(big2.out.rfind("HTTP/2 200", 0), 0u) << big2.out;
  const std::string expected = ReadAll(big_file_);
  EXPECT_EQ(ReadAll(out1), expected);
  EXPECT_EQ(ReadAll(out2), expected);

  // HEAD: the length without a body.
  const auto head = Curl("alpha.test", "/big", {"--http2", "-I"});
  ASSERT_TRUE(head.Succeeded()) << head.err;
  EXPECT_NE(head.out.find("content-length: " + std::to_string(kBigFileBytes)), std::string::npos)
      << head.out;

  // A request body, then one over the route's limit.
  const auto posted = Curl("alpha.test", "/echo", {"--http2", "--data-binary", "@" + big_file_});
  ASSERT_TRUE(posted.Succeeded()) << posted.err;
  EXPECT_EQ(Body(posted.out), "got " + std::to_string(kBigFileBytes) + " bytes");
}

TEST_F(TlsTest, Http2BodyAndHeaderLimits) {
  StartServer(TlsOptions{}, /*body_limit=*/1024);
  const auto large = Curl("alpha.test", "/echo", {"--http2", "--data-binary", "@" + big_file_});
  EXPECT_NE(large.out.find("HTTP/2 413"), std::string::npos) << large.out << large.err;
  const auto small = Curl("alpha.test", "/echo", {"--http2", "--data-binary", "0123456789"});
  EXPECT_EQ(Body(small.out), "got 10 bytes");
  const auto huge_header =
      Curl("alpha.test", "/", {"--http2", "-H", "X-Big: " + std::string(20000, 'x')});
  EXPECT_NE(huge_header.out.find("HTTP/2 431"), std::string::npos)
      << huge_header.out << huge_header.err;
  // The connection-level state is fine afterwards.
  EXPECT_TRUE(Curl("alpha.test", "/", {"--http2"}).Succeeded());
}

TEST_F(TlsTest, H2loadCompletesWithoutErrors) {
  TlsOptions options;
  options.default_name = "alpha.test";  // h2load connects by address, without SNI
  StartServer(options);
  const std::string url = "https://127.0.0.1:" + Port() + "/";
  const auto h2 = RunTool({"h2load", "-n", "200", "-c", "4", "-m", "10", url});
  ASSERT_TRUE(h2.Succeeded()) << h2.out << h2.err;
  EXPECT_NE(h2.out.find("Application protocol: h2"), std::string::npos) << h2.out;
  EXPECT_NE(h2.out.find("200 succeeded, 0 failed, 0 errored"), std::string::npos) << h2.out;
  const auto h1 = RunTool({"h2load", "--h1", "-n", "200", "-c", "4", url});
  ASSERT_TRUE(h1.Succeeded()) << h1.out << h1.err;
  EXPECT_NE(h1.out.find("Application protocol: http/1.1"), std::string::npos) << h1.out;
  EXPECT_NE(h1.out.find("200 succeeded, 0 failed, 0 errored"), std::string::npos) << h1.out;
  // Large bodies through many streams and flow-control windows.
  const auto big = RunTool({"h2load", "-n", "20", "-c", "2", "-m", "5", url + "big"});
  ASSERT_TRUE(big.Succeeded()) << big.out << big.err;
  EXPECT_NE(big.out.find("20 succeeded, 0 failed, 0 errored"), std::string::npos) << big.out;
}

TEST_F(TlsTest, SessionsResumeFromTickets) {
  StartServer();
  for (const char* version : {"-tls1_2", "-tls1_3"}) {
    const std::string session = pki_.Path(std::string("session") + version);
    const std::string request = "GET / HTTP/1.1\r\nHost: alpha.test\r\nConnection: close\r\n\r\n";
    const Handshake first = Connect("alpha.test", {version, "-sess_out", session}, request);
    ASSERT_TRUE(first.connected) << first.output;
    EXPECT_FALSE(first.reused);
    EXPECT_NE(first.output.find("hello alpha.test secure"), std::string::npos) << first.output;
    const Handshake second = Connect("alpha.test", {version, "-sess_in", session}, request);
    EXPECT_TRUE(second.reused) << version << "\n" << second.output;
  }
}

TEST_F(TlsTest, TicketKeysRotateAndOldOnesExpire) {
  TlsOptions options;
  options.ticket_key_rotation = std::chrono::seconds(0);  // a new key for every ticket
  StartServer(options);
  const std::string request = "GET / HTTP/1.1\r\nHost: alpha.test\r\nConnection: close\r\n\r\n";
  const std::string session = pki_.Path("session-rotated");
  ASSERT_TRUE(Connect("alpha.test", {"-tls1_2", "-sess_out", session}, request).connected);
  // One rotation later the ticket's key is a previous one: still accepted.
  ASSERT_TRUE(Connect("alpha.test", {"-tls1_2"}, request).connected);
  const Handshake resumed = Connect("alpha.test", {"-tls1_2", "-sess_in", session}, request);
  EXPECT_TRUE(resumed.reused) << resumed.output;
  // Past the two previous keys it is not: a full handshake, which works all the same.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Connect("alpha.test", {"-tls1_2"}, request).connected);
  }
  const Handshake expired = Connect("alpha.test", {"-tls1_2", "-sess_in", session}, request);
  EXPECT_TRUE(expired.connected) << expired.output;
  EXPECT_FALSE(expired.reused) << expired.output;
}

TEST_F(TlsTest, Http2AnswersWebSocketHandshakesWithAClearError) {
  ::signal(SIGPIPE, SIG_IGN);
  StartServer();
  // Upgrade and Connection cannot travel over HTTP/2; the handshake's other fields can.
  const auto h2 = Curl("alpha.test", "/stream",
                       {"--http2", "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "-H",
                        "Sec-WebSocket-Version: 13"});
  ASSERT_TRUE(h2.Succeeded()) << h2.err;
  EXPECT_EQ(h2.out.rfind("HTTP/2 400", 0), 0u) << h2.out;
  EXPECT_NE(Body(h2.out).find("websocket_needs_http1"), std::string::npos) << h2.out;
  // No SETTINGS_ENABLE_CONNECT_PROTOCOL (0x8) among the server's SETTINGS: browsers then open
  // their WebSockets on an HTTP/1.1 connection instead of by extended CONNECT (RFC 8441).
  TlsClient client(server_->tls_port(), pki_.ca(), "alpha.test", std::string("\x02h2", 3));
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Write(std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") +
                           std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9)));
  const std::string frames = client.ReadSome();
  ASSERT_GE(frames.size(), 9u);
  ASSERT_EQ(frames[3], '\x04');
  const std::size_t length =
      (static_cast<unsigned char>(frames[1]) << 8) | static_cast<unsigned char>(frames[2]);
  ASSERT_GE(frames.size(), 9 + length);
  std::vector<int> ids;
  for (std::size_t at = 9; at + 6 <= 9 + length; at += 6) {
    ids.push_back((static_cast<unsigned char>(frames[at]) << 8) |
                  static_cast<unsigned char>(frames[at + 1]));
  }
  EXPECT_FALSE(ids.empty());
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 8), 0);
}

TEST_F(TlsTest, Http2ConnectionGetsGoawayOnStop) {
  // The test's client writes with OpenSSL's socket BIO, which does not ask for MSG_NOSIGNAL.
  ::signal(SIGPIPE, SIG_IGN);
  StartServer();
  TlsClient h2(server_->tls_port(), pki_.ca(), "alpha.test", std::string("\x02h2", 3));
  ASSERT_TRUE(h2.connected());
  // The client preface and an empty SETTINGS frame; the connection is then idle.
  ASSERT_TRUE(h2.Write(std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") +
                       std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9)));
  // The server's SETTINGS: its HTTP/2 session is running.
  std::string frames = h2.ReadSome();
  ASSERT_GE(frames.size(), 9u);
  EXPECT_EQ(frames[3], '\x04');
  std::thread stopper([this] { server_->Stop(); });
  frames += h2.ReadToEnd();
  stopper.join();
  // Walk the frames: SETTINGS and its ACK, then a GOAWAY (type 7) with NO_ERROR.
  bool goaway = false;
  for (std::size_t at = 0; at + 9 <= frames.size();) {
    const std::size_t length = (static_cast<unsigned char>(frames[at]) << 16) |
                               (static_cast<unsigned char>(frames[at + 1]) << 8) |
                               static_cast<unsigned char>(frames[at + 2]);
    const int type = static_cast<unsigned char>(frames[at + 3]);
    if (type == 7 && length >= 8 && at + 9 + length <= frames.size()) {
      goaway = frames.substr(at + 9 + 4, 4) == std::string(4, '\0');
    }
    at += 9 + length;
  }
  EXPECT_TRUE(goaway) << "frames read: " << frames.size() << " bytes";
}

TEST_F(TlsTest, OcspResponseIsStapledWhenTheCertificateNamesAResponder) {
  // The CA's OCSP responder: an HTTP server of ours that runs `openssl ocsp` on the CA's index.
  const std::string index = pki_.Path("index.txt");
  ServerOptions responder_options;
  responder_options.port = 0;
  Server responder(responder_options, [this, index](const Request&) {
    Dispatch dispatch;
    dispatch.handler = [this, index](Request& request) {
      std::ofstream(pki_.Path("req.der"), std::ios::binary) << request.body;
      const auto made =
          RunTool({"openssl", "ocsp", "-index", index, "-CA", pki_.ca(), "-rsigner", pki_.ca(),
                   "-rkey", pki_.Path("ca.key"), "-reqin", pki_.Path("req.der"), "-respout",
                   pki_.Path("resp.der"), "-nmin", "5"});
      if (!made.Succeeded()) return Response::Text(500, made.err);
      Response answer;
      answer.body = ReadAll(pki_.Path("resp.der"));
      answer.headers.Set("Content-Type", "application/ocsp-response");
      return answer;
    };
    return dispatch;
  });
  ASSERT_TRUE(responder.Listen().ok());
  responder.Start();
  pki_.Issue(
      "stapled", {"stapled.test"}, "D1", false,
      "authorityInfoAccess=OCSP;URI:http://127.0.0.1:" + std::to_string(responder.port()) + "/");
  std::ofstream(index) << "V\t301212000000Z\t\tD1\tunknown\t/CN=stapled.test\n";
  StartServer();
  // The chain must hold the issuer, to name the certificate in the OCSP request.
  const Status installed = certificates_->Install(
      {{{"stapled.test"},
        ReadAll(pki_.Path("stapled.crt")) + ReadAll(pki_.ca()),
        ReadAll(pki_.Path("stapled.key"))},
       {{"alpha.test"}, ReadAll(pki_.Path("alpha.crt")), ReadAll(pki_.Path("alpha.key"))}});
  ASSERT_TRUE(installed.ok()) << installed.error().message;

  const Handshake stapled = Connect("stapled.test", {"-status"});
  EXPECT_TRUE(stapled.connected) << stapled.output;
  EXPECT_NE(stapled.output.find("OCSP Response Status: successful"), std::string::npos)
      << stapled.output;
  EXPECT_NE(stapled.output.find("Cert Status: good"), std::string::npos) << stapled.output;
  // No responder named: nothing stapled.
  const Handshake plain = Connect("alpha.test", {"-status"});
  EXPECT_TRUE(plain.connected) << plain.output;
  EXPECT_NE(plain.output.find("OCSP response: no response sent"), std::string::npos)
      << plain.output;
  responder.Stop();
}

TEST_F(TlsTest, GarbageInsteadOfClientHelloIsClosed) {
  StartServer();
  {
    RawConnection garbage(server_->tls_port());
    ASSERT_TRUE(garbage.IsConnected());
    garbage.Send("GET / HTTP/1.1\r\nHost: alpha.test\r\n\r\n");
    EXPECT_TRUE(garbage.ReadsEof());
  }
  {
    RawConnection garbage(server_->tls_port());
    std::string noise(4096, '\x16');
    for (std::size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<char>(i * 131 + 7);
    garbage.Send(noise);
    EXPECT_TRUE(garbage.ReadsEof());
  }
  const auto after = Curl("alpha.test", "/");
  ASSERT_TRUE(after.Succeeded()) << after.err;
  EXPECT_EQ(Body(after.out), "hello alpha.test secure GET / cookie=");
}

}  // namespace
}  // namespace replideploy::http
