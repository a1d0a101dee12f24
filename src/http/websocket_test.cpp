// The server's WebSocket support, driven by Beast's own client over loopback: every test runs on
// the plain HTTP listener and on the HTTPS one (Beast's client over an ssl::stream, trusting a
// test CA).
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <future>
#include <mutex>
#include <thread>

#include "core/testing.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "http/tls.hpp"
#include "http/tls_testing.hpp"

namespace replideploy::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

struct Plain {
  using Stream = websocket::stream<tcp::socket>;
};
struct Tls {
  using Stream = websocket::stream<asio::ssl::stream<tcp::socket>>;
};

// One CA and certificate for the whole suite: the openssl command is slow under sanitizers.
class TestCertificate {
 public:
  static const testing::TestPki& Get() {
    static testing::TestPki* pki = [] {
      auto* made = new testing::TestPki();
      made->Issue("alpha", {"alpha.test"}, "a1");
      return made;
    }();
    return *pki;
  }
};

template <class Transport>
class WebSocketTest : public ::testing::Test {
 protected:
  using Stream = typename Transport::Stream;
  static constexpr bool kTls = std::is_same_v<Transport, Tls>;

  void SetUp() override {
    ServerOptions options;
    options.port = 0;
    options.shutdown_grace = 30s;
    if constexpr (kTls) {
      const testing::TestPki& pki = TestCertificate::Get();
      auto certificates = std::make_shared<CertificateStore>(TlsOptions{});
      FileCertificateSource source({{pki.Path("alpha.crt"), pki.Path("alpha.key")}}, {});
      ASSERT_TRUE(certificates->Reload(source).ok());
      options.tls = TlsListenerOptions{};
      options.tls->port = 0;
      options.tls->certificates = std::move(certificates);
      client_tls_.load_verify_file(pki.ca());
      client_tls_.set_verify_mode(asio::ssl::verify_peer);
    }
    server_ = std::make_unique<Server>(options, [this](const Request&) {
      return Dispatch{[this](Request& r) { return handler_(r); }, kDefaultBodyLimit, {}, {}};
    });
    ASSERT_TRUE(server_->Listen().ok());
    server_->Start();
  }
  void TearDown() override { server_->Stop(); }

  // A connected client that completed the handshake offering `protocols`.
  std::unique_ptr<Stream> Connect(const std::string& protocols, std::string* chosen = nullptr,
                                  beast::http::status* status = nullptr) {
    std::unique_ptr<Stream> ws;
    std::string host = "127.0.0.1";
    if constexpr (kTls) {
      host = "alpha.test";
      ws = std::make_unique<Stream>(io_, client_tls_);
      beast::get_lowest_layer(*ws).connect(
          {asio::ip::make_address("127.0.0.1"), server_->tls_port()});
      auto& tls = ws->next_layer();
      SSL_set_tlsext_host_name(tls.native_handle(), host.c_str());
      tls.set_verify_callback(asio::ssl::host_name_verification(host));
      beast::error_code ec;
      tls.handshake(asio::ssl::stream_base::client, ec);
      if (ec) return nullptr;
    } else {
      ws = std::make_unique<Stream>(io_);
      ws->next_layer().connect({asio::ip::make_address("127.0.0.1"), server_->port()});
    }
    ws->set_option(websocket::stream_base::decorator([protocols](websocket::request_type& req) {
      if (!protocols.empty()) req.set(beast::http::field::sec_websocket_protocol, protocols);
    }));
    websocket::response_type response;
    beast::error_code ec;
    ws->handshake(response, host, "/stream", ec);
    if (status != nullptr) *status = response.result();
    if (ec) return nullptr;
    if (chosen != nullptr) {
      *chosen = std::string(response[beast::http::field::sec_websocket_protocol]);
    }
    return ws;
  }

  static std::string Read(Stream& ws, beast::error_code& ec) {
    beast::flat_buffer buffer;
    ws.read(buffer, ec);
    return beast::buffers_to_string(buffer.data());
  }

  asio::io_context io_;
  asio::ssl::context client_tls_{asio::ssl::context::tls_client};
  std::function<Response(Request&)> handler_;
  std::unique_ptr<Server> server_;
};

using Transports = ::testing::Types<Plain, Tls>;
class TransportNames {
 public:
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, Tls> ? "Tls" : "Plain";
  }
};
TYPED_TEST_SUITE(WebSocketTest, Transports, TransportNames);

TYPED_TEST(WebSocketTest, HandshakeChoosesProtocolThenMessagesFlowBothWays) {
  std::vector<std::string> offered;
  std::promise<std::shared_ptr<WebSocket>> opened;
  this->handler_ = [&](Request& r) {
    offered = WebSocketProtocols(r);
    Response response;
    response.websocket = std::make_shared<WebSocketAccept>();
    response.websocket->protocol = "replideploy.log.v1";
    response.websocket->on_open = [&](std::shared_ptr<WebSocket> ws) {
      ws->SendText("hello");
      opened.set_value(ws);
    };
    response.websocket->on_message = [](std::string_view) {};
    return response;
  };
  std::string chosen;
  auto ws = this->Connect("replideploy.log.v1, bearer.abc", &chosen);
  ASSERT_NE(ws, nullptr);
  EXPECT_EQ(chosen, "replideploy.log.v1");
  EXPECT_EQ(offered, (std::vector<std::string>{"replideploy.log.v1", "bearer.abc"}));
  beast::error_code ec;
  EXPECT_EQ(this->Read(*ws, ec), "hello");
  ASSERT_FALSE(ec) << ec.message();

  auto server_side = opened.get_future().get();
  for (int i = 0; i < 1000; ++i) server_side->SendText("m" + std::to_string(i));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(this->Read(*ws, ec), "m" + std::to_string(i));
    ASSERT_FALSE(ec) << ec.message();
  }
  server_side->Close(4404, "gone");
  this->Read(*ws, ec);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(ws->reason().code, 4404);
  EXPECT_EQ(std::string(ws->reason().reason.c_str()), "gone");
  EXPECT_FALSE(server_side->IsOpen());
  EXPECT_EQ(server_side->QueuedBytes(), 0u);
}

TYPED_TEST(WebSocketTest, ClientMessagesReachTheHandlerAndClientCloseIsSeen) {
  std::mutex mu;
  std::vector<std::string> received;
  std::promise<std::shared_ptr<WebSocket>> opened;
  this->handler_ = [&](Request&) {
    Response response;
    response.websocket = std::make_shared<WebSocketAccept>();
    response.websocket->on_open = [&](std::shared_ptr<WebSocket> ws) { opened.set_value(ws); };
    response.websocket->on_message = [&](std::string_view m) {
      std::lock_guard lock(mu);
      received.emplace_back(m);
    };
    return response;
  };
  auto ws = this->Connect("");
  ASSERT_NE(ws, nullptr);
  auto server_side = opened.get_future().get();
  ws->write(asio::buffer(std::string("one")));
  ws->write(asio::buffer(std::string("two")));
  // The server answers the close (over TLS with a close_notify, which the client waits for).
  beast::error_code ec;
  ws->close(websocket::close_code::normal, ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(core::testing::WaitUntil([&] { return !server_side->IsOpen(); }))
      << "the server never saw the client's close";
  std::lock_guard lock(mu);
  EXPECT_EQ(received, (std::vector<std::string>{"one", "two"}));
  // Sending after the close is ignored, not a crash.
  server_side->SendText("late");
}

TYPED_TEST(WebSocketTest, OversizeClientMessageClosesWith1009) {
  this->handler_ = [&](Request&) {
    Response response;
    response.websocket = std::make_shared<WebSocketAccept>();
    return response;
  };
  auto ws = this->Connect("");
  ASSERT_NE(ws, nullptr);
  beast::error_code ec;
  ws->write(asio::buffer(std::string(70 * 1024, 'x')), ec);  // fits the socket buffers
  ASSERT_FALSE(ec) << ec.message();
  this->Read(*ws, ec);
  // The close frame arrived (its code is kept); answering it may meet a socket the server has
  // already closed, so the read ends with "closed" or a broken pipe.
  EXPECT_TRUE(ec);
  EXPECT_EQ(ws->reason().code, websocket::close_code::too_big);
}

TYPED_TEST(WebSocketTest, PlainRequestToAWebSocketRouteGetsTheHandlersResponse) {
  this->handler_ = [&](Request&) {
    Response response = Response::Error(426, "upgrade_required", "use a WebSocket");
    response.websocket = std::make_shared<WebSocketAccept>();
    return response;
  };
  ClientRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(this->server_->port()) + "/stream";
  auto response = Fetch(request);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 426);
  EXPECT_NE(response->body.find("upgrade_required"), std::string::npos);
}

TYPED_TEST(WebSocketTest, RefusedHandshakeIsAnOrdinaryHttpAnswer) {
  this->handler_ = [&](Request&) { return Response::Error(401, "unauthenticated", "no"); };
  beast::http::status status{};
  auto ws = this->Connect("", nullptr, &status);
  EXPECT_EQ(ws, nullptr);
  EXPECT_EQ(status, beast::http::status::unauthorized);
}

TYPED_TEST(WebSocketTest, StopClosesOpenWebSocketsWith1001) {
  std::promise<void> opened;
  this->handler_ = [&](Request&) {
    Response response;
    response.websocket = std::make_shared<WebSocketAccept>();
    response.websocket->on_open = [&](std::shared_ptr<WebSocket>) { opened.set_value(); };
    return response;
  };
  auto ws = this->Connect("");
  ASSERT_NE(ws, nullptr);
  opened.get_future().wait();
  std::thread stopper([this] { this->server_->Stop(); });
  beast::error_code ec;
  this->Read(*ws, ec);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(ws->reason().code, websocket::close_code::going_away);
  stopper.join();
}

// Stopping while a message is being written (the client is not reading, the socket's buffers
// are full): the message in flight is finished whole, what waits behind it is dropped, and the
// close follows. The message being written must not be freed under its write.
TYPED_TEST(WebSocketTest, StopWhileAMessageIsWrittenFinishesItThenCloses) {
  constexpr int kMessages = 400;  // 24 MB: more than loopback's socket buffers hold
  const auto payload = [](int i) { return std::string(60'000, static_cast<char>('a' + i % 26)); };
  std::promise<void> opened;
  this->handler_ = [&](Request&) {
    Response response;
    response.websocket = std::make_shared<WebSocketAccept>();
    response.websocket->on_open = [&](const std::shared_ptr<WebSocket>& ws) {
      for (int i = 0; i < kMessages; ++i) ws->SendText(payload(i));
      opened.set_value();
    };
    return response;
  };
  auto ws = this->Connect("");
  ASSERT_NE(ws, nullptr);
  opened.get_future().wait();
  // Stop only once the first message has arrived: writes are under way then, and with 24 MB
  // queued to a client that is not reading, one of them is in flight when the stop comes.
  // (Stopping right after on_open raced the first write over TLS: all could still be queued.)
  beast::error_code ec;
  ASSERT_EQ(this->Read(*ws, ec), payload(0));
  ASSERT_FALSE(ec) << ec.message();
  std::thread stopper([this] { this->server_->Stop(); });
  int received = 1;
  for (;;) {
    const std::string message = this->Read(*ws, ec);
    if (ec) break;
    ASSERT_EQ(message, payload(received)) << "message " << received;
    ++received;
  }
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(ws->reason().code, websocket::close_code::going_away);
  EXPECT_LT(received, kMessages) << "the messages behind the one in flight are dropped";
  stopper.join();
}

}  // namespace
}  // namespace replideploy::http
