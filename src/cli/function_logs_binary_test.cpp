// Function logs and statistics through the real binary (issue 11, items 6 and 7): a function
// deployed over the API and called through the edge in the sandbox; its lines read back from
// the log API (secrets masked, a thrown error's stack and the platform's 502 line), live over
// the WebSocket, and its calls counted exactly in the functions list after the analytics flush.
// Needs bubblewrap and Node.js (skipped with a message otherwise).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cli/binary_fixture.hpp"
#include "core/crypto.hpp"
#include "core/testing.hpp"
#include "functions/testing.hpp"

namespace replideploy::cli {
namespace {

class FunctionLogs : public BinaryFixture {};

using functions::testing::Zip;

// Follows a function's live log on its own thread until the server closes the connection;
// `lines` gets every line received, `close_code` the server's close code.
class LiveLog {
 public:
  LiveLog(const std::string& port, const std::string& path, const std::string& token) {
    thread_ = std::thread([this, port, path, token] { Follow(port, path, token); });
  }
  ~LiveLog() {
    if (thread_.joinable()) thread_.join();
  }
  bool Has(const std::string& text) {
    std::lock_guard lock(mu_);
    for (const auto& l : lines_) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  }
  bool Open() {
    std::lock_guard lock(mu_);
    return open_;
  }
  int CloseCode() {
    if (thread_.joinable()) thread_.join();
    return close_code_;
  }

 private:
  void Follow(const std::string& port, const std::string& path, const std::string& token) {
    namespace beast = boost::beast;
    boost::asio::io_context io;
    beast::websocket::stream<boost::asio::ip::tcp::socket> ws(io);
    boost::system::error_code ec;
    ws.next_layer().connect(
        {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(port))},
        ec);
    if (ec) return;
    ws.set_option(beast::websocket::stream_base::decorator([&](beast::websocket::request_type& r) {
      r.set(beast::http::field::sec_websocket_protocol, "replideploy.log.v1, bearer." + token);
    }));
    ws.handshake("127.0.0.1", path, ec);
    if (ec) return;
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    for (;;) {
      beast::flat_buffer buffer;
      ws.read(buffer, ec);
      if (ec) break;
      boost::json::value v = boost::json::parse(beast::buffers_to_string(buffer.data()), ec);
      if (ec || !v.is_object() || v.at("type") != "lines") continue;
      std::lock_guard lock(mu_);
      for (const auto& line : v.at("lines").as_array()) {
        lines_.emplace_back(line.at("line").as_string());
      }
    }
    close_code_ = ws.reason().code;
  }

  std::thread thread_;
  std::mutex mu_;
  bool open_ = false;
  std::vector<std::string> lines_;
  int close_code_ = 0;
};

TEST_F(FunctionLogs, LinesAreKeptMaskedStreamedLiveAndCallsCounted) {
  if (::access("/usr/bin/bwrap", X_OK) != 0 || ::access("/usr/bin/node", X_OK) != 0) {
    GTEST_SKIP() << "needs /usr/bin/bwrap and /usr/bin/node";
  }
  if (::geteuid() != 0) GTEST_SKIP() << "functions run in the sandbox only as root";
  ASSERT_EQ(Exec({"migrate", "--data-dir", DataDir()}).exit_code, 0);
  pid_t pid = 0;
  const std::string port = StartServer(pid, {"--analytics-flush-seconds", "1"});
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  const std::string base = "http://127.0.0.1:" + port;
  const Caller call{base};
  auto fn = [&](const std::string& query) {
    return call("GET", "/.netlify/functions/talk?" + query, "", "", "logs.localhost").status;
  };
  const std::string token = SignUpToken(base, "logs@example.com");
  const std::string stranger = SignUpToken(base, "stranger@example.com");
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(call("POST", "/api/v1/sites", R"({"name":"logs"})", token).status, 201);
  ASSERT_EQ(call("POST", "/api/v1/sites", R"({"name":"elsewhere"})", stranger).status, 201);
  ASSERT_EQ(call("PUT", "/api/v1/sites/logs/env/API_SECRET", R"({"value":"hunter2-secret"})", token)
                .status,
            200);
  // Before any deploy: no functions.
  const auto empty = call("GET", "/api/v1/sites/logs/functions", "", token);
  EXPECT_EQ(empty.status, 200);
  EXPECT_NE(empty.body.find(R"("functions":[])"), std::string::npos) << empty.body;

  const std::string talk = Zip({{"talk.mjs", R"(
export default async (req) => {
  const q = new URL(req.url).searchParams;
  if (q.get("throw")) throw new Error("kaboom " + Netlify.env.get("API_SECRET"));
  if (q.get("status")) return new Response("failing", { status: Number(q.get("status")) });
  console.log(q.get("m") + " " + Netlify.env.get("API_SECRET"));
  return new Response("ok");
};)"}});
  const std::string sha = core::HexEncode(core::Sha256(talk));
  const auto created =
      call("POST", "/api/v1/sites/logs/deploys", R"({"functions":{"talk":")" + sha + "\"}}", token);
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string id = JsonField(created.body, "id");
  ASSERT_EQ(call("PUT", "/api/v1/deploys/" + id + "/functions/talk", talk, token).status, 200);
  ASSERT_TRUE(core::testing::WaitUntil([&] {
    return JsonField(call("GET", "/api/v1/deploys/" + id, "", token).body, "state") == "ready";
  }));

  // Six calls: three answer 200, one throws (502), one answers 503 itself; one more 200 once a
  // live viewer is connected.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(fn("m=marker-ok-" + std::to_string(i)), 200);
  EXPECT_EQ(fn("throw=1"), 502);
  EXPECT_EQ(fn("status=503"), 503);
  {
    LiveLog live(port, "/api/v1/sites/logs/functions/talk/log/stream", token);
    ASSERT_TRUE(core::testing::WaitUntil([&] { return live.Open(); }));
    EXPECT_EQ(fn("m=marker-live"), 200);
    EXPECT_TRUE(core::testing::WaitUntil([&] { return live.Has("marker-live ****"); }));
    EXPECT_FALSE(live.Has("hunter2"));
    // A stranger's viewer is refused over the socket.
    LiveLog refused(port, "/api/v1/sites/logs/functions/talk/log/stream", stranger);
    EXPECT_EQ(refused.CloseCode(), 4404);
    kill(pid, SIGTERM);  // ends the live viewer too
    EXPECT_EQ(live.CloseCode(), 1001);
  }
  EXPECT_EQ(Wait(pid).exit_code, 0) << ReadFile(dir_ + "/stderr");

  // What was stored before the shutdown is read back by a new server (the database keeps it).
  const std::string port2 = StartServer(pid, {"--analytics-flush-seconds", "1"});
  ASSERT_FALSE(port2.empty()) << ReadFile(dir_ + "/stderr");
  const std::string base2 = "http://127.0.0.1:" + port2;
  auto get = [&](const std::string& path, const std::string& who) {
    auto got = Call(base2, "GET", path, "", who, "");
    EXPECT_TRUE(got.ok());
    return got.ok() ? *got : http::ClientResponse{};
  };
  const auto listed = get("/api/v1/sites/logs/functions", token);
  ASSERT_EQ(listed.status, 200) << listed.body;
  const boost::json::value list = boost::json::parse(listed.body);
  EXPECT_EQ(list.at("deploy_id").as_string(), id);
  const auto& talk_json = list.at("functions").as_array().at(0).as_object();
  EXPECT_EQ(talk_json.at("name").as_string(), "talk");
  EXPECT_EQ(talk_json.at("invocations").as_int64(), 6) << listed.body;
  EXPECT_EQ(talk_json.at("errors").as_int64(), 2) << listed.body;
  EXPECT_EQ(talk_json.at("size").as_int64(), static_cast<std::int64_t>(talk.size()));
  EXPECT_EQ(talk_json.at("runtime").as_string(), "js");
  EXPECT_EQ(talk_json.at("routes").as_array().at(0).as_string(), "/.netlify/functions/talk");
  EXPECT_GT(talk_json.at("p99_ms").as_int64(), 0);
  EXPECT_GE(talk_json.at("p99_ms").as_int64(), talk_json.at("p50_ms").as_int64());

  const auto log = get("/api/v1/sites/logs/functions/talk/log?deploy_id=" + id, token);
  ASSERT_EQ(log.status, 200) << log.body;
  EXPECT_NE(log.body.find("marker-ok-0 ****"), std::string::npos) << log.body;
  EXPECT_NE(log.body.find("marker-ok-2 ****"), std::string::npos) << log.body;
  EXPECT_NE(log.body.find("Error: kaboom ****"), std::string::npos) << log.body;
  EXPECT_NE(log.body.find("502: the function threw after"), std::string::npos) << log.body;
  EXPECT_NE(log.body.find(R"("stream":"platform")"), std::string::npos) << log.body;
  EXPECT_EQ(log.body.find("hunter2"), std::string::npos) << log.body;
  // Paging: from line 0, two at a time.
  const boost::json::value page =
      boost::json::parse(get("/api/v1/sites/logs/functions/talk/log?since=0&limit=2", token).body);
  EXPECT_EQ(page.at("lines").as_array().size(), 2u);
  EXPECT_EQ(page.at("lines").as_array().at(1).at("n").as_int64(), 1);
  EXPECT_EQ(page.at("next_since").as_int64(), 2);
  EXPECT_EQ(get("/api/v1/sites/logs/functions/talk/log?limit=0", token).status, 400);

  // Another user's site, a function the deploy does not have, a deploy of another site: 404.
  EXPECT_EQ(get("/api/v1/sites/logs/functions", stranger).status, 404);
  EXPECT_EQ(get("/api/v1/sites/logs/functions/talk/log", stranger).status, 404);
  EXPECT_EQ(get("/api/v1/sites/logs/functions/nope/log", token).status, 404);
  EXPECT_EQ(get("/api/v1/sites/elsewhere/functions?deploy_id=" + id, stranger).status, 404);
  EXPECT_EQ(get("/api/v1/sites/logs/functions", "").status, 401);
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0) << ReadFile(dir_ + "/stderr");
}

}  // namespace
}  // namespace replideploy::cli
