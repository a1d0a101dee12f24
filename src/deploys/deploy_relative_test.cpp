// DeployService::SetFilesRelative: a file list as changes to an earlier ready deploy.
#include <gtest/gtest.h>

#include <thread>

#include "core/metrics.hpp"
#include "deploys/deploys_testing.hpp"

namespace replideploy::deploys {
namespace {

class RelativeFileList : public DeployServiceTest {
 protected:
  // path -> content of the deploy's manifest, read back from the store.
  std::map<std::string, std::string> Served(const std::string& deploy_id) {
    std::map<std::string, std::string> out;
    auto manifest = deploys_->Manifest(deploy_id);
    EXPECT_TRUE(manifest.ok()) << manifest.error().message;
    if (!manifest.ok()) return out;
    const ManifestFiles& files = (*manifest)->files;
    for (const ManifestEntry& entry : files) {
      auto content = blobs_->Read(entry.sha256().view(), store::Variant::kIdentity);
      out[std::string(files.Path(entry))] =
          content.ok() ? *content : "<missing: " + content.error().message + ">";
    }
    return out;
  }
  std::int64_t RowsOf(const std::string& deploy_id) {
    auto rows =
        tdb_->db().Exec("SELECT COUNT(*) FROM deploy_files WHERE deploy_id = ?", {deploy_id});
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? rows->rows.front().Int(0) : -1;
  }
  // Uploads what `d` requires out of `files` (path -> content) and processes it.
  Deploy Finish(Deploy d, const std::map<std::string, std::string>& files) {
    for (const auto& [path, content] : files) {
      if (std::find(d.required.begin(), d.required.end(), Sha1ForTest(content)) ==
          d.required.end()) {
        continue;
      }
      auto up = deploys_->UploadFile(alice_.id, d.id, path, content);
      EXPECT_TRUE(up.ok()) << up.error().message;
    }
    EXPECT_TRUE(deploys_->ProcessPending().ok());
    return deploys_->Get(alice_.id, d.id).value();
  }
};

TEST_P(RelativeFileList, ResultIsTheBaseMinusDeletedPlusChanged) {
  const Deploy base =
      DeployFiles({{"index.html", "home"}, {"a.txt", "A"}, {"b.txt", "B"}, {"dir/c.txt", "C"}});
  Deploy d = deploys_->Create(alice_.id, "site", {}).value();
  d = deploys_
          ->SetFilesRelative(alice_.id, d.id, base.id,
                             {{"a.txt", Sha1ForTest("A2")}, {"/dir/new.txt", Sha1ForTest("N")}},
                             {"b.txt"}, {})
          .value();
  EXPECT_EQ(d.state, kStateUploading);
  EXPECT_EQ(d.file_count, 4);
  std::vector<std::string> want{Sha1ForTest("A2"), Sha1ForTest("N")};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(d.required, want) << "only the changed content is asked for";
  d = Finish(d, {{"a.txt", "A2"}, {"dir/new.txt", "N"}});
  EXPECT_EQ(d.state, kStateReady);
  EXPECT_EQ(Live(), d.id);
  EXPECT_EQ(
      Served(d.id),
      (std::map<std::string, std::string>{
          {"/index.html", "home"}, {"/a.txt", "A2"}, {"/dir/c.txt", "C"}, {"/dir/new.txt", "N"}}));
  EXPECT_EQ(Served(base.id).at("/a.txt"), "A") << "the base is unchanged";
  EXPECT_EQ(RowsOf(base.id), 4);
}

// Every file of `manifest` as "path sha256 size type br gzip", and its functions.
std::vector<std::string> Describe(const DeployManifest& manifest) {
  std::vector<std::string> out;
  for (const ManifestEntry& e : manifest.files) {
    out.push_back(std::string(manifest.files.Path(e)) + " " + e.sha256().str() + " " +
                  std::to_string(e.size) + " " + std::string(e.content_type) + " " +
                  std::to_string(e.has_br) + std::to_string(e.has_gzip));
  }
  for (const auto& [name, fn] : manifest.functions) out.push_back("fn " + name + " " + fn.sha256);
  std::sort(out.begin(), out.end());
  return out;
}

std::uint64_t ManifestsBuilt(std::string_view how) {
  return core::metrics::Default()
      .GetCounter("replideploy_deploy_manifests_built_total", "", {{"how", std::string(how)}})
      .Value();
}

TEST_P(RelativeFileList, ProcessingPatchesTheBaseManifestAsAWholeReadWouldMakeIt) {
  const std::string big(4000, 'x');  // compressible: gets variants once precompressed
  const Deploy base = DeployFiles(
      {{"index.html", "home"}, {"a.txt", "A"}, {"b.txt", "B"}, {"big.css", big}, {"c.js", "C"}});
  ASSERT_TRUE(deploys_->PrecompressPending({}).ok());  // the base's manifest with variants
  ASSERT_TRUE(deploys_->Manifest(base.id).ok());
  const std::uint64_t patched = ManifestsBuilt("patched");
  const std::uint64_t read = ManifestsBuilt("read");
  Deploy d = deploys_->Create(alice_.id, "site", {}).value();
  d = deploys_
          ->SetFilesRelative(alice_.id, d.id, base.id,
                             {{"a.txt", Sha1ForTest("A2")},
                              {"new.txt", Sha1ForTest("N")},
                              {"c.js", Sha1ForTest("B")}},  // now the same content as b.txt
                             {"b.txt"}, {})
          .value();
  d = Finish(d, {{"a.txt", "A2"}, {"new.txt", "N"}});
  ASSERT_EQ(d.state, kStateReady);
  EXPECT_EQ(ManifestsBuilt("patched"), patched + 1) << "made from the base's manifest";
  EXPECT_EQ(ManifestsBuilt("read"), read);
  auto made = deploys_->Manifest(d.id);
  ASSERT_TRUE(made.ok());
  // A service with nothing cached reads every row: the same manifest.
  DeployService fresh(tdb_->db(), *blobs_, clock_, *sites_);
  auto whole = fresh.Manifest(d.id);
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  EXPECT_EQ(Describe(**made), Describe(**whole));
  EXPECT_EQ((*made)->files.size(), 5u);
  EXPECT_NE((*made)->Find("/big.css"), nullptr);
  EXPECT_TRUE((*made)->Find("/big.css")->has_br) << "the base's variants carried over";
  EXPECT_EQ((*made)->Find("/b.txt"), nullptr);
  EXPECT_EQ(Served(d.id).at("/c.js"), "B");
}

TEST_P(RelativeFileList, AListSetAgainOrAnUncachedBaseMeansTheWholeRead) {
  const Deploy base = DeployFiles({{"index.html", "home"}, {"a.txt", "A"}});
  // A relative list, then the whole list for the same deploy: the rows are the second's.
  Deploy d = deploys_->Create(alice_.id, "site", {}).value();
  d = deploys_->SetFilesRelative(alice_.id, d.id, base.id, {{"a.txt", Sha1ForTest("A2")}}, {}, {})
          .value();
  d = deploys_->SetFiles(alice_.id, d.id, {{"index.html", Sha1ForTest("home")}}, {}).value();
  std::uint64_t read = ManifestsBuilt("read");
  EXPECT_EQ(Finish(d, {}).state, kStateReady);
  EXPECT_EQ(ManifestsBuilt("read"), read + 1);
  EXPECT_EQ(Served(d.id), (std::map<std::string, std::string>{{"/index.html", "home"}}));
  // A base whose manifest this process does not hold (another process made it, or it was
  // dropped): read whole, and right.
  DeployService other(tdb_->db(), *blobs_, clock_, *sites_);
  Deploy e = other.Create(alice_.id, "site", {}).value();
  e = other.SetFilesRelative(alice_.id, e.id, base.id, {{"b.txt", Sha1ForTest("home")}}, {}, {})
          .value();
  read = ManifestsBuilt("read");
  ASSERT_EQ(*other.ProcessPending(), 1);
  EXPECT_EQ(ManifestsBuilt("read"), read + 1);
  auto manifest = other.Manifest(e.id);
  ASSERT_TRUE(manifest.ok());
  EXPECT_EQ((*manifest)->files.size(), 3u);
}

TEST_P(RelativeFileList, NoChangeGoesStraightToProcessing) {
  const Deploy base = DeployFiles({{"index.html", "home"}, {"a.txt", "A"}});
  Deploy d = deploys_->Create(alice_.id, "site", {}).value();
  d = deploys_->SetFilesRelative(alice_.id, d.id, base.id, {}, {}, {}).value();
  EXPECT_EQ(d.state, kStateProcessing);
  EXPECT_EQ(d.file_count, 2);
  EXPECT_EQ(*deploys_->ProcessPending(), 1);
  EXPECT_EQ(Live(), d.id);
  EXPECT_EQ(Served(d.id), Served(base.id));
}

TEST_P(RelativeFileList, BadInputIsRefusedAndNothingIsWritten) {
  const Deploy base = DeployFiles({{"index.html", "home"}, {"a.txt", "A"}});
  // bob's site and deploy, alice's other site and deploy, a base still uploading.
  ASSERT_TRUE(sites_->Create(bob_.id, bob_.account_id, "bobs", {}).ok());
  Deploy bob_deploy = deploys_->Create(bob_.id, "bobs", {}).value();
  bob_deploy =
      deploys_->SetFiles(bob_.id, bob_deploy.id, {{"a.txt", Sha1ForTest("A")}}, {}).value();
  ASSERT_EQ(*deploys_->ProcessPending(), 1);
  ASSERT_TRUE(sites_->Create(alice_.id, alice_.account_id, "other", {}).ok());
  Deploy other = deploys_->Create(alice_.id, "other", {}).value();
  other = deploys_->SetFiles(alice_.id, other.id, {{"a.txt", Sha1ForTest("A")}}, {}).value();
  ASSERT_EQ(*deploys_->ProcessPending(), 1);
  Deploy uploading = deploys_->Create(alice_.id, "site", {}).value();
  uploading =
      deploys_->SetFiles(alice_.id, uploading.id, {{"x.txt", Sha1ForTest("never")}}, {}).value();
  ASSERT_EQ(uploading.state, kStateUploading);

  const Deploy d = deploys_->Create(alice_.id, "site", {}).value();
  struct Case {
    std::string name, base;
    std::map<std::string, std::string> changed;
    std::vector<std::string> deleted;
    std::string code;
  };
  const std::string a2 = Sha1ForTest("A2");
  const std::vector<Case> cases{
      {"unknown base", "0123456789abcdef", {}, {}, "invalid_base_deploy"},
      {"another user's base", bob_deploy.id, {}, {}, "invalid_base_deploy"},
      {"another site's base", other.id, {}, {}, "invalid_base_deploy"},
      {"a base not ready", uploading.id, {}, {}, "base_deploy_not_ready"},
      {"itself as base", d.id, {}, {}, "base_deploy_not_ready"},
      {"changed and deleted", base.id, {{"a.txt", a2}}, {"/a.txt"}, "invalid_path"},
      {"deleted twice", base.id, {}, {"a.txt", "/a.txt"}, "invalid_path"},
      {"deleted path not in the base", base.id, {{"b.txt", a2}}, {"nope.txt"}, "unknown_file"},
      {"deleted path escaping", base.id, {}, {"../a.txt"}, "invalid_path"},
      {"changed path escaping", base.id, {{"a/../../b", a2}}, {}, "invalid_path"},
      {"bad digest", base.id, {{"a.txt", "NOTASHA"}}, {}, "invalid_digest"},
  };
  for (const Case& c : cases) {
    auto r = deploys_->SetFilesRelative(alice_.id, d.id, c.base, c.changed, c.deleted, {});
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable) << c.name;
    EXPECT_EQ(r.error().detail_code, c.code) << c.name << ": " << r.error().message;
    EXPECT_EQ(RowsOf(d.id), 0) << c.name;
    EXPECT_EQ(deploys_->Get(alice_.id, d.id)->state, kStateNew) << c.name;
  }
  // bob cannot build on alice's deploy either, nor touch her new one.
  Deploy bobs_new = deploys_->Create(bob_.id, "bobs", {}).value();
  auto r = deploys_->SetFilesRelative(bob_.id, bobs_new.id, base.id, {}, {}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().detail_code, "invalid_base_deploy");
  EXPECT_FALSE(deploys_->SetFilesRelative(bob_.id, d.id, base.id, {}, {}, {}).ok());

  // The result counts against max_files: 2 in the base + 2 new > 3.
  DeployService limited(tdb_->db(), *blobs_, clock_, *sites_, DeployServiceOptions{.max_files = 3});
  r = limited.SetFilesRelative(alice_.id, d.id, base.id,
                               {{"n1.txt", Sha1ForTest("1")}, {"n2.txt", Sha1ForTest("2")}}, {},
                               {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().detail_code, "too_many_files");
  EXPECT_EQ(RowsOf(d.id), 0);
  // Replacing a file keeps the count: allowed.
  r = limited.SetFilesRelative(alice_.id, d.id, base.id,
                               {{"a.txt", a2}, {"n1.txt", Sha1ForTest("1")}}, {}, {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->file_count, 3);
}

// The copied rows get no claim (deploy_relative.cpp): a garbage collection at any step keeps
// every blob the new deploy needs, with a grace of less than nothing (everything not referenced
// goes at once).
TEST_P(RelativeFileList, GarbageCollectionAtAnyStepKeepsWhatTheCopyNeeds) {
  std::map<std::string, std::string> files;
  for (int i = 0; i < 300; ++i)
    files["f" + std::to_string(i) + ".txt"] = "content " + std::to_string(i);
  const Deploy base = DeployFiles(files);
  std::vector<Result<store::GcStats>> runs;
  const auto collect = [&] { runs.push_back(deploys_->CollectGarbage(std::chrono::seconds(-10))); };
  // Inside the copying transaction, from another thread (another connection): the collector
  // reads the state before the copy commits. (Nothing is garbage yet: a deletion's write would
  // wait for this transaction on SQLite.)
  deploys_->SetRelativeCopyHookForTest([&] { std::thread(collect).join(); });
  Deploy d = deploys_->Create(alice_.id, "site", {}).value();
  d = deploys_
          ->SetFilesRelative(alice_.id, d.id, base.id, {{"f0.txt", Sha1ForTest("changed")}},
                             {"f1.txt"}, {})
          .value();
  deploys_->SetRelativeCopyHookForTest({});
  // Garbage beside it: a canceled deploy's own content.
  Deploy junk = deploys_->Create(alice_.id, "site", {}).value();
  junk = deploys_->SetFiles(alice_.id, junk.id, {{"j.txt", Sha1ForTest("junk")}}, {}).value();
  ASSERT_TRUE(deploys_->UploadFile(alice_.id, junk.id, "j.txt", "junk").ok());
  ASSERT_TRUE(deploys_->Cancel(alice_.id, junk.id).ok());
  collect();  // after the copy, before the upload
  ASSERT_EQ(runs.size(), 2U);
  for (const auto& run : runs) ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_EQ(runs[0]->live, 300U) << "the collector in the transaction saw the base's rows";
  EXPECT_EQ(runs[1]->deleted, 1U) << "the collector ran for real: the junk went";
  EXPECT_EQ(d.required, std::vector<std::string>{Sha1ForTest("changed")});
  d = Finish(d, {{"f0.txt", "changed"}});
  collect();  // after it is live
  ASSERT_TRUE(runs.back().ok());
  ASSERT_EQ(d.state, kStateReady);
  files.erase("f1.txt");
  files["f0.txt"] = "changed";
  std::map<std::string, std::string> want;
  for (const auto& [path, content] : files) want["/" + path] = content;
  EXPECT_EQ(Served(d.id), want);
}

INSTANTIATE_TEST_SUITE_P(Engines, RelativeFileList, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::deploys
