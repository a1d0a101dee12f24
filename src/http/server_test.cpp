#include "http/server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <ctime>
#include <future>
#include <mutex>
#include <thread>

#include "core/testing.hpp"
#include "http/client.hpp"
#include "http/testing.hpp"

namespace replideploy::http {
namespace {

using namespace std::chrono_literals;

using testing::kWait;
using testing::RawConnection;
using testing::RawResponse;

bool PortAcceptsConnections(std::uint16_t port) { return RawConnection(port).IsConnected(); }

// The dispatch the api component does: route, or answer 404/405 from a tiny handler.
Dispatch RouteWith(const Router& router, const Request& head) {
  RouteMatch match = router.Match(head.method, head.path);
  Dispatch dispatch;
  switch (match.kind) {
    case RouteMatch::Kind::kFound:
      dispatch.handler = *match.handler;
      dispatch.body_limit = match.options.body_limit;
      dispatch.path_params = std::move(match.params);
      break;
    case RouteMatch::Kind::kNotFound:
      dispatch.handler = [](Request&) { return Response::Error(404, "not_found", "no route"); };
      break;
    case RouteMatch::Kind::kMethodNotAllowed:
      dispatch.handler = [](Request&) {
        return Response::Error(405, "method_not_allowed", "method not allowed");
      };
      break;
  }
  return dispatch;
}

bool IsHexId(std::string_view id) {
  return id.size() == 16 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

class ServerTest : public ::testing::Test {
 protected:
  static ServerOptions TestOptions() {
    ServerOptions options;
    options.port = 0;
    options.io_threads = 2;
    options.handler_threads = 4;
    options.shutdown_grace = kWait;
    return options;
  }

  // Two threads in each handler pool.
  static ServerOptions TestOptions2Pools() {
    ServerOptions options = TestOptions();
    options.handler_threads = 2;
    options.edge_threads = 2;
    options.slow_threads = 2;
    return options;
  }

  void StartServer(const ServerOptions& options = TestOptions()) {
    server_ = std::make_unique<Server>(
        options, [this](const Request& head) { return RouteWith(router_, head); });
    const Status listening = server_->Listen();
    ASSERT_TRUE(listening.ok()) << listening.error().message;
    ASSERT_NE(server_->port(), 0);
    server_->Start();
  }

  std::string Url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + std::string(path);
  }

  Result<ClientResponse> Call(std::string method, std::string_view path, std::string body = "") {
    ClientRequest request;
    request.method = std::move(method);
    request.url = Url(path);
    request.body = std::move(body);
    request.timeout = kWait;
    return Fetch(request);
  }

  Router router_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, GetWithPathParams) {
  router_.Add("GET", "/api/v1/sites/{site_id}/deploys/{deploy_id}", [](Request& request) {
    return Response::Json(200, "{\"site\":\"" + request.path_params.at("site_id") +
                                   "\",\"deploy\":\"" + request.path_params.at("deploy_id") +
                                   "\",\"q\":\"" + request.QueryParam("q").value_or("") + "\"}");
  });
  StartServer();
  auto response = Call("GET", "/api/v1/sites/s%20one/deploys/d2?q=a+b");
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, R"({"site":"s one","deploy":"d2","q":"a b"})");
  EXPECT_EQ(response->headers.Get("Content-Type"), "application/json; charset=utf-8");
  EXPECT_EQ(response->headers.Get("Server"), "replideploy");

  auto missing = Call("GET", "/nowhere");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
}

TEST_F(ServerTest, PostEchoesBody) {
  router_.Add("POST", "/echo", [](Request& request) {
    return Response::Text(200, request.method + ":" + request.body);
  });
  for (const char* method : {"PUT", "PATCH", "DELETE"}) {
    router_.Add(method, "/echo", [](Request& request) {
      return Response::Text(200, request.method + ":" + request.body);
    });
  }
  StartServer();
  auto posted = Call("POST", "/echo", "hello \"world\"\n");
  ASSERT_TRUE(posted.ok()) << posted.error().message;
  EXPECT_EQ(posted->status, 200);
  EXPECT_EQ(posted->body, "POST:hello \"world\"\n");
  auto put = Call("PUT", "/echo", "replaced");
  ASSERT_TRUE(put.ok()) << put.error().message;
  EXPECT_EQ(put->body, "PUT:replaced");
  auto patched = Call("PATCH", "/echo", "patch");
  ASSERT_TRUE(patched.ok()) << patched.error().message;
  EXPECT_EQ(patched->body, "PATCH:patch");
  auto deleted = Call("DELETE", "/echo", "why");
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(deleted->body, "DELETE:why");
  auto empty = Call("POST", "/echo");
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_EQ(empty->body, "POST:");
}

TEST_F(ServerTest, BodyOverLimitIs413Json) {
  std::atomic<bool> handler_ran{false};
  router_.Add(
      "POST", "/small",
      [&](Request&) {
        handler_ran = true;
        return Response::Text(200, "ok");
      },
      RouteOptions{.body_limit = 1024});
  StartServer();
  auto response = Call("POST", "/small", std::string(std::size_t{10} << 10, 'x'));
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->headers.Get("Content-Type"), "application/json; charset=utf-8");
  EXPECT_EQ(
      response->body,
      R"({"error":{"code":"payload_too_large","message":"request body exceeds 1024 bytes"}})");
  EXPECT_EQ(response->headers.Get("Connection"), "close");
  EXPECT_FALSE(handler_ran);
}

TEST_F(ServerTest, BodyOverLimitSentWithoutExpectStillGets413) {
  router_.Add(
      "POST", "/small", [](Request&) { return Response::Text(200, "ok"); },
      RouteOptions{.body_limit = 1024});
  StartServer();
  ClientRequest request;
  request.method = "POST";
  request.url = Url("/small");
  request.headers.Add("Expect", "");  // the client sends the body without asking first
  request.body = std::string(4 << 20, 'x');
  request.timeout = kWait;
  auto response = Fetch(request);
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->status, 413);
  EXPECT_NE(response->body.find("payload_too_large"), std::string::npos);
}

TEST_F(ServerTest, ChunkedBodyOverLimitIs413) {
  router_.Add(
      "POST", "/small", [](Request&) { return Response::Text(200, "ok"); },
      RouteOptions{.body_limit = 16});
  StartServer();
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.IsConnected());
  ASSERT_TRUE(
      raw.Send("POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"));
  auto response = raw.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 413);
  EXPECT_NE(response->body.find("payload_too_large"), std::string::npos);
  EXPECT_TRUE(raw.ReadsEof());
}

TEST_F(ServerTest, ExpectContinueWithTwoMegabyteBody) {
  std::mutex mu;
  std::string seen_expect;
  router_.Add(
      "POST", "/upload",
      [&](Request& request) {
        std::lock_guard lock(mu);
        seen_expect = std::string(request.Header("Expect"));
        return Response::Text(200, std::to_string(request.body.size()));
      },
      RouteOptions{.body_limit = 4 << 20});
  StartServer();
  const std::string body(2 << 20, 'b');
  auto response = Call("POST", "/upload", body);
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, std::to_string(body.size()));
  // Only the final response's headers, not the interim one's.
  EXPECT_EQ(response->headers.Get("Server"), "replideploy");
  EXPECT_EQ(response->headers.Get("Content-Length"), std::to_string(response->body.size()));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen_expect, "100-continue");
  }

  // Without curl's fallback timer: the body is sent only after the interim response.
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.IsConnected());
  ASSERT_TRUE(raw.Send(
      "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = raw.ReadResponse(/*head_only=*/true);
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(raw.Send("12345"));
  auto final_response = raw.ReadResponse();
  ASSERT_TRUE(final_response.has_value());
  EXPECT_EQ(final_response->status, 200);
  EXPECT_EQ(final_response->body, "5");
}

TEST_F(ServerTest, OversizeDeclaredBodyIsRefusedBeforeContinue) {
  router_.Add(
      "POST", "/small", [](Request&) { return Response::Text(200, "ok"); },
      RouteOptions{.body_limit = 10});
  StartServer();
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.IsConnected());
  ASSERT_TRUE(raw.Send(
      "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n"));
  auto response = raw.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 413);
}

TEST_F(ServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  router_.Add("GET", "/n/{n}", [](Request& request) {
    return Response::Text(200, "n=" + request.path_params.at("n"));
  });
  StartServer();
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.IsConnected());
  ASSERT_TRUE(raw.Send("GET /n/1 HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto first = raw.ReadResponse();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->body, "n=1");
  EXPECT_EQ(first->Header("Connection"), "keep-alive");
  ASSERT_TRUE(raw.Send("GET /n/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  auto second = raw.ReadResponse();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->body, "n=2");
  EXPECT_EQ(second->Header("Connection"), "close");
  EXPECT_TRUE(raw.ReadsEof());
}

// The Request is reused from request to request on a connection: the second request sees
// nothing of the first (headers, body, query, path parameters, request id).
TEST_F(ServerTest, KeptAliveConnectionCarriesNothingOverFromThePreviousRequest) {
  router_.Add("POST", "/echo/{n}", [](Request& request) {
    std::string seen = "path=" + request.path + " n=" + request.path_params.at("n") +
                       " body=" + request.body + " query=";
    for (const auto& [key, value] : request.query) seen += key + "=" + value + ";";
    seen += " headers=";
    for (const auto& [name, value] : request.headers.All()) seen += name + ";";
    seen += " id=" + request.request_id;
    return Response::Text(200, seen);
  });
  StartServer();
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.IsConnected());
  ASSERT_TRUE(
      raw.Send("POST /echo/1?q=1&r=2 HTTP/1.1\r\nHost: x\r\nX-First: yes\r\n"
               "X-Request-Id: first-request\r\nContent-Length: 5\r\n\r\nhello"));
  auto first = raw.ReadResponse();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->body,
            "path=/echo/1 n=1 body=hello query=q=1;r=2; "
            "headers=Host;X-First;X-Request-Id;Content-Length; id=first-request");
  ASSERT_TRUE(raw.Send("POST /echo/2 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
  auto second = raw.ReadResponse();
  ASSERT_TRUE(second.has_value());
  const std::string id(second->Header("X-Request-Id"));
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(second->body, "path=/echo/2 n=2 body= query= headers=Host;Content-Length; id=" + id);
}

// A handler that answers with "Connection: close" gets the connection closed after that answer,
// as the header says, instead of a next request read on it.
TEST_F(ServerTest, HandlersConnectionCloseEndsTheConnection) {
  router_.Add("GET", "/bye", [](Request&) {
    Response response = Response::Text(200, "bye");
    response.headers.Set("Connection", "close");
    return response;
  });
  router_.Add("GET", "/stay", [](Request&) { return Response::Text(200, "stay"); });
  StartServer();
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.IsConnected());
  ASSERT_TRUE(raw.Send("GET /stay HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto stay = raw.ReadResponse();
  ASSERT_TRUE(stay.has_value());
  EXPECT_EQ(stay->Header("Connection"), "keep-alive");
  ASSERT_TRUE(raw.Send("GET /bye HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto bye = raw.ReadResponse();
  ASSERT_TRUE(bye.has_value());
  EXPECT_EQ(bye->body, "bye");
  EXPECT_EQ(bye->Header("Connection"), "close");
  EXPECT_TRUE(raw.ReadsEof()) << "the server closes after the answer";
}

// Every answer has a Date (rendered once a second): an IMF-fixdate of now, which moves on with
// the clock; a handler's own Date is sent instead of ours.
TEST_F(ServerTest, AnswersCarryTheCurrentDate) {
  router_.Add("GET", "/", [](Request&) { return Response::Text(200, "ok"); });
  router_.Add("GET", "/own", [](Request&) {
    Response r = Response::Text(200, "ok");
    r.headers.Set("Date", "Fri, 24 May 2013 00:00:00 GMT");
    return r;
  });
  StartServer();
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.IsConnected());
  const auto date_now = [&] {
    EXPECT_TRUE(raw.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto answer = raw.ReadResponse();
    return answer ? std::string(answer->Header("Date")) : std::string();
  };
  const std::string first = date_now();
  std::tm parsed{};
  // RawResponse lower-cases the head.
  const char* end = strptime(first.c_str(), "%a, %d %b %Y %H:%M:%S gmt", &parsed);
  ASSERT_NE(end, nullptr) << first;
  EXPECT_EQ(*end, '\0') << first;
  const std::time_t sent = timegm(&parsed);
  const std::time_t now = std::time(nullptr);
  EXPECT_LE(sent, now);
  EXPECT_GE(sent, now - 5);
  EXPECT_TRUE(core::testing::WaitUntil([&] { return date_now() != first; }))
      << "the Date moves on with the clock";

  ASSERT_TRUE(raw.Send("GET /own HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto own = raw.ReadResponse();
  ASSERT_TRUE(own.has_value());
  EXPECT_EQ(own->Header("Date"), "fri, 24 may 2013 00:00:00 gmt");
  const std::size_t date = own->head.find("\r\ndate:");
  EXPECT_EQ(own->head.find("\r\ndate:", date + 1), std::string::npos) << own->head;
}

// An answer larger than the socket takes at once: the part the direct write leaves goes out
// asynchronously, in order, and the connection serves the next request.
TEST_F(ServerTest, LargeInMemoryBodyArrivesWholeAndKeepsTheConnection) {
  std::string big(std::size_t{8} << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 23);
  router_.Add("GET", "/big", [&big](Request&) { return Response::Text(200, big); });
  router_.Add("GET", "/small", [](Request&) { return Response::Text(200, "small"); });
  StartServer();
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.IsConnected());
  ASSERT_TRUE(raw.Send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto first = raw.ReadResponse();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 200);
  EXPECT_TRUE(first->body == big) << "body of " << first->body.size() << " bytes differs";
  ASSERT_TRUE(raw.Send("GET /small HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto second = raw.ReadResponse();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->body, "small");
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  router_.Add("GET", "/n/{n}",
              [](Request& request) { return Response::Text(200, request.path_params.at("n")); });
  StartServer();
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.IsConnected());
  ASSERT_TRUE(raw.Send("GET /n/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /n/2 HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto first = raw.ReadResponse();
  auto second = raw.ReadResponse();
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(first->body, "1");
  EXPECT_EQ(second->body, "2");
}

// The head is parsed from what the connection has buffered; one that arrives in pieces is read
// on until it is whole, also when its first piece came behind a pipelined request.
TEST_F(ServerTest, HeadSplitAcrossReadsIsServed) {
  router_.Add("GET", "/n/{n}", [](Request& request) {
    return Response::Text(
        200, request.path_params.at("n") + " " + std::string(request.headers.Get("X-Tail")));
  });
  StartServer();
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.IsConnected());
  const auto answers_nothing_yet = [&raw] {
    pollfd readable{raw.fd(), POLLIN, 0};
    return ::poll(&readable, 1, 50) == 0;
  };
  ASSERT_TRUE(raw.Send("GET /n/1 HTTP/1.1\r\nHo"));
  EXPECT_TRUE(answers_nothing_yet());
  ASSERT_TRUE(raw.Send("st: x\r\nX-Tail: t1\r"));
  EXPECT_TRUE(answers_nothing_yet());
  ASSERT_TRUE(raw.Send("\n\r\nGET /n/2 HTTP/1.1\r\nHost: x\r\nX-Ta"));
  auto first = raw.ReadResponse();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->body, "1 t1");
  ASSERT_TRUE(raw.Send("il: t2\r\n\r\n"));
  auto second = raw.ReadResponse();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->body, "2 t2");
}

// A request with a body, then one without, in one write: the body is read to its end and the
// next head starts right after it.
TEST_F(ServerTest, PipelinedRequestAfterABodyIsServed) {
  router_.Add("POST", "/echo",
              [](Request& request) { return Response::Text(200, "body=" + request.body); });
  router_.Add("GET", "/echo",
              [](Request& request) { return Response::Text(200, "get body=" + request.body); });
  StartServer();
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.IsConnected());
  ASSERT_TRUE(
      raw.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
               "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
               "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto chunked = raw.ReadResponse();
  auto sized = raw.ReadResponse();
  auto get = raw.ReadResponse();
  ASSERT_TRUE(chunked.has_value() && sized.has_value() && get.has_value());
  EXPECT_EQ(chunked->body, "body=hello world");
  EXPECT_EQ(sized->body, "body=abc");
  EXPECT_EQ(get->body, "get body=");
}

// A head that grows past the limit over several reads is refused as one that came whole.
TEST_F(ServerTest, OversizeHeaderArrivingInPiecesIs431) {
  ServerOptions options = TestOptions();
  options.max_header_bytes = 1024;
  StartServer(options);
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.Send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: "));
  bool answered = false;
  for (int piece = 0; piece < 64 && !answered; ++piece) {
    if (!raw.Send(std::string(100, 'h'))) break;
    pollfd readable{raw.fd(), POLLIN, 0};
    answered = ::poll(&readable, 1, 10) > 0;
  }
  auto response = raw.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 431);
  EXPECT_NE(response->body.find("headers_too_large"), std::string::npos);
}

// A head cut short by the client's end of stream gets no answer; the connection just closes.
TEST_F(ServerTest, HeadCutShortByTheClientClosesWithoutAnAnswer) {
  router_.Add("GET", "/", [](Request&) { return Response::Text(200, "root"); });
  StartServer();
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHo"));
  auto first = raw.ReadResponse();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->body, "root");
  ASSERT_EQ(::shutdown(raw.fd(), SHUT_WR), 0);
  EXPECT_TRUE(raw.ReadsEof());
  EXPECT_EQ(raw.Pending(), "");
}

TEST_F(ServerTest, Http10ClosesByDefault) {
  router_.Add("GET", "/", [](Request&) { return Response::Text(200, "root"); });
  StartServer();
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.Send("GET / HTTP/1.0\r\n\r\n"));
  auto response = raw.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->head.substr(0, 8), "http/1.0");
  EXPECT_EQ(response->body, "root");
  EXPECT_TRUE(raw.ReadsEof());
}

TEST_F(ServerTest, RequestIdIsEchoedOrGenerated) {
  std::mutex mu;
  std::vector<std::string> seen;
  router_.Add("GET", "/id", [&](Request& request) {
    std::lock_guard lock(mu);
    seen.push_back(request.request_id);
    return Response::Text(200, request.request_id);
  });
  StartServer();
  ClientRequest request;
  request.url = Url("/id");
  request.timeout = kWait;
  request.headers.Add("X-Request-Id", "client-abc_1.2");
  auto echoed = Fetch(request);
  ASSERT_TRUE(echoed.ok()) << echoed.error().message;
  EXPECT_EQ(echoed->headers.Get("X-Request-Id"), "client-abc_1.2");
  EXPECT_EQ(echoed->body, "client-abc_1.2");

  auto generated = Call("GET", "/id");
  ASSERT_TRUE(generated.ok());
  EXPECT_TRUE(IsHexId(generated->headers.Get("X-Request-Id")))
      << generated->headers.Get("X-Request-Id");
  EXPECT_EQ(generated->body, generated->headers.Get("X-Request-Id"));

  for (const std::string& bad :
       {std::string("has space"), std::string(65, 'a'), std::string("a/b")}) {
    request.headers.Set("X-Request-Id", bad);
    auto replaced = Fetch(request);
    ASSERT_TRUE(replaced.ok());
    EXPECT_TRUE(IsHexId(replaced->headers.Get("X-Request-Id"))) << bad;
  }
  std::lock_guard lock(mu);
  EXPECT_EQ(seen.size(), 5u);
}

TEST_F(ServerTest, HandlerExceptionIs500AndServerGoesOn) {
  router_.Add("GET", "/boom", [](Request&) -> Response { throw std::runtime_error("secret"); });
  router_.Add("GET", "/ok", [](Request&) { return Response::Text(200, "fine"); });
  StartServer();
  auto failed = Call("GET", "/boom");
  ASSERT_TRUE(failed.ok()) << failed.error().message;
  EXPECT_EQ(failed->status, 500);
  EXPECT_EQ(failed->body, R"({"error":{"code":"internal","message":"internal server error"}})");
  auto next = Call("GET", "/ok");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->body, "fine");
}

TEST_F(ServerTest, ResponseHeadersCannotBreakFraming) {
  router_.Add("GET", "/h", [](Request&) {
    Response response = Response::Text(200, "body");
    response.headers.Add("X-Fine", "yes");
    response.headers.Add("X-Injected", "a\r\nSet-Cookie: evil=1");
    response.headers.Add("Bad Name", "v");
    response.headers.Add("Content-Length", "999");
    return response;
  });
  StartServer();
  auto response = Call("GET", "/h");
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->body, "body");
  EXPECT_EQ(response->headers.Get("X-Fine"), "yes");
  EXPECT_FALSE(response->headers.Has("X-Injected"));
  EXPECT_FALSE(response->headers.Has("Set-Cookie"));
  EXPECT_FALSE(response->headers.Has("Bad Name"));
  EXPECT_EQ(response->headers.Get("Content-Length"), "4");
}

TEST_F(ServerTest, HandlerRunsOffTheIoThread) {
  std::mutex mu;
  std::thread::id resolver_thread;
  std::thread::id handler_thread;
  Handler handler = [&](Request&) {
    std::lock_guard lock(mu);
    handler_thread = std::this_thread::get_id();
    return Response::Text(200, "ok");
  };
  server_ = std::make_unique<Server>(TestOptions(), [&](const Request&) {
    std::lock_guard lock(mu);
    resolver_thread = std::this_thread::get_id();
    return Dispatch{.handler = handler};
  });
  ASSERT_TRUE(server_->Listen().ok());
  server_->Start();
  auto response = Call("GET", "/");
  ASSERT_TRUE(response.ok()) << response.error().message;
  std::lock_guard lock(mu);
  EXPECT_NE(resolver_thread, std::thread::id());
  EXPECT_NE(handler_thread, std::thread::id());
  EXPECT_NE(resolver_thread, handler_thread);
  EXPECT_NE(handler_thread, std::this_thread::get_id());
}

TEST_F(ServerTest, MalformedRequestLineIs400) {
  StartServer();
  for (std::string garbage :
       {"GARBAGE\r\n\r\n", "GET /\x01 HTTP/1.1\r\n\r\n", "GET / HTTP/9\r\n\r\n"}) {
    RawConnection raw(server_->port());
    ASSERT_TRUE(raw.IsConnected());
    ASSERT_TRUE(raw.Send(garbage));
    auto response = raw.ReadResponse();
    ASSERT_TRUE(response.has_value()) << garbage;
    EXPECT_EQ(response->status, 400) << garbage;
    EXPECT_NE(response->body.find("\"bad_request\""), std::string::npos);
    EXPECT_EQ(response->Header("Connection"), "close");
    EXPECT_TRUE(raw.ReadsEof());
  }
}

TEST_F(ServerTest, BadPercentEncodingInPathIs400) {
  router_.Add("GET", "/{any}", [](Request&) { return Response::Text(200, "ok"); });
  StartServer();
  for (std::string_view path : {"/a%zz", "/a%00b"}) {
    auto response = Call("GET", path);
    ASSERT_TRUE(response.ok()) << response.error().message;
    EXPECT_EQ(response->status, 400) << path;
    EXPECT_NE(response->body.find("bad_request"), std::string::npos);
  }
}

TEST_F(ServerTest, OversizeHeaderIs431) {
  ServerOptions options = TestOptions();
  options.max_header_bytes = 1024;
  StartServer(options);
  RawConnection raw(server_->port());
  ASSERT_TRUE(
      raw.Send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2048, 'h') + "\r\n\r\n"));
  auto response = raw.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 431);
}

TEST_F(ServerTest, IncompleteRequestTimesOutWith408) {
  ServerOptions options = TestOptions();
  options.header_timeout = 300ms;
  StartServer(options);
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.Send("GET / HTTP/1.1\r\nHost: x\r\n"));
  auto response = raw.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 408);
  EXPECT_TRUE(raw.ReadsEof());

  // Nothing sent at all: closed without an answer.
  RawConnection silent(server_->port());
  EXPECT_TRUE(silent.ReadsEof());
  EXPECT_EQ(silent.Pending(), "");
}

TEST_F(ServerTest, HeadHasNoBody) {
  router_.Add("GET", "/file", [](Request&) { return Response::Text(200, "12345"); });
  StartServer();
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.Send("HEAD /file HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto head = raw.ReadResponse(/*head_only=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("Content-Length"), "5");
  // A stray body would show up in front of the next response.
  ASSERT_TRUE(raw.Send("GET /file HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto get = raw.ReadResponse();
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "12345");

  auto fetched = Call("HEAD", "/file");
  ASSERT_TRUE(fetched.ok()) << fetched.error().message;
  EXPECT_EQ(fetched->status, 200);
  EXPECT_EQ(fetched->body, "");
  EXPECT_EQ(fetched->headers.Get("Content-Length"), "5");
}

// A file body goes out as the bytes of its slice, HEAD gets only its length, and the connection
// serves the next request afterwards.
TEST_F(ServerTest, FileBodySendsItsSliceAndKeepsTheConnection) {
  char path[] = "/tmp/rd-file-body-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string content(std::size_t{3} << 20, '\0');
  for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>('a' + i % 23);
  ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ::close(fd);
  const auto file_response = [&](std::uint64_t offset, std::uint64_t length) {
    auto file = std::make_shared<FileBody>();
    file->fd = core::UniqueFd(::open(path, O_RDONLY | O_CLOEXEC));
    file->offset = offset;
    file->length = length;
    Response response;
    response.file_body = std::move(file);
    return response;
  };
  router_.Add("GET", "/whole", [&](Request&) { return file_response(0, content.size()); });
  router_.Add("HEAD", "/whole", [&](Request&) { return file_response(0, content.size()); });
  router_.Add("GET", "/slice", [&](Request&) { return file_response(1000, 5000); });
  StartServer();
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.Send("GET /whole HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto whole = raw.ReadResponse();
  ASSERT_TRUE(whole.has_value());
  EXPECT_EQ(whole->status, 200);
  EXPECT_TRUE(whole->body == content) << "got " << whole->body.size() << " bytes";
  ASSERT_TRUE(raw.Send("HEAD /whole HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto head = raw.ReadResponse(/*head_only=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->Header("Content-Length"), std::to_string(content.size()));
  ASSERT_TRUE(raw.Send("GET /slice HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto slice = raw.ReadResponse();
  ASSERT_TRUE(slice.has_value());
  EXPECT_EQ(slice->body, content.substr(1000, 5000));
  ::unlink(path);
}

// Finding: a client that went away during a file body killed the whole server. sendfile(2) has no
// MSG_NOSIGNAL: writing to a connection the peer has reset raised SIGPIPE, whose default ends the
// process (wrk closing its connections at the end of a run did it). Clients that reset their
// connection mid-body, or close it after a few reads, leave the server serving.
TEST_F(ServerTest, AClientGoneDuringAFileBodyLeavesTheServerServing) {
  ::signal(SIGPIPE, SIG_DFL);  // as in a process that never set it (other tests may have)
  char path[] = "/tmp/rd-file-gone-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string chunk(std::size_t{1} << 20, 'x');
  for (int i = 0; i < 32; ++i) {
    ASSERT_EQ(::write(fd, chunk.data(), chunk.size()), static_cast<ssize_t>(chunk.size()));
  }
  ::close(fd);
  router_.Add("GET", "/big", [&](Request&) {
    auto file = std::make_shared<FileBody>();
    file->fd = core::UniqueFd(::open(path, O_RDONLY | O_CLOEXEC));
    file->length = std::uint64_t{32} << 20;
    Response response;
    response.file_body = std::move(file);
    return response;
  });
  router_.Add("GET", "/small", [](Request&) { return Response::Text(200, "still here"); });
  StartServer();
  for (int round = 0; round < 6; ++round) {
    RawConnection gone(server_->port());
    ASSERT_TRUE(gone.Send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
    char some[4096];
    ASSERT_GT(::recv(gone.fd(), some, sizeof some, 0), 0);
    if (round % 2 == 0) {
      // A reset at once (unread bytes, no linger).
      const linger reset{1, 0};
      ::setsockopt(gone.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    } else {
      ::shutdown(gone.fd(), SHUT_WR);  // an orderly close while the body still comes
    }
  }
  // Each was closed at the end of its round; the server wrote on into some of them.
  EXPECT_TRUE(core::testing::WaitUntil([&] {
    RawConnection again(server_->port());
    auto answer =
        again.Send("GET /small HTTP/1.1\r\nHost: x\r\n\r\n") ? again.ReadResponse() : std::nullopt;
    return answer && answer->status == 200 && answer->body == "still here";
  }));
  ::unlink(path);
}

// Finding: there was no cap on connections. One over the total is answered 503 (Retry-After,
// the JSON error shape) and closed; once one closes, a new one is served again.
TEST_F(ServerTest, ConnectionsOverTheTotalLimitAre503AndClosed) {
  router_.Add("GET", "/", [](Request&) { return Response::Text(200, "root"); });
  ServerOptions options = TestOptions();
  options.max_connections = 2;
  StartServer(options);
  auto first = std::make_unique<RawConnection>(server_->port());
  RawConnection second(server_->port());
  for (RawConnection* held : {first.get(), &second}) {
    ASSERT_TRUE(held->Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto served = held->ReadResponse();
    ASSERT_TRUE(served.has_value());
    ASSERT_EQ(served->status, 200);
  }
  RawConnection third(server_->port());
  ASSERT_TRUE(third.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto refused = third.ReadResponse();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->Header("Retry-After"), "1");
  EXPECT_NE(refused->body.find(R"({"error":{"code":"server_busy","message":")"), std::string::npos)
      << refused->body;
  EXPECT_TRUE(third.ReadsEof());

  first.reset();
  // The server notices the close on its own time: a new connection is served once it has.
  EXPECT_TRUE(core::testing::WaitUntil([&] {
    RawConnection again(server_->port());
    auto answer =
        again.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n") ? again.ReadResponse() : std::nullopt;
    return answer && answer->status == 200;
  }));
}

// One client address may hold only so many connections (429); another address is unaffected.
TEST_F(ServerTest, ConnectionsOverThePerClientLimitAre429) {
  router_.Add("GET", "/", [](Request&) { return Response::Text(200, "root"); });
  ServerOptions options = TestOptions();
  options.max_connections_per_client = 2;
  StartServer(options);
  RawConnection first(server_->port());
  RawConnection second(server_->port());
  for (RawConnection* held : {&first, &second}) {
    ASSERT_TRUE(held->Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto served = held->ReadResponse();
    ASSERT_TRUE(served.has_value());
    ASSERT_EQ(served->status, 200);
  }
  RawConnection third(server_->port());
  ASSERT_TRUE(third.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto refused = third.ReadResponse();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 429);
  EXPECT_NE(refused->body.find(R"({"error":{"code":"too_many_connections","message":")"),
            std::string::npos)
      << refused->body;
  EXPECT_TRUE(third.ReadsEof());

  RawConnection other_client(server_->port(), "127.0.0.2");
  ASSERT_TRUE(other_client.IsConnected());
  ASSERT_TRUE(other_client.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto served = other_client.ReadResponse();
  ASSERT_TRUE(served.has_value());
  EXPECT_EQ(served->status, 200);
}

// Finding: one timeout covered the head and the body. A client that sends its head a byte at a
// time (slowloris) is cut by the header timeout however long the body timeout is.
TEST_F(ServerTest, SlowlorisHeadIsCutByTheHeaderTimeout) {
  router_.Add("GET", "/", [](Request&) { return Response::Text(200, "root"); });
  ServerOptions options = TestOptions();
  options.header_timeout = 1s;
  options.read_timeout = 10min;
  StartServer(options);
  RawConnection slow(server_->port());
  ASSERT_TRUE(slow.Send("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "));
  // One more header byte every 50 ms, until the server answers or closes; the bound only stops
  // a broken test.
  const auto give_up = std::chrono::steady_clock::now() + 60s;
  bool answered = false;
  while (!answered && std::chrono::steady_clock::now() < give_up) {
    if (!slow.Send("a")) break;
    pollfd readable{slow.fd(), POLLIN, 0};
    answered = ::poll(&readable, 1, 50) > 0;
  }
  ASSERT_TRUE(answered) << "the server still waited for the head after 60 s";
  auto response = slow.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 408);
  EXPECT_TRUE(slow.ReadsEof());
}

// A keep-alive connection left idle is closed after the idle timeout.
TEST_F(ServerTest, IdleKeepAliveConnectionIsClosed) {
  router_.Add("GET", "/", [](Request&) { return Response::Text(200, "root"); });
  ServerOptions options = TestOptions();
  options.idle_timeout = 200ms;
  StartServer(options);
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(raw.ReadResponse().has_value());
  EXPECT_TRUE(raw.ReadsEof());
  EXPECT_EQ(raw.Pending(), "");
}

// Finding: every handler shared one pool, so slow ones (git, other origins) stalled the rest.
// With the slow pool full and more slow requests queued, the API and edge pools still answer.
TEST_F(ServerTest, SlowHandlersCannotStarveTheOtherPools) {
  std::mutex mu;
  std::condition_variable cv;
  int slow_running = 0;
  bool release = false;
  server_ = std::make_unique<Server>(TestOptions2Pools(), [&](const Request& head) {
    Dispatch dispatch;
    if (head.path == "/slow") {
      dispatch.pool = Pool::kSlow;
      dispatch.handler = [&](Request&) {
        std::unique_lock lock(mu);
        ++slow_running;
        cv.notify_all();
        cv.wait(lock, [&] { return release; });
        return Response::Text(200, "slow");
      };
    } else {
      dispatch.pool = head.path == "/edge" ? Pool::kEdge : Pool::kApi;
      dispatch.handler = [path = head.path](Request&) { return Response::Text(200, path); };
    }
    return dispatch;
  });
  ASSERT_TRUE(server_->Listen().ok());
  server_->Start();
  std::vector<std::future<Result<ClientResponse>>> slow;
  for (int i = 0; i < 4; ++i)
    slow.push_back(std::async(std::launch::async, [&] { return Call("GET", "/slow"); }));
  const auto release_all = [&] {
    std::lock_guard lock(mu);
    release = true;
    cv.notify_all();
  };
  {
    std::unique_lock lock(mu);
    const bool full = cv.wait_for(lock, kWait, [&] { return slow_running >= 2; });
    if (!full) {
      lock.unlock();
      release_all();
      FAIL() << "the slow handlers never ran";
    }
  }
  for (const char* path : {"/api", "/edge"}) {
    auto answer = Call("GET", path);
    EXPECT_TRUE(answer.ok() && answer->status == 200 && answer->body == path)
        << path << ": " << (answer.ok() ? answer->body : answer.error().message);
  }
  release_all();
  for (auto& f : slow) {
    auto done = f.get();
    EXPECT_TRUE(done.ok() && done->body == "slow");
  }
}

TEST_F(ServerTest, StopLetsASlowHandlerFinish) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  router_.Add("GET", "/slow", [&](Request&) {
    entered.set_value();
    released.wait();
    return Response::Text(200, "done");
  });
  StartServer();
  const std::uint16_t port = server_->port();

  Result<ClientResponse> result = MakeError(ErrorCode::kInternal, "not run");
  std::thread client([&] { result = Call("GET", "/slow"); });
  const bool handler_started = entered.get_future().wait_for(kWait) == std::future_status::ready;
  std::thread stopper([&] { server_->Stop(); });
  // Once the listener is gone, Stop() is certainly under way.
  bool listener_closed = false;
  for (auto deadline = std::chrono::steady_clock::now() + kWait;
       std::chrono::steady_clock::now() < deadline;) {
    if (!PortAcceptsConnections(port)) {
      listener_closed = true;
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  release.set_value();
  client.join();
  stopper.join();

  EXPECT_TRUE(handler_started);
  EXPECT_TRUE(listener_closed);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, "done");
  EXPECT_EQ(result->headers.Get("Connection"), "close");
}

TEST_F(ServerTest, StopCutsRequestsStillRunningAfterTheGracePeriod) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  router_.Add("GET", "/stuck", [&](Request&) {
    entered.set_value();
    released.wait();
    return Response::Text(200, "too late");
  });
  ServerOptions options = TestOptions();
  options.shutdown_grace = 100ms;
  StartServer(options);

  Result<ClientResponse> result = MakeError(ErrorCode::kInternal, "not run");
  std::thread client([&] { result = Call("GET", "/stuck"); });
  const bool handler_started = entered.get_future().wait_for(kWait) == std::future_status::ready;
  std::thread stopper([&] { server_->Stop(); });
  client.join();  // the cut connection ends the client's wait
  release.set_value();
  stopper.join();  // Stop() returns once the handler has returned

  EXPECT_TRUE(handler_started);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
}

TEST_F(ServerTest, RunUntilSignalStopsOnSigterm) {
  router_.Add("GET", "/", [](Request&) { return Response::Text(200, "root"); });
  server_ = std::make_unique<Server>(
      TestOptions(), [this](const Request& head) { return RouteWith(router_, head); });
  ASSERT_TRUE(server_->Listen().ok());
  const std::uint16_t port = server_->port();
  std::thread runner([&] { server_->RunUntilSignal(); });
  // Signal only once the server's handler is installed; the default action would end the test.
  bool installed = false;
  for (auto deadline = std::chrono::steady_clock::now() + kWait;
       std::chrono::steady_clock::now() < deadline;) {
    struct sigaction current {};
    ::sigaction(SIGTERM, nullptr, &current);
    if (current.sa_handler != SIG_DFL) {
      installed = true;
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  if (installed) {
    auto response = Call("GET", "/");
    EXPECT_TRUE(response.ok() && response->status == 200);
    ::kill(::getpid(), SIGTERM);
  } else {
    server_->Stop();  // lets the runner return
  }
  runner.join();
  EXPECT_TRUE(installed);
  EXPECT_FALSE(PortAcceptsConnections(port));
}

TEST_F(ServerTest, StopClosesIdleConnectionsAtOnce) {
  router_.Add("GET", "/", [](Request&) { return Response::Text(200, "root"); });
  ServerOptions options = TestOptions();
  // Longer than RawConnection's read timeout: an idle connection kept until the end of the
  // grace period would fail the test instead of passing slowly.
  options.shutdown_grace = kWait * 3;
  StartServer(options);
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(raw.ReadResponse().has_value());
  std::thread stopper([&] { server_->Stop(); });
  const bool closed = raw.ReadsEof();
  stopper.join();
  EXPECT_TRUE(closed);
  server_->Stop();  // idempotent
}

TEST_F(ServerTest, ListenFailsWhenPortIsTaken) {
  StartServer();
  ServerOptions options = TestOptions();
  options.port = server_->port();
  Server second(options, [](const Request&) { return Dispatch{}; });
  const Status status = second.Listen();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("Address already in use"), std::string::npos)
      << status.error().message;
  EXPECT_EQ(
      status.error().message.rfind("cannot listen on 127.0.0.1:" + std::to_string(options.port), 0),
      0u)
      << status.error().message;
}

TEST_F(ServerTest, ListenFailsOnUnparsableHost) {
  ServerOptions options = TestOptions();
  options.host = "no such host.invalid";
  Server server(options, [](const Request&) { return Dispatch{}; });
  const Status status = server.Listen();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message.rfind("cannot listen on no such host.invalid:0: ", 0), 0u)
      << status.error().message;
}

}  // namespace
}  // namespace replideploy::http
