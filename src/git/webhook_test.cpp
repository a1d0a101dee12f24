#include "git/webhook.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/crypto.hpp"

namespace replideploy::git {
namespace {

namespace json = boost::json;

constexpr std::string_view kSecret = "It's a Secret to Everybody";
const std::vector<std::string> kFixtures = {
    "ping-payload.json",
    "push-payload.json",
    "push-with-new-branch.payload.json",
    "pull_request-opened.payload.json",
    "pull_request-synchronize.payload.json",
    "pull_request-closed.payload.json",
};

std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(RD_GIT_TESTDATA_DIR) + "/github-webhooks/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing fixture " << name;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string EventFor(const std::string& fixture) {
  if (fixture.starts_with("ping")) return "ping";
  if (fixture.starts_with("push")) return "push";
  return "pull_request";
}

WebhookEvent MustParse(std::string_view event_name, std::string_view body) {
  Result<WebhookEvent> event = ParseGithubEvent(event_name, body);
  EXPECT_TRUE(event.ok()) << event.error().message;
  return event.ok() ? *event : WebhookEvent{};
}

// The fixture with one value replaced: `path` is a list of object keys.
std::string WithValue(const std::string& fixture, const std::vector<std::string>& path,
                      const json::value& value) {
  json::value root = json::parse(ReadFixture(fixture));
  json::value* at = &root;
  for (const std::string& key : path) at = &at->as_object()[key];
  *at = value;
  return json::serialize(root);
}

std::string WithoutKey(const std::string& fixture, const std::vector<std::string>& path) {
  json::value root = json::parse(ReadFixture(fixture));
  json::value* at = &root;
  for (std::size_t i = 0; i + 1 < path.size(); ++i) at = &at->as_object()[path[i]];
  at->as_object().erase(path.back());
  return json::serialize(root);
}

void ExpectBadRequest(const Result<WebhookEvent>& event, std::string_view mentions) {
  ASSERT_FALSE(event.ok());
  EXPECT_EQ(event.error().code, ErrorCode::kBadRequest);
  EXPECT_NE(event.error().message.find(mentions), std::string::npos)
      << "message \"" << event.error().message << "\" does not mention \"" << mentions << "\"";
}

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override { core::InitCrypto(); }
};

// --- signatures -------------------------------------------------------------------------

TEST_F(WebhookTest, SignatureMatchesGithubDocumentedExample) {
  // From GitHub's "Validating webhook deliveries" page.
  EXPECT_EQ(GithubSignature("Hello, World!", kSecret),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
  EXPECT_TRUE(VerifyGithubSignature(
      "Hello, World!", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
      kSecret));
}

TEST_F(WebhookTest, ValidSignatureOverEveryFixture) {
  for (const std::string& name : kFixtures) {
    const std::string body = ReadFixture(name);
    const std::string header =
        "sha256=" + core::HexEncode(core::HmacSha256(kSecret, body));  // computed independently
    EXPECT_TRUE(VerifyGithubSignature(body, header, kSecret)) << name;
    EXPECT_EQ(GithubSignature(body, kSecret), header) << name;
  }
}

TEST_F(WebhookTest, UppercaseHexIsAccepted) {
  const std::string body = ReadFixture("push-payload.json");
  std::string header = GithubSignature(body, kSecret);
  for (std::size_t i = 7; i < header.size(); ++i) {
    header[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(header[i])));
  }
  EXPECT_TRUE(VerifyGithubSignature(body, header, kSecret));
}

TEST_F(WebhookTest, InvalidSignaturesAreRejected) {
  const std::string body = ReadFixture("push-with-new-branch.payload.json");
  const std::string good = GithubSignature(body, kSecret);
  const std::string hex = good.substr(7);
  ASSERT_TRUE(VerifyGithubSignature(body, good, kSecret));

  std::string changed_body = body;
  changed_body[body.size() / 2] ^= 0x01;
  EXPECT_FALSE(VerifyGithubSignature(changed_body, good, kSecret)) << "one byte changed";
  EXPECT_FALSE(VerifyGithubSignature(body + " ", good, kSecret)) << "byte appended";
  EXPECT_FALSE(VerifyGithubSignature(body, good, "another secret")) << "wrong secret";
  EXPECT_FALSE(VerifyGithubSignature(body, good, "")) << "empty secret";
  EXPECT_FALSE(VerifyGithubSignature(body, "", kSecret)) << "missing header";
  EXPECT_FALSE(VerifyGithubSignature(body, "sha256=", kSecret)) << "no digest";
  EXPECT_FALSE(VerifyGithubSignature(body, hex, kSecret)) << "no prefix";
  EXPECT_FALSE(VerifyGithubSignature(body, "SHA256=" + hex, kSecret)) << "prefix case";
  EXPECT_FALSE(VerifyGithubSignature(body, " sha256=" + hex, kSecret)) << "leading space";
  EXPECT_FALSE(VerifyGithubSignature(body, good + " ", kSecret)) << "trailing space";
  const std::string sha1 = "sha1=" + core::HexEncode(core::Sha1(body));
  EXPECT_FALSE(VerifyGithubSignature(body, sha1, kSecret)) << "sha1 prefix";
  EXPECT_FALSE(VerifyGithubSignature(body, "sha1=" + hex, kSecret)) << "sha1 prefix, sha256 hex";
  std::string non_hex = good;
  non_hex[10] = 'g';
  EXPECT_FALSE(VerifyGithubSignature(body, non_hex, kSecret)) << "non-hex";
  EXPECT_FALSE(VerifyGithubSignature(body, good.substr(0, good.size() - 2), kSecret)) << "short";
  EXPECT_FALSE(VerifyGithubSignature(body, good + "00", kSecret)) << "long";
  EXPECT_FALSE(VerifyGithubSignature(body, good.substr(0, good.size() - 1), kSecret)) << "odd";
  std::string flipped = good;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  EXPECT_FALSE(VerifyGithubSignature(body, flipped, kSecret)) << "last digit changed";
  EXPECT_FALSE(VerifyGithubSignature(body, std::string("sha256=") + std::string(64, '\0'), kSecret))
      << "NULs";
}

// --- fixtures -----------------------------------------------------------------------------

TEST_F(WebhookTest, PingFixture) {
  WebhookEvent event = MustParse("ping", ReadFixture("ping-payload.json"));
  EXPECT_EQ(event.kind, EventKind::kPing);
  EXPECT_EQ(event.repository.full_name, "Octocoders/Hello-World");
  EXPECT_EQ(event.sender, "Codertocat");
  BuildDecision d = DecideBuild(event, SiteGitSettings{});
  EXPECT_EQ(d.action, BuildAction::kNone);
}

TEST_F(WebhookTest, TagDeletionFixtureIsIgnored) {
  WebhookEvent event = MustParse("push", ReadFixture("push-payload.json"));
  EXPECT_EQ(event.kind, EventKind::kIgnore);
  EXPECT_NE(event.ignore_reason.find("refs/tags/simple-tag"), std::string::npos)
      << event.ignore_reason;
  SiteGitSettings site{"Codertocat/Hello-World", "master", true};
  BuildDecision d = DecideBuild(event, site);
  EXPECT_EQ(d.action, BuildAction::kNone);
  EXPECT_EQ(d.reason, event.ignore_reason);
}

TEST_F(WebhookTest, PushWithNewBranchFixture) {
  WebhookEvent event = MustParse("push", ReadFixture("push-with-new-branch.payload.json"));
  ASSERT_EQ(event.kind, EventKind::kPush);
  EXPECT_EQ(event.repository.full_name, "Codertocat/Hello-World");
  EXPECT_EQ(event.repository.clone_url, "https://github.com/Codertocat/Hello-World.git");
  EXPECT_EQ(event.repository.html_url, "https://github.com/Codertocat/Hello-World");
  EXPECT_EQ(event.push.branch, "master");
  EXPECT_EQ(event.push.commit_sha, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
  EXPECT_EQ(event.push.commit_message, "Initial commit");
  EXPECT_EQ(event.push.pusher, "Codertocat");
  EXPECT_EQ(event.sender, "Codertocat");
}

TEST_F(WebhookTest, PushToProductionBranchIsProductionDeploy) {
  WebhookEvent event = MustParse("push", ReadFixture("push-with-new-branch.payload.json"));
  for (bool branch_deploys : {false, true}) {
    BuildDecision d = DecideBuild(event, {"Codertocat/Hello-World", "master", branch_deploys});
    EXPECT_EQ(d.action, BuildAction::kProductionDeploy);
    EXPECT_EQ(d.context, "production");
    EXPECT_EQ(d.branch, "master");
    EXPECT_EQ(d.commit_sha, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
    EXPECT_EQ(d.commit_message, "Initial commit");
    EXPECT_TRUE(d.allow_secrets);
  }
}

TEST_F(WebhookTest, PushToOtherBranchDependsOnBranchDeploySetting) {
  WebhookEvent event = MustParse("push", ReadFixture("push-with-new-branch.payload.json"));
  BuildDecision on = DecideBuild(event, {"Codertocat/Hello-World", "main", true});
  EXPECT_EQ(on.action, BuildAction::kBranchDeploy);
  EXPECT_EQ(on.context, "branch-deploy");
  EXPECT_EQ(on.branch, "master");
  EXPECT_EQ(on.commit_sha, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
  BuildDecision off = DecideBuild(event, {"Codertocat/Hello-World", "main", false});
  EXPECT_EQ(off.action, BuildAction::kNone);
  EXPECT_NE(off.reason.find("branch deploys are off"), std::string::npos) << off.reason;
}

TEST_F(WebhookTest, EventFromAnotherRepositoryDecidesNothing) {
  WebhookEvent event = MustParse("push", ReadFixture("push-with-new-branch.payload.json"));
  EXPECT_EQ(DecideBuild(event, {"someone/else", "master", true}).action, BuildAction::kNone);
  // GitHub names are case-insensitive; empty means "not checked".
  EXPECT_EQ(DecideBuild(event, {"codertocat/hello-world", "master", true}).action,
            BuildAction::kProductionDeploy);
  EXPECT_EQ(DecideBuild(event, {"", "master", true}).action, BuildAction::kProductionDeploy);
}

TEST_F(WebhookTest, PullRequestOpenedFixtureIsPreview) {
  WebhookEvent event = MustParse("pull_request", ReadFixture("pull_request-opened.payload.json"));
  ASSERT_EQ(event.kind, EventKind::kPullRequest);
  const PullRequestEvent& pr = event.pull_request;
  EXPECT_EQ(pr.action, "opened");
  EXPECT_EQ(pr.number, 2);
  EXPECT_EQ(pr.title, "Update the README with new information.");
  EXPECT_EQ(pr.head_sha, "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
  EXPECT_EQ(pr.head_ref, "changes");
  EXPECT_EQ(pr.base_ref, "master");
  EXPECT_EQ(pr.head_repo_full_name, "Codertocat/Hello-World");
  EXPECT_FALSE(pr.is_fork);
  EXPECT_EQ(event.repository.full_name, "Codertocat/Hello-World");

  BuildDecision d = DecideBuild(event, {"Codertocat/Hello-World", "master", false});
  EXPECT_EQ(d.action, BuildAction::kDeployPreview);
  EXPECT_EQ(d.context, "deploy-preview");
  EXPECT_EQ(d.pr_number, 2);
  EXPECT_EQ(d.branch, "changes");
  EXPECT_EQ(d.commit_sha, "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
  EXPECT_TRUE(d.allow_secrets);

  SiteGitSettings no_previews{"Codertocat/Hello-World", "master", false, false};
  EXPECT_EQ(DecideBuild(event, no_previews).action, BuildAction::kNone);
}

TEST_F(WebhookTest, PullRequestSynchronizeFixtureIsPreview) {
  WebhookEvent event =
      MustParse("pull_request", ReadFixture("pull_request-synchronize.payload.json"));
  ASSERT_EQ(event.kind, EventKind::kPullRequest);
  EXPECT_EQ(event.pull_request.action, "synchronize");
  EXPECT_EQ(event.pull_request.number, 2);
  EXPECT_EQ(event.pull_request.head_sha, "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
  BuildDecision d = DecideBuild(event, {"Codertocat/Hello-World", "master", false});
  EXPECT_EQ(d.action, BuildAction::kDeployPreview);
  EXPECT_EQ(d.pr_number, 2);
}

TEST_F(WebhookTest, PullRequestReopenedIsPreview) {
  WebhookEvent event = MustParse(
      "pull_request", WithValue("pull_request-opened.payload.json", {"action"}, "reopened"));
  ASSERT_EQ(event.kind, EventKind::kPullRequest);
  EXPECT_EQ(DecideBuild(event, {}).action, BuildAction::kDeployPreview);
}

TEST_F(WebhookTest, PullRequestClosedFixtureStopsPreviews) {
  WebhookEvent event = MustParse("pull_request", ReadFixture("pull_request-closed.payload.json"));
  ASSERT_EQ(event.kind, EventKind::kPullRequest);
  EXPECT_EQ(event.pull_request.action, "closed");
  EXPECT_FALSE(event.pull_request.merged);
  BuildDecision d = DecideBuild(event, {"Codertocat/Hello-World", "master", true});
  EXPECT_EQ(d.action, BuildAction::kStopPreviews);
  EXPECT_EQ(d.pr_number, 2);
  EXPECT_TRUE(d.context.empty());
}

TEST_F(WebhookTest, PullRequestFromForkGetsNoSecrets) {
  WebhookEvent fork = MustParse(
      "pull_request", WithValue("pull_request-opened.payload.json",
                                {"pull_request", "head", "repo", "full_name"}, "mallory/Hello"));
  EXPECT_TRUE(fork.pull_request.is_fork);
  EXPECT_EQ(fork.pull_request.head_repo_full_name, "mallory/Hello");
  BuildDecision d = DecideBuild(fork, {"Codertocat/Hello-World", "master", false});
  EXPECT_EQ(d.action, BuildAction::kDeployPreview);
  EXPECT_FALSE(d.allow_secrets);

  WebhookEvent deleted =
      MustParse("pull_request", WithValue("pull_request-synchronize.payload.json",
                                          {"pull_request", "head", "repo"}, nullptr));
  EXPECT_TRUE(deleted.pull_request.is_fork);
  EXPECT_TRUE(deleted.pull_request.head_repo_full_name.empty());
  EXPECT_FALSE(DecideBuild(deleted, {}).allow_secrets);
}

TEST_F(WebhookTest, OtherPullRequestActionsAreIgnored) {
  for (const char* action : {"labeled", "edited", "assigned", "review_requested", ""}) {
    WebhookEvent event = MustParse(
        "pull_request", WithValue("pull_request-opened.payload.json", {"action"}, action));
    EXPECT_EQ(event.kind, EventKind::kIgnore) << action;
    EXPECT_EQ(DecideBuild(event, {}).action, BuildAction::kNone) << action;
  }
}

TEST_F(WebhookTest, BranchDeletionIsIgnored) {
  const std::string zeros(40, '0');
  WebhookEvent by_after = MustParse(
      "push", WithValue("push-with-new-branch.payload.json", {"after"}, json::string(zeros)));
  EXPECT_EQ(by_after.kind, EventKind::kIgnore);
  WebhookEvent by_flag =
      MustParse("push", WithValue("push-with-new-branch.payload.json", {"deleted"}, true));
  EXPECT_EQ(by_flag.kind, EventKind::kIgnore);
  EXPECT_NE(by_flag.ignore_reason.find("deleted"), std::string::npos) << by_flag.ignore_reason;
}

TEST_F(WebhookTest, TagAndOtherRefPushesAreIgnored) {
  for (const char* ref : {"refs/tags/v1.0", "refs/notes/commits", "refs/pull/2/head", "master"}) {
    WebhookEvent event =
        MustParse("push", WithValue("push-with-new-branch.payload.json", {"ref"}, ref));
    EXPECT_EQ(event.kind, EventKind::kIgnore) << ref;
    EXPECT_EQ(DecideBuild(event, {}).action, BuildAction::kNone) << ref;
  }
}

TEST_F(WebhookTest, UnknownEventsAreIgnored) {
  for (const char* name : {"issues", "star", "workflow_run", "installation"}) {
    WebhookEvent event = MustParse(name, ReadFixture("push-with-new-branch.payload.json"));
    EXPECT_EQ(event.kind, EventKind::kIgnore) << name;
    EXPECT_NE(event.ignore_reason.find(name), std::string::npos) << event.ignore_reason;
  }
  WebhookEvent odd = MustParse("a\nb\x01", "{}");
  EXPECT_EQ(odd.ignore_reason.find('\n'), std::string::npos);
}

TEST_F(WebhookTest, MissingHeadCommitAndPusherAreTolerated) {
  std::string body = WithValue("push-with-new-branch.payload.json", {"head_commit"}, nullptr);
  WebhookEvent event = MustParse("push", body);
  ASSERT_EQ(event.kind, EventKind::kPush);
  EXPECT_TRUE(event.push.commit_message.empty());
  body = WithoutKey("push-with-new-branch.payload.json", {"pusher"});
  event = MustParse("push", body);
  ASSERT_EQ(event.kind, EventKind::kPush);
  EXPECT_EQ(event.push.pusher, "Codertocat");  // falls back to sender.login
}

// --- bad input ----------------------------------------------------------------------------

TEST_F(WebhookTest, MalformedJsonIsBadRequest) {
  for (const char* body : {"", " ", "{", "}", "{\"ref\":}", "not json", "{\"a\":1}}", "nul",
                           "{\"a\":1,}", "\xff\xfe{}", "{\"ref\":\"\xc3\x28\"}"}) {
    ExpectBadRequest(ParseGithubEvent("push", body), "not valid JSON");
  }
  for (const char* body : {"[]", "\"x\"", "null", "42", "true"}) {
    ExpectBadRequest(ParseGithubEvent("push", body), "expected a JSON object");
  }
  ExpectBadRequest(ParseGithubEvent("", "{}"), "X-GitHub-Event");
}

TEST_F(WebhookTest, DeepNestingIsBadRequestNotACrash) {
  for (std::size_t depth : {65, 1000, 200000}) {
    std::string arrays = std::string(depth, '[') + std::string(depth, ']');
    ExpectBadRequest(ParseGithubEvent("push", arrays), "not valid JSON");
    std::string objects;
    for (std::size_t i = 0; i < depth; ++i) objects += "{\"a\":";
    objects += "1" + std::string(depth, '}');
    ExpectBadRequest(ParseGithubEvent("push", objects), "not valid JSON");
  }
  // Real payloads are far shallower than the limit.
  std::string nested = std::string(30, '[') + std::string(30, ']');
  EXPECT_TRUE(ParseGithubEvent("issues", "{\"x\":" + nested + "}").ok());
}

TEST_F(WebhookTest, OversizedBodyIsRefused) {
  std::string body(kMaxWebhookBodyBytes + 1, ' ');
  Result<WebhookEvent> event = ParseGithubEvent("push", body);
  ASSERT_FALSE(event.ok());
  EXPECT_EQ(event.error().code, ErrorCode::kPayloadTooLarge);
}

TEST_F(WebhookTest, WrongTypesNameTheField) {
  const std::string push = "push-with-new-branch.payload.json";
  const std::string pr = "pull_request-opened.payload.json";
  ExpectBadRequest(ParseGithubEvent("push", WithValue(push, {"ref"}, 42)),
                   "ref: expected a string");
  ExpectBadRequest(ParseGithubEvent("push", WithValue(push, {"after"}, json::array{})),
                   "after: expected a string");
  ExpectBadRequest(ParseGithubEvent("push", WithValue(push, {"after"}, "HEAD")),
                   "after: not a commit sha");
  ExpectBadRequest(ParseGithubEvent("push", WithValue(push, {"after"}, "--upload-pack=evil")),
                   "after: not a commit sha");
  ExpectBadRequest(ParseGithubEvent("push", WithValue(push, {"deleted"}, "no")),
                   "deleted: expected a boolean");
  ExpectBadRequest(ParseGithubEvent("push", WithValue(push, {"repository"}, "x")),
                   "repository: expected an object");
  ExpectBadRequest(ParseGithubEvent("push", WithValue(push, {"repository", "full_name"}, 1.5)),
                   "repository.full_name: expected a string");
  ExpectBadRequest(ParseGithubEvent("push", WithoutKey(push, {"repository"})),
                   "repository: missing");
  ExpectBadRequest(ParseGithubEvent("push", WithValue(push, {"head_commit"}, 7)),
                   "head_commit: expected an object");
  ExpectBadRequest(ParseGithubEvent("push", WithValue(push, {"head_commit", "message"}, 7)),
                   "head_commit.message: expected a string");
  ExpectBadRequest(ParseGithubEvent("push", WithValue(push, {"sender"}, "x")),
                   "sender: expected an object");
  ExpectBadRequest(ParseGithubEvent("push", WithValue(push, {"ref"}, "refs/heads/-x")),
                   "not a valid branch name");
  ExpectBadRequest(ParseGithubEvent("push", WithValue(push, {"ref"}, "refs/heads/a..b")),
                   "not a valid branch name");
  ExpectBadRequest(ParseGithubEvent("push", WithValue(push, {"ref"}, "refs/heads/")),
                   "not a valid branch name");

  ExpectBadRequest(ParseGithubEvent("pull_request", WithValue(pr, {"action"}, 1)),
                   "action: expected a string");
  ExpectBadRequest(ParseGithubEvent("pull_request", WithValue(pr, {"number"}, "2")),
                   "number: expected an integer");
  ExpectBadRequest(ParseGithubEvent("pull_request", WithValue(pr, {"number"}, 2.0)),
                   "number: expected an integer");
  ExpectBadRequest(ParseGithubEvent("pull_request", WithValue(pr, {"number"}, -2)),
                   "number: expected a positive integer");
  ExpectBadRequest(
      ParseGithubEvent("pull_request", WithValue(pr, {"number"}, 18446744073709551615ULL)),
      "number: expected an integer");
  ExpectBadRequest(ParseGithubEvent("pull_request", WithValue(pr, {"pull_request"}, nullptr)),
                   "pull_request: expected an object");
  ExpectBadRequest(
      ParseGithubEvent("pull_request", WithoutKey(pr, {"pull_request", "head", "sha"})),
      "pull_request.head.sha: missing");
  ExpectBadRequest(
      ParseGithubEvent("pull_request", WithValue(pr, {"pull_request", "head", "ref"}, true)),
      "pull_request.head.ref: expected a string");
  ExpectBadRequest(
      ParseGithubEvent("pull_request", WithValue(pr, {"pull_request", "head", "repo"}, "x")),
      "pull_request.head.repo: expected an object");
  ExpectBadRequest(
      ParseGithubEvent("pull_request", WithValue(pr, {"pull_request", "base", "ref"}, "a b")),
      "pull_request.base.ref: not a valid branch name");
}

TEST_F(WebhookTest, EveryValueReplacedByEveryTypeNeverCrashes) {
  const std::vector<json::value> replacements = {
      nullptr, true, 0, -1, 1.5, "", "x", json::array{}, json::object{}, json::array{1, "a"}};
  std::size_t checked = 0;
  for (const std::string& name : kFixtures) {
    const json::value original = json::parse(ReadFixture(name));
    // Every key of the root and of its direct child objects.
    std::vector<std::vector<std::string>> paths;
    for (const auto& [key, value] : original.as_object()) {
      paths.push_back({std::string(key)});
      if (!value.is_object()) continue;
      for (const auto& [child, unused] : value.as_object()) {
        paths.push_back({std::string(key), std::string(child)});
      }
    }
    for (const auto& path : paths) {
      for (const json::value& replacement : replacements) {
        const std::string body = WithValue(name, path, replacement);
        Result<WebhookEvent> event = ParseGithubEvent(EventFor(name), body);
        if (!event.ok()) {
          EXPECT_EQ(event.error().code, ErrorCode::kBadRequest);
          EXPECT_FALSE(event.error().message.empty());
        } else {
          (void)DecideBuild(*event, {});
        }
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 1000u);
}

TEST_F(WebhookTest, TruncatedFixturesAreBadRequest) {
  for (const std::string& name : kFixtures) {
    std::string body = ReadFixture(name);
    while (!body.empty() && std::isspace(static_cast<unsigned char>(body.back()))) body.pop_back();
    ASSERT_TRUE(ParseGithubEvent(EventFor(name), body).ok()) << name;
    // Every prefix near both ends, a stride through the middle (ASan makes all of them slow).
    for (std::size_t n = 0; n < body.size(); n += (n < 1024 || n + 1024 > body.size()) ? 1 : 7) {
      Result<WebhookEvent> event = ParseGithubEvent(EventFor(name), body.substr(0, n));
      ASSERT_FALSE(event.ok()) << name << " prefix " << n;
      EXPECT_EQ(event.error().code, ErrorCode::kBadRequest) << name << " prefix " << n;
    }
  }
}

TEST_F(WebhookTest, RandomByteFlipsNeverCrash) {
  std::mt19937 rng(4);
  for (const std::string& name : kFixtures) {
    const std::string body = ReadFixture(name);
    std::uniform_int_distribution<std::size_t> pos(0, body.size() - 1);
    std::uniform_int_distribution<int> byte(0, 255);
    for (int i = 0; i < 300; ++i) {
      std::string mutated = body;
      for (int k = 0; k < 1 + i % 4; ++k) mutated[pos(rng)] = static_cast<char>(byte(rng));
      Result<WebhookEvent> event = ParseGithubEvent(EventFor(name), mutated);
      if (event.ok()) {
        (void)DecideBuild(*event, {});
      } else {
        EXPECT_EQ(event.error().code, ErrorCode::kBadRequest);
      }
    }
  }
}

}  // namespace
}  // namespace replideploy::git
