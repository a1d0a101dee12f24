// LambdaRunner against FakeLambda (lambda_fake.hpp): the Lambda API's wire format, SigV4 checked
// by the fake, and the uploaded zip really run by Node.js with our adapter. AWS itself is not
// reachable from the test machines. Skipped, with a message, without /usr/bin/node.
#include "functions/lambda_runner.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <mutex>

#include "core/crypto.hpp"
#include "functions/background.hpp"
#include "functions/lambda_fake.hpp"
#include "functions/testing.hpp"
#include "store/testing.hpp"

namespace replideploy::functions {
namespace {

using testing::FakeLambda;
using testing::Zip;

std::string HeaderOf(const FunctionResponse& r, std::string_view name, int nth = 0) {
  for (const auto& [k, v] : r.headers) {
    std::string lower;
    for (char c : k) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == name && nth-- == 0) return v;
  }
  return "";
}

class LambdaRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/node", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/node";
    blobs_ = store::LocalBlobStore::Open(tmp_.path() + "/store").value();
    fake_ = std::make_unique<FakeLambda>(tmp_.path() + "/fake");
  }

  LambdaOptions Options() {
    LambdaOptions o;
    o.region = FakeLambda::kRegion;
    o.endpoint = fake_->Endpoint();
    o.role_arn = "arn:aws:iam::123456789012:role/replideploy-functions";
    o.credentials = {FakeLambda::kAccessKey, FakeLambda::kSecretKey, ""};
    o.poll_interval = std::chrono::milliseconds(1);
    o.environment = [](const FunctionRequest& r) -> Result<FunctionEnvironment> {
      return FunctionEnvironment{{{"GREETING", "hello"}, {"DEPLOY_ID", r.deploy_id}}, {}};
    };
    o.on_log = [this](const LogRecord& r) {
      std::lock_guard lock(mu_);
      log_.emplace_back(r.line);
    };
    return o;
  }

  LambdaRunner& Runner(LambdaOptions options) {
    auto made = LambdaRunner::Create(*blobs_, std::move(options));
    EXPECT_TRUE(made.ok()) << made.error().message;
    runner_ = std::move(made).value();
    return *runner_;
  }
  LambdaRunner& Runner() { return Runner(Options()); }

  FunctionRequest Deployed(const std::string& zip, const std::string& name = "fn") {
    auto blob = blobs_->Put(zip);
    EXPECT_TRUE(blob.ok());
    return testing::RequestFor(blob.ok() ? blob->sha256 : "", name);
  }

  std::string Log() {
    std::lock_guard lock(mu_);
    std::string all;
    for (const auto& l : log_) all += l + "\n";
    return all;
  }

  store::testing::ScopedTempDir tmp_;
  std::unique_ptr<store::BlobStore> blobs_;
  std::unique_ptr<FakeLambda> fake_;
  std::unique_ptr<LambdaRunner> runner_;
  std::mutex mu_;
  std::vector<std::string> log_;
};

TEST_F(LambdaRunnerTest, V1FunctionGetsNetlifysEventAndEnvironment) {
  LambdaRunner& runner = Runner();
  FunctionRequest r = Deployed(Zip({{"fn.mjs", R"js(
export const handler = async (event, context) => ({
  statusCode: 201,
  headers: { "content-type": "application/json", "x-one": "1" },
  multiValueHeaders: { "set-cookie": ["a=1", "b=2"] },
  body: JSON.stringify({
    q: event.queryStringParameters, method: event.httpMethod, path: event.path,
    greeting: process.env.GREETING, site: context.clientContext.custom.site.name,
    ip: context.clientContext.custom.ip, id: context.awsRequestId,
  }),
});
)js"}}));
  r.raw_query = "a=1&b=x%20y&a=2";
  r.raw_url += "?" + r.raw_query;
  FunctionResponse answer = runner.Invoke(r);
  ASSERT_EQ(answer.status, 201) << answer.body << Log();
  EXPECT_EQ(HeaderOf(answer, "x-one"), "1");
  EXPECT_EQ(HeaderOf(answer, "set-cookie", 0), "a=1");
  EXPECT_EQ(HeaderOf(answer, "set-cookie", 1), "b=2");
  const auto body = boost::json::parse(answer.body).as_object();
  EXPECT_EQ(body.at("q").as_object().at("a").as_string(), "1,2");
  EXPECT_EQ(body.at("q").as_object().at("b").as_string(), "x y");
  EXPECT_EQ(body.at("method").as_string(), "GET");
  EXPECT_EQ(body.at("path").as_string(), "/.netlify/functions/fn");
  EXPECT_EQ(body.at("greeting").as_string(), "hello");
  EXPECT_EQ(body.at("site").as_string(), "mysite");
  EXPECT_EQ(body.at("ip").as_string(), "203.0.113.7");
  EXPECT_EQ(body.at("id").as_string(), "req-1");

  // What went over the wire: one function, our handler, nodejs20.x, the environment.
  const auto functions = fake_->Functions();
  ASSERT_EQ(functions.size(), 1U);
  const auto& [name, fn] = *functions.begin();
  EXPECT_EQ(name,
            LambdaFunctionName(
                "replideploy", r.bundle_sha256,
                {{{"GREETING", "hello"}, {"DEPLOY_ID", "d1"}, {"RD_FUNCTION_NAME", "fn"}}, {}}));
  EXPECT_TRUE(name.starts_with("replideploy-" + r.bundle_sha256.substr(0, 20) + "-")) << name;
  EXPECT_EQ(fn.handler, "___replideploy_handler.handler");
  EXPECT_EQ(fn.timeout, 10);
  EXPECT_EQ(fn.variables.at("GREETING").as_string(), "hello");
  const auto calls = fake_->Invocations();
  ASSERT_EQ(calls.size(), 1U);
  EXPECT_EQ(calls[0].type, "RequestResponse");
  EXPECT_EQ(boost::json::parse(calls[0].client_context).at("custom").at("deploy").at("id"), "d1");
  EXPECT_EQ(fake_->Rejected(), 0);
}

TEST_F(LambdaRunnerTest, V2FunctionFromNetlifysZipLayoutWithBinaryBodies) {
  LambdaRunner& runner = Runner();
  FunctionRequest r =
      Deployed(Zip({{"___netlify-entry-point.mjs",
                     "import { getLambdaHandler } from './___netlify-bootstrap.mjs'\n"
                     "export const handler = getLambdaHandler('./fn.mjs')\n"},
                    {"___netlify-bootstrap.mjs", "throw new Error('not ours to run')\n"},
                    {"fn.mjs", R"js(
export default async (req, context) => {
  const got = new Uint8Array(await req.arrayBuffer());
  const out = new Uint8Array([0, 255, ...got.map((b) => b ^ 1)]);
  return new Response(out, { status: 207, headers: {
    "content-type": "application/octet-stream",
    "x-url": req.url, "x-q": new URL(req.url).searchParams.get("k"), "x-site": context.site.name,
  } });
};
)js"}}));
  r.method = "POST";
  r.raw_query = "k=v";
  r.raw_url += "?k=v";
  r.headers = {{"Content-Type", "application/octet-stream"}};
  r.body = std::string("\x00\x10\xfe", 3);
  FunctionResponse answer = runner.Invoke(r);
  ASSERT_EQ(answer.status, 207) << answer.body << Log();
  EXPECT_EQ(answer.body, std::string("\x00\xff\x01\x11\xff", 5));
  EXPECT_EQ(HeaderOf(answer, "x-url"), "http://mysite.localhost/.netlify/functions/fn?k=v");
  EXPECT_EQ(HeaderOf(answer, "x-q"), "v");
  EXPECT_EQ(HeaderOf(answer, "x-site"), "mysite");
  // The body went as base64 in the event.
  EXPECT_EQ(boost::json::parse(fake_->Invocations().at(0).event).at("isBase64Encoded"), true);
}

TEST_F(LambdaRunnerTest, CreatesEachFunctionOnceAndAgainWhenDeletedBehindItsBack) {
  LambdaRunner& runner = Runner();
  FunctionRequest r = Deployed(Zip({{"fn.js",
                                     "exports.handler = async () => "
                                     "({ statusCode: 200, body: 'ok' })"}}));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(runner.Invoke(r).status, 200) << Log();
  EXPECT_EQ(fake_->Creates(), 1);
  EXPECT_EQ(fake_->Invocations().size(), 3U);

  // Another runner (a restart): CreateFunction's 409 counts as created.
  LambdaRunner& again = Runner();
  EXPECT_EQ(again.Invoke(r).status, 200) << Log();
  EXPECT_EQ(fake_->Creates(), 1);

  fake_->DeleteFunctions();
  EXPECT_EQ(again.Invoke(r).status, 200) << Log();
  EXPECT_EQ(fake_->Creates(), 2);
}

TEST_F(LambdaRunnerTest, ThrownErrorIs502WithTheErrorInTheLog) {
  LambdaRunner& runner = Runner();
  FunctionRequest r = Deployed(Zip({{"fn.mjs",
                                     "export const handler = async () => "
                                     "{ throw new TypeError('kaboom'); }"}}));
  FunctionResponse answer = runner.Invoke(r);
  EXPECT_EQ(answer.status, 502);
  EXPECT_EQ(answer.body.find("kaboom"), std::string::npos) << "not shown to the client";
  EXPECT_NE(Log().find("Unhandled"), std::string::npos) << Log();
  EXPECT_NE(Log().find("kaboom"), std::string::npos) << Log();
}

TEST_F(LambdaRunnerTest, WrongSecretIsRefusedByTheSignatureCheckAndReported) {
  LambdaOptions o = Options();
  o.credentials.secret_access_key = "not-the-secret";
  LambdaRunner& runner = Runner(o);
  FunctionRequest r = Deployed(Zip({{"fn.mjs",
                                     "export const handler = async () => "
                                     "({ statusCode: 200, body: 'ok' })"}}));
  FunctionResponse answer = runner.Invoke(r);
  EXPECT_EQ(answer.status, 502);
  EXPECT_GE(fake_->Rejected(), 1);
  EXPECT_EQ(fake_->Creates(), 0);
  EXPECT_NE(Log().find("403 InvalidSignatureException"), std::string::npos) << Log();
}

TEST_F(LambdaRunnerTest, LambdasThrottlingIs429WithRetryAfter) {
  LambdaRunner& runner = Runner();
  FunctionRequest r = Deployed(Zip({{"fn.mjs",
                                     "export const handler = async () => "
                                     "({ statusCode: 200, body: 'ok' })"}}));
  ASSERT_TRUE(runner.EnsureFunction(r).ok());
  fake_->ThrottleNextInvoke();
  FunctionResponse answer = runner.Invoke(r);
  EXPECT_EQ(answer.status, 429);
  EXPECT_EQ(HeaderOf(answer, "retry-after"), "1");
  EXPECT_EQ(runner.Invoke(r).status, 200);
}

TEST_F(LambdaRunnerTest, BackgroundFunctionIsAnEventInvocation) {
  LambdaRunner& runner = Runner();
  BackgroundOptions bo;
  bo.retry_delays.clear();
  BackgroundRunner background(runner, bo);
  std::mutex m;
  std::condition_variable cv;
  std::vector<int> done;
  background.SetDoneHook([&](const FunctionRequest&, const FunctionResponse& answer) {
    std::lock_guard lock(m);
    done.push_back(answer.status);
    cv.notify_all();
  });
  FunctionRequest r =
      Deployed(Zip({{"job-background.mjs", "export default async () => {}"}}), "job-background");
  ASSERT_TRUE(background.Submit(r).ok());
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return !done.empty(); });
  EXPECT_EQ(done[0], 202);
  const auto calls = fake_->Invocations();
  ASSERT_EQ(calls.size(), 1U);
  EXPECT_EQ(calls[0].type, "Event");
  EXPECT_EQ(fake_->Functions().begin()->second.timeout, 900);
}

TEST_F(LambdaRunnerTest, OptionsAreValidated) {
  LambdaOptions o = Options();
  o.role_arn.clear();
  EXPECT_EQ(LambdaRunner::Create(*blobs_, o).error().code, ErrorCode::kBadRequest);
  o = Options();
  o.credentials.access_key_id.clear();
  auto made = LambdaRunner::Create(*blobs_, o);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message.find("AWS_ACCESS_KEY_ID"), std::string::npos);
  o = Options();
  o.function_prefix = "bad prefix";
  EXPECT_FALSE(LambdaRunner::Create(*blobs_, o).ok());
}

}  // namespace
}  // namespace replideploy::functions
