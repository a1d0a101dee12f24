// Background calls with real Node.js in the real sandbox (bubblewrap): skipped, with a message,
// where either is missing.
#include "functions/background.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>

#include "core/testing.hpp"
#include "functions/runtime.hpp"
#include "functions/testing.hpp"
#include "sandbox/runner.hpp"
#include "store/testing.hpp"

namespace replideploy::functions {
namespace {

using testing::Zip;

class BackgroundTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/bwrap", X_OK) != 0 || ::access("/usr/bin/node", X_OK) != 0) {
      GTEST_SKIP() << "needs /usr/bin/bwrap and /usr/bin/node";
    }
    blobs_ = store::LocalBlobStore::Open(tmp_.path() + "/store").value();
  }

  // A runtime whose synchronous calls may take `sync_timeout`, and a runner over it.
  BackgroundRunner& Start(std::chrono::milliseconds sync_timeout, BackgroundOptions options) {
    RuntimeOptions o;
    o.root_dir = tmp_.path() + "/functions";
    o.timeout = sync_timeout;
    o.on_call = [this](const FunctionRequest& r, int status, std::chrono::milliseconds) {
      std::lock_guard lock(mu_);
      attempts_.emplace_back(r.function_name, status);
    };
    o.on_log = [this](const LogRecord& r) {
      if (r.stream != "platform") return;
      std::lock_guard lock(mu_);
      platform_lines_.emplace_back(r.line);
    };
    runtime_ = std::make_unique<FunctionRuntime>(*blobs_, runner_, std::move(o));
    background_ = std::make_unique<BackgroundRunner>(*runtime_, options);
    background_->SetDoneHook([this](const FunctionRequest& r, const FunctionResponse& answer) {
      std::lock_guard lock(mu_);
      done_.emplace_back(r.function_name, answer);
      cv_.notify_all();
    });
    return *background_;
  }

  FunctionRequest Deployed(const std::string& name, const std::string& module,
                           const std::string& site = "site-1") {
    auto blob = blobs_->Put(Zip({{name + ".mjs", module}}));
    EXPECT_TRUE(blob.ok());
    FunctionRequest r;
    r.deploy_id = "d1";
    r.function_name = name;
    r.bundle_sha256 = blob.ok() ? blob->sha256 : "";
    r.site_id = site;
    r.site_name = "mysite";
    r.site_url = "http://mysite.localhost";
    r.deploy_context = "production";
    r.method = "POST";
    r.path = "/.netlify/functions/" + name;
    r.raw_url = "http://mysite.localhost" + r.path;
    return r;
  }

  // Waits (no fixed sleep: a condition, with a generous bound against a hang) for `n` ended calls.
  bool WaitDone(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::minutes(2), [&] { return done_.size() >= n; });
  }

  store::testing::ScopedTempDir tmp_;
  std::unique_ptr<store::BlobStore> blobs_;
  sandbox::BubblewrapRunner runner_;
  std::unique_ptr<FunctionRuntime> runtime_;
  std::unique_ptr<BackgroundRunner> background_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, FunctionResponse>> done_;
  std::vector<std::pair<std::string, int>> attempts_;  // every runtime call: function, status
  std::vector<std::string> platform_lines_;
};

TEST(BackgroundFunctions, NamedLikeNetlify) {
  EXPECT_TRUE(IsBackgroundFunction("send-mail-background"));
  EXPECT_TRUE(IsBackgroundFunction("x-background"));
  EXPECT_FALSE(IsBackgroundFunction("background"));
  EXPECT_FALSE(IsBackgroundFunction("background-job"));
  EXPECT_FALSE(IsBackgroundFunction("send-mail-Background"));
}

// The synchronous limit is shortened to 300 ms (instead of 10 s) and the function takes 1.5 s:
// called synchronously it is cut at 504; in the background it runs to its end.
TEST_F(BackgroundTest, RunsLongerThanTheSynchronousTimeout) {
  BackgroundRunner& background = Start(std::chrono::milliseconds(300), {});
  const FunctionRequest call =
      Deployed("slow-background",
               "export default async (req) => {\n"
               "  await new Promise((r) => setTimeout(r, 1500));\n"
               "  return new Response('finished ' + req.method, { status: 201 });\n"
               "};\n");
  EXPECT_EQ(runtime_->Invoke(call).status, 504) << "the synchronous limit applies to Invoke";

  ASSERT_TRUE(background.Submit(call).ok());
  {
    std::lock_guard lock(mu_);
    EXPECT_TRUE(done_.empty()) << "Submit returns before the call ends";
  }
  EXPECT_EQ(background.RunningCount(), 1u);
  ASSERT_TRUE(WaitDone(1));
  EXPECT_EQ(done_[0].second.status, 201);
  EXPECT_EQ(done_[0].second.body, "finished POST");
  // The done hook runs just before the call stops counting as running.
  EXPECT_TRUE(core::testing::WaitUntil([&] { return background.RunningCount() == 0; }))
      << background.RunningCount() << " still running";
}

// Its own limit (shortened from 15 minutes) stops it: 504, and the process is killed.
TEST_F(BackgroundTest, ItsOwnTimeoutStopsIt) {
  BackgroundOptions options;
  options.timeout = std::chrono::milliseconds(800);
  options.retry_delays = {};  // the timed-out call is not retried (FailedCallsAreRetriedTwice)
  BackgroundRunner& background = Start(std::chrono::seconds(10), options);
  ASSERT_TRUE(background
                  .Submit(Deployed("hang-background",
                                   "export default () => new Promise(() => {});\n"
                                   "setInterval(() => {}, 1000);\n"))
                  .ok());
  ASSERT_TRUE(WaitDone(1));
  EXPECT_EQ(done_[0].second.status, 504);
  EXPECT_EQ(runtime_->ProcessCountForTest(), 0u) << "the timed-out process was killed";
}

TEST_F(BackgroundTest, CapsRefuseAndShutdownKillsRunningCalls) {
  BackgroundOptions options;
  options.max_per_function = 1;
  options.max_per_site = 2;
  options.max_running = 3;
  BackgroundRunner& background = Start(std::chrono::seconds(10), options);
  const std::string hang =
      "export default () => new Promise(() => {});\nsetInterval(() => {}, 1000);\n";
  ASSERT_TRUE(background.Submit(Deployed("a-background", hang)).ok());
  Status second = background.Submit(Deployed("a-background", hang));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kRateLimited) << "one at a time per function";
  ASSERT_TRUE(background.Submit(Deployed("b-background", hang)).ok());
  Status third = background.Submit(Deployed("c-background", hang));
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, ErrorCode::kRateLimited) << "two at a time per site";
  ASSERT_TRUE(background.Submit(Deployed("c-background", hang, "site-2")).ok());
  Status fourth = background.Submit(Deployed("d-background", hang, "site-3"));
  ASSERT_FALSE(fourth.ok());
  EXPECT_EQ(fourth.error().code, ErrorCode::kRateLimited) << "three at a time in all";
  EXPECT_EQ(background.RunningCount(), 3u);

  // Shutdown kills the three (each hangs forever, with a 15 minute limit) and returns.
  background.Shutdown();
  EXPECT_EQ(done_.size(), 3u);
  for (const auto& [name, answer] : done_) EXPECT_GE(answer.status, 500) << name;
  EXPECT_EQ(background.Submit(Deployed("a-background", hang)).error().code,
            ErrorCode::kUnavailable);
}

// Netlify's retries (1 and 2 minutes, shortened here): a call that throws twice runs a third
// time and succeeds; one that always fails runs exactly three times. A log line per retry.
TEST_F(BackgroundTest, FailedCallsAreRetriedTwice) {
  BackgroundOptions options;
  options.retry_delays = {std::chrono::milliseconds(20), std::chrono::milliseconds(40)};
  BackgroundRunner& background = Start(std::chrono::seconds(10), options);
  // The process stays warm after a throw, so the module's counter sees every attempt.
  ASSERT_TRUE(background
                  .Submit(Deployed("flaky-background",
                                   "let n = 0;\n"
                                   "export default async () => {\n"
                                   "  n += 1;\n"
                                   "  if (n < 3) throw new Error('attempt ' + n + ' failed');\n"
                                   "  return new Response('attempt ' + n);\n"
                                   "};\n"))
                  .ok());
  ASSERT_TRUE(background
                  .Submit(Deployed("broken-background",
                                   "export default async () => { throw new Error('never'); };\n"))
                  .ok());
  ASSERT_TRUE(WaitDone(2));
  background.Shutdown();
  std::map<std::string, FunctionResponse> answers(done_.begin(), done_.end());
  EXPECT_EQ(answers["flaky-background"].status, 200);
  EXPECT_EQ(answers["flaky-background"].body, "attempt 3");
  EXPECT_EQ(answers["broken-background"].status, 502);
  auto statuses = [&](const std::string& name) {
    std::vector<int> out;
    for (const auto& [function, status] : attempts_) {
      if (function == name) out.push_back(status);
    }
    return out;
  };
  EXPECT_EQ(statuses("flaky-background"), (std::vector<int>{502, 502, 200}));
  EXPECT_EQ(statuses("broken-background"), (std::vector<int>{502, 502, 502}));
  auto count = [&](const std::string& text) {
    return std::count_if(platform_lines_.begin(), platform_lines_.end(),
                         [&](const std::string& l) { return l.find(text) != std::string::npos; });
  };
  EXPECT_EQ(count("retry 1 of 2 in 20 ms: the call ended with 502"), 2);
  EXPECT_EQ(count("retry 2 of 2 in 40 ms: the call ended with 502"), 2);
  EXPECT_EQ(count("retry "), 4) << "no retry after the last one nor after a success";
}

// A successful call is not retried; Shutdown drops a retry that waits (here for an hour).
TEST_F(BackgroundTest, NoRetryAfterSuccessAndShutdownDropsWaitingRetries) {
  BackgroundOptions options;
  options.retry_delays = {std::chrono::hours(1)};
  BackgroundRunner& background = Start(std::chrono::seconds(10), options);
  ASSERT_TRUE(
      background
          .Submit(Deployed("ok-background", "export default async () => new Response('fine');\n"))
          .ok());
  ASSERT_TRUE(background
                  .Submit(Deployed("broken-background",
                                   "export default async () => { throw new Error('never'); };\n"))
                  .ok());
  ASSERT_TRUE(WaitDone(1));
  ASSERT_TRUE(core::testing::WaitUntil([&] {
    std::lock_guard lock(mu_);
    return std::any_of(platform_lines_.begin(), platform_lines_.end(), [](const std::string& l) {
      return l.find("retry 1 of 1 in 3600 s: the call ended with 502") != std::string::npos;
    });
  }));
  background.Shutdown();  // returns though the retry would wait an hour
  EXPECT_EQ(done_.size(), 2u);
  EXPECT_EQ(attempts_.size(), 2u) << "one attempt each";
}

}  // namespace
}  // namespace replideploy::functions
