// Functions through the real binary, continued (functions_binary_test.cpp): bundling at build
// time and by the CLI, the site timeout, background and scheduled functions, the Lambda runner.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cli/binary_fixture.hpp"
#include "core/crypto.hpp"
#include "core/testing.hpp"
#include "functions/lambda_fake.hpp"
#include "functions/testing.hpp"

namespace replideploy::cli {
namespace {

using functions::testing::Zip;

// Writes `files` (path -> content) under `root`, folders included.
void WriteTree(const std::string& root, const std::map<std::string, std::string>& files) {
  for (const auto& [path, content] : files) {
    std::filesystem::create_directories(std::filesystem::path(root + "/" + path).parent_path());
    std::ofstream(root + "/" + path) << content;
  }
}

// A TypeScript function of the repository, importing an npm package the build installs (which
// requires a Node builtin) and a module of its own, is bundled by esbuild in the build and
// answers through the edge; a function with a syntax error fails the next build with esbuild's
// message in the build log.
TEST_F(Functions, BuildBundlesTypeScriptFunctionsWithTheirPackagesAndReportsErrors) {
  if (::access("/usr/bin/bwrap", X_OK) != 0 || ::access("/usr/bin/node", X_OK) != 0) {
    GTEST_SKIP() << "needs /usr/bin/bwrap and /usr/bin/node";
  }
  if (::geteuid() != 0) GTEST_SKIP() << "builds and functions run in the sandbox only as root";
  ASSERT_EQ(Exec({"migrate", "--data-dir", DataDir()}).exit_code, 0);
  pid_t pid = 0;
  const std::string port = StartServer(pid);
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  const std::string base = "http://127.0.0.1:" + port;
  auto call = [&](const std::string& method, const std::string& path, const std::string& body,
                  const std::string& token, const std::string& host = {}) {
    auto got = Call(base, method, path, body, token, host);
    return got.ok() ? *got : http::ClientResponse{};
  };
  const std::string token = SignUpToken(base, "esbuild@example.com");
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(call("POST", "/api/v1/sites", R"({"name":"bundled"})", token).status, 201);

  const std::string repo = dir_ + "/repo";
  WriteTree(
      repo,
      {
          // `npm install` (the build's, detected from package.json) links the
          // package into node_modules; nothing comes from the registry.
          {"package.json",
           R"({"name":"site","private":true,"dependencies":{"padder":"file:vendor/padder"}})"},
          {"vendor/padder/package.json", R"({"name":"padder","version":"1.0.0","main":"lib.js"})"},
          {"vendor/padder/lib.js",
           "const os = require('os');\n"
           "module.exports = (s) => '<<' + s + '>>' + (os.EOL === '\\n' ? '' : '?');\n"},
          {"netlify.toml",
           "[build]\n  command = \"mkdir -p out && echo home > out/index.html\"\n"
           "  publish = \"out\"\n"},
          {"netlify/functions/greet/greet.mts",
           "import pad from 'padder';\nimport { who } from './who';\n"
           "export default async (req: Request): Promise<Response> =>\n"
           "  new Response(pad(who(new URL(req.url).searchParams.get('n') ?? '')));\n"},
          {"netlify/functions/greet/who.ts",
           "export const who = (s: string): string => `typed ${s}`;\n"},
          // Its `export const config` is read in the build: it answers at its path only.
          {"netlify/functions/item.ts",
           "import type { Context } from '@netlify/functions';\n"
           "export default async (req: Request, context: Context) =>\n"
           "  new Response(`item ${context.params.id} by ${req.method}`);\n"
           "export const config = { path: '/items/:id', method: ['get', 'POST'] };\n"},
      });
  const std::string remote = "http://x:" + token + "@127.0.0.1:" + port + "/git/bundled.git";
  ASSERT_TRUE(CommitAndPush(repo, {}, remote)) << ReadFile(repo + ".log");
  const auto [id, state] = NewestDeploy(
      base, token, "bundled", [](const std::string& s) { return s == "ready" || s == "error"; });
  ASSERT_EQ(state, "ready") << call("GET", "/api/v1/deploys/" + id + "/log", "", token).body;
  auto greet = [&] {
    return call("GET", "/.netlify/functions/greet?n=7", "", "", "bundled.localhost");
  };
  EXPECT_TRUE(core::testing::WaitUntil([&] { return greet().status == 200; }))
      << greet().status << " " << greet().body;
  EXPECT_EQ(greet().body, "<<typed 7>>");
  auto item = [&](const std::string& method, const std::string& path) {
    auto got = call(method, path, "", "", "bundled.localhost");
    return std::to_string(got.status) + " " + got.body;
  };
  EXPECT_EQ(item("GET", "/items/42"), "200 item 42 by GET");
  EXPECT_EQ(item("POST", "/items/7"), "200 item 7 by POST");
  EXPECT_NE(item("PUT", "/items/7").rfind("200 ", 0), 0u);                 // not one of its methods
  EXPECT_EQ(item("GET", "/.netlify/functions/item").substr(0, 3), "404");  // as on Netlify

  // A syntax error: the build fails, the log has esbuild's message, the live deploy stays.
  WriteTree(repo,
            {{"netlify/functions/greet/who.ts", "export const who = (s: string): string => ;\n"}});
  ASSERT_TRUE(CommitAndPush(repo, {}, remote)) << ReadFile(repo + ".log");
  const auto [bad_id, bad_state] =
      NewestDeploy(base, token, "bundled", [&](const std::string& s) { return s == "error"; });
  ASSERT_NE(bad_id, id);
  EXPECT_EQ(bad_state, "error");
  std::string log;
  core::testing::WaitUntil([&] {
    log = call("GET", "/api/v1/deploys/" + bad_id + "/log", "", token).body;
    return log.find("Build failed") != std::string::npos;
  });
  EXPECT_NE(log.find("netlify/functions/greet/who.ts:1:"), std::string::npos) << log;
  EXPECT_NE(log.find("Build failed: bundling the functions failed: Unexpected"), std::string::npos)
      << log;
  EXPECT_NE(JsonField(call("GET", "/api/v1/deploys/" + bad_id, "", token).body, "error_message")
                .find("bundling the functions failed"),
            std::string::npos);
  EXPECT_EQ(greet().body, "<<typed 7>>");

  // Without netlify/functions, the seed's `api/` folder holds the functions (a file named
  // `functions` is not a folder and is passed over).
  std::filesystem::remove_all(repo + "/netlify");
  WriteTree(repo,
            {{"functions", "not a folder\n"},
             {"api/ping.ts", "export default async () => new Response('pong from api/');\n"}});
  ASSERT_TRUE(CommitAndPush(repo, {}, remote)) << ReadFile(repo + ".log");
  const auto [api_id, api_state] = NewestDeploy(
      base, token, "bundled", [](const std::string& s) { return s == "ready" || s == "error"; });
  ASSERT_NE(api_id, bad_id);
  ASSERT_EQ(api_state, "ready")
      << call("GET", "/api/v1/deploys/" + api_id + "/log", "", token).body;
  EXPECT_TRUE(core::testing::WaitUntil([&] {
    return item("GET", "/api/ping") == "200 pong from api/";
  })) << item("GET", "/api/ping");
  EXPECT_EQ(item("GET", "/.netlify/functions/ping"), "200 pong from api/");
  EXPECT_EQ(item("GET", "/.netlify/functions/greet").substr(0, 3), "404");
  EXPECT_NE(call("GET", "/api/v1/deploys/" + api_id + "/log", "", token).body.find("from api"),
            std::string::npos);
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0) << ReadFile(dir_ + "/stderr");
}

// `replideploy deploy --functions FOLDER` bundles a TypeScript function on this machine and
// uploads it; run at a project's root, netlify.toml's functions folder counts without the flag.
TEST_F(Functions, CliDeployBundlesAndUploadsFunctions) {
  if (::access("/usr/bin/bwrap", X_OK) != 0 || ::access("/usr/bin/node", X_OK) != 0) {
    GTEST_SKIP() << "needs /usr/bin/bwrap and /usr/bin/node";
  }
  if (::geteuid() != 0) GTEST_SKIP() << "functions run in the sandbox only as root";
  ASSERT_EQ(Exec({"migrate", "--data-dir", DataDir()}).exit_code, 0);
  pid_t pid = 0;
  const std::string port = StartServer(pid);
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  const std::string base = "http://127.0.0.1:" + port;
  const std::string token = SignUpToken(base, "clifn@example.com");
  ASSERT_FALSE(token.empty());
  auto site = Call(base, "POST", "/api/v1/sites", R"({"name":"clifns"})", token, "");
  ASSERT_TRUE(site.ok());
  ASSERT_EQ(site->status, 201);
  const std::string project = dir_ + "/project";
  WriteTree(
      project,
      {{"public/index.html", "home"},
       {"node_modules/shout/package.json", R"({"name":"shout","main":"index.js"})"},
       {"node_modules/shout/index.js", "module.exports = (s) => s.toUpperCase() + '!';\n"},
       {"fns/hi.ts",
        "import shout from 'shout';\n"
        "export default async (): Promise<Response> => new Response(shout('hi ts'));\n"},
       {"fns/routed.mjs",
        "export default async (req, context) => new Response(`routed ${context.params.who}`);\n"
        "export const config = { path: ['/greet/:who', '/hey/:who'], "
        "excludedPath: '/greet/nobody' };\n"},
       {"netlify.toml", "[functions]\n  directory = \"fns\"\n"}});
  auto fn = [&] {
    auto got = Call(base, "GET", "/.netlify/functions/hi", "", "", "clifns.localhost");
    return got.ok() ? std::to_string(got->status) + " " + got->body : got.error().message;
  };

  Outcome run = Exec({"deploy", project + "/public", "--site", "clifns", "--prod", "--functions",
                      project + "/fns", "--api-url", base, "--auth-token", token});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.err.find("Bundled 2 functions from"), std::string::npos) << run.err;
  EXPECT_TRUE(core::testing::WaitUntil([&] { return fn() == "200 HI TS!"; })) << fn();
  auto get = [&](const std::string& path) {
    auto got = Call(base, "GET", path, "", "", "clifns.localhost");
    return got.ok() ? std::to_string(got->status) + " " + got->body : got.error().message;
  };
  // Its config was read on this machine and sent as netlify-cli sends functions_config.
  EXPECT_EQ(get("/greet/ada"), "200 routed ada");
  EXPECT_EQ(get("/hey/bob"), "200 routed bob");
  EXPECT_EQ(get("/greet/nobody").substr(0, 3), "404");

  // From the project's root, without --functions: netlify.toml names the folder, and its
  // [functions."nightly"] schedule joins `export const config = { schedule }` of another.
  WriteTree(project,
            {{"fns/hi.ts", "export default async () => new Response('second');\n"},
             {"fns/tick.mjs",
              "export default async () => {};\nexport const config = { schedule: '@daily' };\n"},
             {"fns/nightly.mjs", "export default async () => {};\n"},
             {"netlify.toml",
              "[functions]\n  directory = \"fns\"\n"
              "[functions.\"nightly\"]\n  schedule = \"0 3 * * MON-FRI\"\n"}});
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(project);
  run = Exec(
      {"deploy", "public", "--site", "clifns", "--prod", "--api-url", base, "--auth-token", token});
  std::filesystem::current_path(cwd);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_TRUE(core::testing::WaitUntil([&] { return fn() == "200 second"; })) << fn();
  {
    auto site_now = Call(base, "GET", "/api/v1/sites/clifns", "", token, "");
    ASSERT_TRUE(site_now.ok());
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(site_now->body, ec);
    ASSERT_FALSE(ec) << site_now->body;
    const std::string live(v.at("published_deploy").at("id").as_string());
    auto listed = Call(base, "GET", "/api/v1/deploys/" + live + "/functions", "", token, "");
    ASSERT_TRUE(listed.ok());
    EXPECT_NE(listed->body.find(R"("name":"tick")"), std::string::npos) << listed->body;
    EXPECT_NE(listed->body.find(R"("schedule":"@daily")"), std::string::npos) << listed->body;
    EXPECT_NE(listed->body.find(R"("schedule":"0 3 * * MON-FRI")"), std::string::npos)
        << listed->body;
    EXPECT_EQ(get("/.netlify/functions/nightly").substr(0, 3), "404");
  }

  // A function esbuild cannot bundle: the deploy does not happen, esbuild says why.
  WriteTree(project, {{"fns/hi.ts", "import x from 'absent-package'; export default x;\n"}});
  run = Exec({"deploy", project + "/public", "--site", "clifns", "--prod", "--functions",
              project + "/fns", "--api-url", base, "--auth-token", token});
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.err.find("Could not resolve \"absent-package\""), std::string::npos) << run.err;
  EXPECT_EQ(fn(), "200 second");
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0) << ReadFile(dir_ + "/stderr");
}

// A background function (`-background`) answers 202 at once and runs on; a scheduled function
// (netlify-cli's function_schedules) is not callable over HTTP and is listed with its next run.
// A site's functions_timeout (1..60 s, 0 the default 10 s) bounds its synchronous calls.
TEST_F(Functions, SiteTimeoutBoundsSynchronousCalls) {
  if (::access("/usr/bin/bwrap", X_OK) != 0 || ::access("/usr/bin/node", X_OK) != 0) {
    GTEST_SKIP() << "needs /usr/bin/bwrap and /usr/bin/node";
  }
  if (::geteuid() != 0) GTEST_SKIP() << "functions run in the sandbox only as root";
  ASSERT_EQ(Exec({"migrate", "--data-dir", DataDir()}).exit_code, 0);
  pid_t pid = 0;
  const std::string port = StartServer(pid);
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  const std::string base = "http://127.0.0.1:" + port;
  const Caller call{base};
  const std::string token = SignUpToken(base, "slow@example.com");
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(call("POST", "/api/v1/sites", R"({"name":"slow"})", token).status, 201);
  // Bad values change nothing.
  for (const char* bad : {R"({"functions_timeout":61})", R"({"functions_timeout":-1})"}) {
    auto r = call("PATCH", "/api/v1/sites/slow", bad, token);
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_NE(r.body.find("invalid_functions_timeout"), std::string::npos) << r.body;
  }
  EXPECT_EQ(call("PATCH", "/api/v1/sites/slow", R"({"functions_timeout":"2"})", token).status, 400);
  EXPECT_NE(call("GET", "/api/v1/sites/slow", "", token).body.find(R"("functions_timeout":0)"),
            std::string::npos);

  // A function that takes 2.5 s.
  const std::string nap = Zip({{"nap.mjs", R"(
export default async () => { await new Promise((r) => setTimeout(r, 2500)); return new Response("rested"); };)"}});
  const std::string id =
      JsonField(call("POST", "/api/v1/sites/slow/deploys", "{}", token).body, "id");
  ASSERT_EQ(
      call("PUT", "/api/v1/deploys/" + id,
           R"({"files":{},"functions":{"nap":")" + core::HexEncode(core::Sha256(nap)) + "\"}}",
           token)
          .status,
      200);
  ASSERT_EQ(call("PUT", "/api/v1/deploys/" + id + "/functions/nap", nap, token).status, 200);
  ASSERT_TRUE(core::testing::WaitUntil([&] {
    return JsonField(call("GET", "/api/v1/deploys/" + id, "", token).body, "state") == "ready";
  }));
  auto nap_call = [&] { return call("GET", "/.netlify/functions/nap", "", "", "slow.localhost"); };
  EXPECT_EQ(nap_call().body, "rested");  // within the default 10 s

  ASSERT_EQ(call("PATCH", "/api/v1/sites/slow", R"({"functions_timeout":1})", token).status, 200);
  EXPECT_NE(call("GET", "/api/v1/sites/slow", "", token).body.find(R"("functions_timeout":1)"),
            std::string::npos);
  // The edge sees the change with the site's change event.
  EXPECT_TRUE(core::testing::WaitUntil([&] { return nap_call().status == 504; }));

  ASSERT_EQ(call("PATCH", "/api/v1/sites/slow", R"({"functions_timeout":60})", token).status, 200);
  EXPECT_TRUE(core::testing::WaitUntil([&] { return nap_call().body == "rested"; }));
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0) << ReadFile(dir_ + "/stderr");
}

TEST_F(Functions, BackgroundAndScheduledFunctions) {
  if (::access("/usr/bin/bwrap", X_OK) != 0 || ::access("/usr/bin/node", X_OK) != 0) {
    GTEST_SKIP() << "needs /usr/bin/bwrap and /usr/bin/node";
  }
  if (::geteuid() != 0) GTEST_SKIP() << "functions run in the sandbox only as root";
  ASSERT_EQ(Exec({"migrate", "--data-dir", DataDir()}).exit_code, 0);
  pid_t pid = 0;
  const std::string port = StartServer(pid);
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  const std::string base = "http://127.0.0.1:" + port;
  const Caller call{base, "jobs.localhost"};
  const std::string token = SignUpToken(base, "jobs@example.com");
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(call("POST", "/api/v1/sites", R"({"name":"jobs"})", token, "").status, 201);

  const std::string work = Zip({{"work-background.mjs", R"(
export default async (req) => {
  const body = await req.text();
  await new Promise((r) => setTimeout(r, 1500));
  console.log("BG DONE " + req.method + " " + body);
  return new Response("nobody reads this");
};)"}});
  const std::string tick = Zip({{"tick.mjs", R"(
export default async (req) => { console.log("TICK " + (await req.json()).next_run); };)"}});
  auto sha = [](const std::string& zip) { return core::HexEncode(core::Sha256(zip)); };
  const std::string id =
      JsonField(call("POST", "/api/v1/sites/jobs/deploys", "{}", token, "").body, "id");
  const std::string functions =
      R"("functions":{"work-background":")" + sha(work) + R"(","tick":")" + sha(tick) + "\"}";
  // A schedule that is not cron is refused.
  auto refused = call("PUT", "/api/v1/deploys/" + id,
                      R"({"files":{},)" + functions +
                          R"(,"function_schedules":[{"name":"tick","cron":"every minute"}]})",
                      token, "");
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_NE(refused.body.find("invalid_function_config"), std::string::npos) << refused.body;
  // What netlify-cli sends for `export const config = { schedule: "*/5 * * * *" }`.
  ASSERT_EQ(call("PUT", "/api/v1/deploys/" + id,
                 R"({"files":{},)" + functions +
                     R"(,"function_schedules":[{"name":"tick","cron":"*/5 * * * *"}]})",
                 token, "")
                .status,
            200);
  ASSERT_EQ(
      call("PUT", "/api/v1/deploys/" + id + "/functions/work-background", work, token, "").status,
      200);
  ASSERT_EQ(call("PUT", "/api/v1/deploys/" + id + "/functions/tick", tick, token, "").status, 200);
  ASSERT_TRUE(core::testing::WaitUntil([&] {
    return JsonField(call("GET", "/api/v1/deploys/" + id, "", token, "").body, "state") == "ready";
  }));

  auto accepted = call("POST", "/.netlify/functions/work-background", "job 7", "");
  EXPECT_EQ(accepted.status, 202);
  EXPECT_EQ(accepted.body, "");
  EXPECT_EQ(ReadFile(dir_ + "/stderr").find("BG DONE"), std::string::npos)
      << "the client does not wait for the function";
  EXPECT_TRUE(core::testing::WaitUntil([&] {
    return ReadFile(dir_ + "/stderr").find("BG DONE POST job 7") != std::string::npos;
  })) << ReadFile(dir_ + "/stderr");

  auto scheduled = call("GET", "/.netlify/functions/tick", "", "");
  EXPECT_EQ(scheduled.status, 404);
  EXPECT_NE(scheduled.body.find("scheduled_function"), std::string::npos) << scheduled.body;

  const std::string listed =
      call("GET", "/api/v1/deploys/" + id + "/functions", "", token, "").body;
  EXPECT_NE(listed.find(R"("name":"tick")"), std::string::npos) << listed;
  EXPECT_NE(listed.find(R"("schedule":"*/5 * * * *","next_run":"20)"), std::string::npos) << listed;
  EXPECT_NE(listed.find(R"("name":"work-background")"), std::string::npos) << listed;
  EXPECT_NE(listed.find(R"("background":true,"schedule":null,"next_run":null)"), std::string::npos)
      << listed;
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0) << ReadFile(dir_ + "/stderr");
}

// --functions-runner lambda through the binary, against the fake Lambda API (AWS is not
// reachable here): the deploy's function is created on Lambda on its first call and its answer
// comes back through the edge; the fake checked every request's signature.
TEST_F(Functions, LambdaRunnerServesThroughTheFakeLambda) {
  if (::access("/usr/bin/node", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/node";
  functions::testing::FakeLambda fake(dir_ + "/fake-lambda");
  ::setenv("AWS_ACCESS_KEY_ID", functions::testing::FakeLambda::kAccessKey, 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", functions::testing::FakeLambda::kSecretKey, 1);
  ::unsetenv("AWS_SESSION_TOKEN");
  ASSERT_EQ(Exec({"migrate", "--data-dir", DataDir()}).exit_code, 0);
  pid_t pid = 0;
  const std::string port =
      StartServer(pid, {"--functions-runner", "lambda", "--lambda-endpoint", fake.Endpoint(),
                        "--lambda-region", functions::testing::FakeLambda::kRegion,
                        "--lambda-role-arn", "arn:aws:iam::123456789012:role/fns"});
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  const std::string base = "http://127.0.0.1:" + port;
  const Caller call{base};
  const std::string token = SignUpToken(base, "lambda@example.com");
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(call("POST", "/api/v1/sites", R"({"name":"lam"})", token).status, 201);
  const std::string id =
      JsonField(call("POST", "/api/v1/sites/lam/deploys", "{}", token).body, "id");
  const std::string hello = Zip({{"hello.mjs",
                                  "export default async (req, context) => new Response("
                                  "`on lambda ${context.site.name} ${process.env.SITE_NAME}`);"}});
  const std::string files =
      R"({"files":{},"functions":{"hello":")" + core::HexEncode(core::Sha256(hello)) + "\"}}";
  EXPECT_EQ(call("PUT", "/api/v1/deploys/" + id, files, token).status, 200);
  EXPECT_EQ(call("PUT", "/api/v1/deploys/" + id + "/functions/hello", hello, token).status, 200);
  EXPECT_TRUE(core::testing::WaitUntil([&] {
    return JsonField(call("GET", "/api/v1/deploys/" + id, "", token).body, "state") == "ready";
  }));
  const auto answer = call("GET", "/.netlify/functions/hello", "", "", "lam.localhost");
  EXPECT_EQ(answer.status, 200) << answer.body << ReadFile(dir_ + "/stderr");
  EXPECT_EQ(answer.body, "on lambda lam lam");
  EXPECT_EQ(fake.Creates(), 1);
  EXPECT_EQ(fake.Rejected(), 0);
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0) << ReadFile(dir_ + "/stderr");
}

}  // namespace
}  // namespace replideploy::cli
