// The control plane's resource defences, shown on the real `replideploy` binary so that what is
// measured (the server's memory) is the server's alone. See docs/security.md, "The control
// plane".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/binary_fixture.hpp"
#include "core/crypto.hpp"

namespace replideploy::cli {
namespace {

using namespace std::chrono_literals;

class BinaryLimits : public BinaryFixture {};

// The resident set of process `pid` in bytes (VmRSS), 0 when unreadable.
std::uint64_t ResidentBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// A blocking loopback connection whose reads give up after 60 s. `receive_buffer` > 0 shrinks
// the socket's receive buffer (before connecting, so the window is small from the start).
class Reader {
 public:
  Reader(std::uint16_t port, int receive_buffer) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    timeval timeout{60, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~Reader() { ::close(fd_); }
  int fd() const { return fd_; }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  bool Send(std::string_view data) {
    return connected_ &&
           ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Reads at most `max` bytes into `received`; false on end of stream, error or timeout.
  bool ReadSome(std::size_t max) {
    std::string chunk(max, '\0');
    const ssize_t n = ::recv(fd_, chunk.data(), chunk.size(), 0);
    if (n <= 0) return false;
    received.append(chunk.data(), static_cast<std::size_t>(n));
    return true;
  }
  // The response head once it has arrived (lower-cased), else "".
  std::string Head() const {
    const std::size_t end = received.find("\r\n\r\n");
    if (end == std::string::npos) return "";
    std::string head = received.substr(0, end + 4);
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return head;
  }
  std::size_t BodyBytes() const {
    const std::size_t end = received.find("\r\n\r\n");
    return end == std::string::npos ? 0 : received.size() - end - 4;
  }

  std::string received;

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// 200 MiB that are not all alike, so a misplaced chunk shows in the digest.
std::string LargeContent() {
  std::string content(std::size_t{200} << 20, '\0');
  std::uint32_t x = 2463534242u;
  for (std::size_t i = 0; i < content.size(); i += 4) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    std::memcpy(content.data() + i, &x, 4);
  }
  return content;
}

// Finding: blobs over 2 MiB were read whole into memory for every request, so a few dozen slow
// readers of a large file grew the server's memory without bound. Fifty readers that each take
// a few KiB at a time must leave the server's resident memory within a fixed bound, and the file
// must still arrive whole and intact (also as a range and as HEAD).
TEST_F(BinaryLimits, SlowReadersOfALargeFileKeepServerMemoryFlat) {
  constexpr int kReaders = 50;
  constexpr std::uint64_t kGrowthBound = std::uint64_t{150} << 20;
  const std::string content = LargeContent();
  const std::string content_sha = core::HexEncode(core::Sha256(content));

  ASSERT_EQ(Exec({"migrate", "--data-dir", DataDir()}).exit_code, 0);
  pid_t pid = 0;
  const std::string port_text = StartServer(pid, {"--build-workers", "0"});
  // Whatever fails below, the server goes (a server without the bound would eat the machine).
  const std::unique_ptr<pid_t, void (*)(pid_t*)> stop_server(&pid, [](pid_t* p) {
    if (*p <= 0) return;
    ::kill(*p, SIGKILL);
    ::waitpid(*p, nullptr, 0);
  });
  ASSERT_FALSE(port_text.empty()) << ReadFile(dir_ + "/stderr");
  const auto port = static_cast<std::uint16_t>(std::stoi(port_text));
  const std::string base = "http://127.0.0.1:" + port_text;
  const std::string token = SignUpToken(base, "big@example.com");
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(Call(base, "POST", "/api/v1/sites", R"({"name":"big"})", token, "")->status, 201);
  const std::string id =
      JsonField(Call(base, "POST", "/api/v1/sites/big/deploys", "{}", token, "")->body, "id");
  ASSERT_FALSE(id.empty());
  const std::string files = R"({"files":{"index.html":")" + core::HexEncode(core::Sha1("home")) +
                            R"(","big.bin":")" + core::HexEncode(core::Sha1(content)) + "\"}}";
  ASSERT_EQ(Call(base, "PUT", "/api/v1/deploys/" + id, files, token, "")->status, 200);
  ASSERT_EQ(
      Call(base, "PUT", "/api/v1/deploys/" + id + "/files/index.html", "home", token, "")->status,
      200);
  {
    http::ClientRequest upload;
    upload.method = "PUT";
    upload.url = base + "/api/v1/deploys/" + id + "/files/big.bin";
    upload.headers.Set("Authorization", "Bearer " + token);
    upload.body = content;
    upload.timeout = 300s;
    auto uploaded = http::Fetch(upload);
    ASSERT_TRUE(uploaded.ok()) << uploaded.error().message;
    ASSERT_EQ(uploaded->status, 200) << uploaded->body;
  }
  const auto [deploy, state] = NewestDeploy(
      base, token, "big", [](const std::string& s) { return s == "ready" || s == "error"; });
  ASSERT_EQ(state, "ready");

  const std::uint64_t baseline = ResidentBytes(pid);
  ASSERT_GT(baseline, 0u);
  std::vector<std::unique_ptr<Reader>> readers;
  for (int i = 0; i < kReaders; ++i) {
    readers.push_back(std::make_unique<Reader>(port, 4096));
    ASSERT_TRUE(readers.back()->Send(
        "GET /big.bin HTTP/1.1\r\nHost: big.localhost\r\nConnection: close\r\n\r\n"));
  }
  // Each reader takes 4 KiB at a time, 40 times, pausing between reads like a slow client;
  // the server's memory is looked at all along. Without a bound it grows by the file's size for
  // each reader: the server is stopped as soon as the bound is crossed.
  constexpr int kReads = 40;
  std::vector<int> reads(readers.size(), 0);
  std::vector<pollfd> fds(readers.size());
  const auto give_up = std::chrono::steady_clock::now() + 120s;
  std::uint64_t peak = baseline;
  for (int done = 0; done < kReaders;) {
    for (std::size_t i = 0; i < readers.size(); ++i) {
      fds[i] = {reads[i] < kReads ? readers[i]->fd() : -1, POLLIN, 0};
    }
    ASSERT_GE(::poll(fds.data(), fds.size(), 20), 0);
    for (std::size_t i = 0; i < readers.size(); ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ASSERT_TRUE(readers[i]->ReadSome(4096)) << "reader " << i << " read " << reads[i] << " times";
      if (++reads[i] == kReads) ++done;
    }
    peak = std::max(peak, ResidentBytes(pid));
    if (peak - baseline > kGrowthBound) {
      FAIL() << "server memory grew by " << ((peak - baseline) >> 20) << " MiB (from "
             << (baseline >> 20) << " MiB) with " << kReaders << " slow readers of a 200 MiB file; "
             << done << " readers had read " << kReads * 4 << " KiB";
    }
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << done << " readers got their bytes";
    std::this_thread::sleep_for(20ms);
  }
  std::printf("server RSS: %llu MiB before, peak %llu MiB with %d slow readers (growth %llu KiB)\n",
              static_cast<unsigned long long>(baseline >> 20),
              static_cast<unsigned long long>(peak >> 20), kReaders,
              static_cast<unsigned long long>((peak - baseline) >> 10));
  for (auto& reader : readers) {
    EXPECT_EQ(reader->Head().rfind("http/1.1 200", 0), 0u) << reader->Head();
    EXPECT_NE(reader->Head().find("content-length: " + std::to_string(content.size())),
              std::string::npos)
        << reader->Head();
    EXPECT_GT(reader->BodyBytes(), 0u);
  }
  readers.clear();

  // One reader takes it all: every byte arrives, in order.
  Reader whole(port, 0);
  ASSERT_TRUE(
      whole.Send("GET /big.bin HTTP/1.1\r\nHost: big.localhost\r\nConnection: close\r\n\r\n"));
  while (whole.ReadSome(1 << 20)) {
  }
  ASSERT_EQ(whole.Head().rfind("http/1.1 200", 0), 0u) << whole.Head();
  EXPECT_NE(whole.Head().find("etag: \"" + core::HexEncode(core::Sha256(content)).substr(0, 32)),
            std::string::npos)
      << whole.Head();
  ASSERT_EQ(whole.BodyBytes(), content.size());
  EXPECT_EQ(
      core::HexEncode(core::Sha256(whole.received.substr(whole.received.size() - content.size()))),
      content_sha);

  http::ClientRequest range{"GET", base + "/big.bin"};
  range.headers.Set("Host", "big.localhost");
  range.headers.Set("Range", "bytes=104857590-104857609");
  auto ranged = http::Fetch(range);
  ASSERT_TRUE(ranged.ok());
  EXPECT_EQ(ranged->status, 206);
  EXPECT_EQ(ranged->body, content.substr(104857590, 20));
  EXPECT_EQ(ranged->headers.Get("Content-Range"),
            "bytes 104857590-104857609/" + std::to_string(content.size()));
  http::ClientRequest beyond{"GET", base + "/big.bin"};
  beyond.headers.Set("Host", "big.localhost");
  beyond.headers.Set("Range", "bytes=" + std::to_string(content.size()) + "-");
  auto refused = http::Fetch(beyond);
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, 416);
  EXPECT_EQ(refused->headers.Get("Content-Range"), "bytes */" + std::to_string(content.size()));
  http::ClientRequest revalidate{"GET", base + "/big.bin"};
  revalidate.headers.Set("Host", "big.localhost");
  revalidate.headers.Set("If-None-Match", "\"" + content_sha.substr(0, 32) + "\"");
  auto unchanged = http::Fetch(revalidate);
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(unchanged->status, 304);
  EXPECT_EQ(unchanged->body, "");
  http::ClientRequest head{"HEAD", base + "/big.bin"};
  head.headers.Set("Host", "big.localhost");
  auto headed = http::Fetch(head);
  ASSERT_TRUE(headed.ok());
  EXPECT_EQ(headed->status, 200);
  EXPECT_EQ(headed->headers.Get("Content-Length"), std::to_string(content.size()));
  EXPECT_EQ(headed->body, "");

  kill(pid, SIGTERM);
  const Outcome stopped = Wait(pid);
  pid = 0;
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
}

}  // namespace
}  // namespace replideploy::cli
