// The server's WebSocket support, driven by Beast's own client over loopback.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <future>
#include <mutex>
#include <thread>

#include "core/testing.hpp"
#include "http/client.hpp"
#include "http/server.hpp"

namespace replideploy::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

class WebSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.port = 0;
    options.shutdown_grace = 30s;
    server_ = std::make_unique<Server>(options, [this](const Request&) {
      return Dispatch{[this](Request& r) { return handler_(r); }, kDefaultBodyLimit, {}, {}};
    });
    ASSERT_TRUE(server_->Listen().ok());
    server_->Start();
  }
  void TearDown() override { server_->Stop(); }

  // A connected client that completed the handshake offering `protocols`.
  std::unique_ptr<websocket::stream<tcp::socket>> Connect(const std::string& protocols,
                                                          std::string* chosen = nullptr,
                                                          beast::http::status* status = nullptr) {
    auto ws = std::make_unique<websocket::stream<tcp::socket>>(io_);
    ws->next_layer().connect({asio::ip::make_address("127.0.0.1"), server_->port()});
    ws->set_option(websocket::stream_base::decorator([protocols](websocket::request_type& req) {
      if (!protocols.empty()) req.set(beast::http::field::sec_websocket_protocol, protocols);
    }));
    websocket::response_type response;
    beast::error_code ec;
    ws->handshake(response, "127.0.0.1", "/stream", ec);
    if (status != nullptr) *status = response.result();
    if (ec) return nullptr;
    if (chosen != nullptr) {
      *chosen = std::string(response[beast::http::field::sec_websocket_protocol]);
    }
    return ws;
  }

  static std::string Read(websocket::stream<tcp::socket>& ws, beast::error_code& ec) {
    beast::flat_buffer buffer;
    ws.read(buffer, ec);
    return beast::buffers_to_string(buffer.data());
  }

  asio::io_context io_;
  std::function<Response(Request&)> handler_;
  std::unique_ptr<Server> server_;
};

TEST_F(WebSocketTest, HandshakeChoosesProtocolThenMessagesFlowBothWays) {
  std::vector<std::string> offered;
  std::promise<std::shared_ptr<WebSocket>> opened;
  handler_ = [&](Request& r) {
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
  auto ws = Connect("replideploy.log.v1, bearer.abc", &chosen);
  ASSERT_NE(ws, nullptr);
  EXPECT_EQ(chosen, "replideploy.log.v1");
  EXPECT_EQ(offered, (std::vector<std::string>{"replideploy.log.v1", "bearer.abc"}));
  beast::error_code ec;
  EXPECT_EQ(Read(*ws, ec), "hello");
  ASSERT_FALSE(ec) << ec.message();

  auto server_side = opened.get_future().get();
  for (int i = 0; i < 1000; ++i) server_side->SendText("m" + std::to_string(i));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(Read(*ws, ec), "m" + std::to_string(i));
    ASSERT_FALSE(ec) << ec.message();
  }
  server_side->Close(4404, "gone");
  Read(*ws, ec);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(ws->reason().code, 4404);
  EXPECT_EQ(std::string(ws->reason().reason.c_str()), "gone");
  EXPECT_FALSE(server_side->IsOpen());
  EXPECT_EQ(server_side->QueuedBytes(), 0u);
}

TEST_F(WebSocketTest, ClientMessagesReachTheHandlerAndClientCloseIsSeen) {
  std::mutex mu;
  std::vector<std::string> received;
  std::promise<std::shared_ptr<WebSocket>> opened;
  handler_ = [&](Request&) {
    Response response;
    response.websocket = std::make_shared<WebSocketAccept>();
    response.websocket->on_open = [&](std::shared_ptr<WebSocket> ws) { opened.set_value(ws); };
    response.websocket->on_message = [&](std::string_view m) {
      std::lock_guard lock(mu);
      received.emplace_back(m);
    };
    return response;
  };
  auto ws = Connect("");
  ASSERT_NE(ws, nullptr);
  auto server_side = opened.get_future().get();
  ws->write(asio::buffer(std::string("one")));
  ws->write(asio::buffer(std::string("two")));
  ws->close(websocket::close_code::normal);
  EXPECT_TRUE(core::testing::WaitUntil([&] { return !server_side->IsOpen(); }))
      << "the server never saw the client's close";
  std::lock_guard lock(mu);
  EXPECT_EQ(received, (std::vector<std::string>{"one", "two"}));
  // Sending after the close is ignored, not a crash.
  server_side->SendText("late");
}

TEST_F(WebSocketTest, OversizeClientMessageClosesWith1009) {
  handler_ = [&](Request&) {
    Response response;
    response.websocket = std::make_shared<WebSocketAccept>();
    return response;
  };
  auto ws = Connect("");
  ASSERT_NE(ws, nullptr);
  beast::error_code ec;
  ws->write(asio::buffer(std::string(70 * 1024, 'x')), ec);  // fits the socket buffers
  ASSERT_FALSE(ec) << ec.message();
  Read(*ws, ec);
  // The close frame arrived (its code is kept); answering it may meet a socket the server has
  // already closed, so the read ends with "closed" or a broken pipe.
  EXPECT_TRUE(ec);
  EXPECT_EQ(ws->reason().code, websocket::close_code::too_big);
}

TEST_F(WebSocketTest, PlainRequestToAWebSocketRouteGetsTheHandlersResponse) {
  handler_ = [&](Request&) {
    Response response = Response::Error(426, "upgrade_required", "use a WebSocket");
    response.websocket = std::make_shared<WebSocketAccept>();
    return response;
  };
  ClientRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/stream";
  auto response = Fetch(request);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 426);
  EXPECT_NE(response->body.find("upgrade_required"), std::string::npos);
}

TEST_F(WebSocketTest, RefusedHandshakeIsAnOrdinaryHttpAnswer) {
  handler_ = [&](Request&) { return Response::Error(401, "unauthenticated", "no"); };
  beast::http::status status{};
  auto ws = Connect("", nullptr, &status);
  EXPECT_EQ(ws, nullptr);
  EXPECT_EQ(status, beast::http::status::unauthorized);
}

TEST_F(WebSocketTest, StopClosesOpenWebSocketsWith1001) {
  std::promise<void> opened;
  handler_ = [&](Request&) {
    Response response;
    response.websocket = std::make_shared<WebSocketAccept>();
    response.websocket->on_open = [&](std::shared_ptr<WebSocket>) { opened.set_value(); };
    return response;
  };
  auto ws = Connect("");
  ASSERT_NE(ws, nullptr);
  opened.get_future().wait();
  std::thread stopper([&] { server_->Stop(); });
  beast::error_code ec;
  Read(*ws, ec);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(ws->reason().code, websocket::close_code::going_away);
  stopper.join();
}

}  // namespace
}  // namespace replideploy::http
