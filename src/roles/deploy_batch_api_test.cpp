// Our CLI's batched upload (POST /api/v1/deploys/{id}/files) against a real server, on SQLite and
// on PostgreSQL; Netlify's one-file PUT beside it.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <string>

#include "core/crypto.hpp"
#include "core/testing.hpp"
#include "deploys/file_batch.hpp"
#include "roles/control_plane_testing.hpp"

namespace replideploy::api {
namespace {

namespace json = boost::json;
using testing::ControlPlaneTest;
using testing::Reply;

std::string Sha1(const std::string& s) { return core::HexEncode(core::Sha1(s)); }

std::string Batch(const std::map<std::string, std::string>& files) {
  std::string body;
  for (const auto& [path, content] : files) deploys::AppendToFileBatch(body, path, content);
  return body;
}

class DeployBatchApi : public ControlPlaneTest {
 protected:
  void SetUp() override {
    ControlPlaneTest::SetUp();
    if (IsSkipped()) return;
    Start();
    ASSERT_EQ(Register("ann@example.com").status, 201);
    token_ = SignIn("ann@example.com");
    ASSERT_EQ(Call("POST", "/api/v1/sites", json::object{{"name", "batch"}}, token_).status, 201);
  }

  // A new deploy declaring `files` (path -> content); its id.
  std::string NewDeploy(const std::map<std::string, std::string>& files) {
    Reply created = Call("POST", "/api/v1/sites/batch/deploys", json::object{}, token_);
    EXPECT_EQ(created.status, 200) << created.raw;
    const std::string id = StringAt(created, "id");
    json::object digests;
    for (const auto& [path, content] : files) digests[path] = Sha1(content);
    Reply listed = Call("PUT", "/api/v1/deploys/" + id, json::object{{"files", digests}}, token_);
    EXPECT_EQ(listed.status, 200) << listed.raw;
    return id;
  }
  std::size_t Required(const std::string& id) {
    Reply d = Call("GET", "/api/v1/deploys/" + id, nullptr, token_);
    EXPECT_EQ(d.status, 200) << d.raw;
    return d.body.at("required").as_array().size();
  }
  std::string WaitForEnd(const std::string& id) {
    std::string state;
    core::testing::WaitUntil([&] {
      state = StringAt(Call("GET", "/api/v1/deploys/" + id, nullptr, token_), "state");
      return state == "ready" || state == "error";
    });
    return state;
  }
  Reply PostBatch(const std::string& id, const std::string& body, const std::string& token) {
    return Call("POST", "/api/v1/deploys/" + id + "/files", json::value(body), token);
  }

  std::string token_;
};

TEST_P(DeployBatchApi, OneBatchStoresEveryFileAndTheOneFilePutStillWorks) {
  const std::map<std::string, std::string> files{
      {"/index.html", "<h1>home</h1>"}, {"/a/b.css", "b {}"}, {"/same.txt", "b {}"}};
  const std::string id = NewDeploy(files);
  EXPECT_EQ(Required(id), 2U) << "two contents";
  Reply up = PostBatch(id, Batch({{"/index.html", "<h1>home</h1>"}, {"a/b.css", "b {}"}}), token_);
  ASSERT_EQ(up.status, 200) << up.raw;
  EXPECT_EQ(up.body.at("uploaded").as_int64(), 2);
  EXPECT_EQ(WaitForEnd(id), "ready");
  // A retry of the whole batch after the deploy moved on is answered as done.
  EXPECT_EQ(PostBatch(id, Batch({{"/a/b.css", "b {}"}}), token_).status, 200);

  // netlify-cli's one-file PUT, unchanged.
  const std::string second = NewDeploy({{"/index.html", "<h1>v2</h1>"}, {"/a/b.css", "b {}"}});
  EXPECT_EQ(Required(second), 1U);
  Reply put = Call("PUT", "/api/v1/deploys/" + second + "/files/index.html",
                   json::value("<h1>v2</h1>"), token_);
  ASSERT_EQ(put.status, 200) << put.raw;
  EXPECT_EQ(StringAt(put, "sha"), Sha1("<h1>v2</h1>"));
  EXPECT_EQ(WaitForEnd(second), "ready");
}

TEST_P(DeployBatchApi, BadBatchesAreRefusedAndStoreNothing) {
  const std::string id = NewDeploy({{"/a.txt", "a"}, {"/b.txt", "b"}});
  const auto refused = [&](const std::string& body, int status, const std::string& code) {
    Reply r = PostBatch(id, body, token_);
    EXPECT_EQ(r.status, status) << r.raw;
    EXPECT_EQ(ErrorCodeOf(r), code) << r.raw;
    EXPECT_EQ(Required(id), 2U) << "nothing recorded after " << code;
  };
  // The good file of a batch is not kept when another one is wrong.
  refused(Batch({{"/a.txt", "a"}, {"/b.txt", "not b"}}), 422, "digest_mismatch");
  refused(Batch({{"/a.txt", "a"}, {"/c.txt", "c"}}), 422, "unknown_file");
  refused(Batch({{"/a.txt", "a"}, {"/../b.txt", "b"}}), 422, "invalid_path");
  refused("/a.txt\n5\na", 400, "malformed_batch");
  refused("/a.txt\nfive\na", 400, "malformed_batch");
  refused("", 400, "malformed_batch");
  std::string many;
  for (std::size_t i = 0; i <= deploys::kMaxBatchFiles; ++i) {
    deploys::AppendToFileBatch(many, "/a.txt", "a");
  }
  refused(many, 413, "too_many_files");
  refused(std::string((std::size_t{64} << 20) + 1, 'x'), 413, "payload_too_large");
  // Someone else's deploy does not exist for them.
  ASSERT_EQ(Register("bob@example.com").status, 201);
  Reply other = PostBatch(id, Batch({{"/a.txt", "a"}, {"/b.txt", "b"}}), SignIn("bob@example.com"));
  EXPECT_EQ(other.status, 404) << other.raw;
  EXPECT_EQ(Required(id), 2U);
  EXPECT_EQ(PostBatch(id, Batch({{"/a.txt", "a"}}), "").status, 401);

  Reply good = PostBatch(id, Batch({{"/a.txt", "a"}, {"/b.txt", "b"}}), token_);
  ASSERT_EQ(good.status, 200) << good.raw;
  EXPECT_EQ(WaitForEnd(id), "ready");
}

INSTANTIATE_TEST_SUITE_P(Engines, DeployBatchApi, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::api
