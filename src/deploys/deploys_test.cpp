#include "deploys/deploys.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <functional>
#include <set>
#include <thread>

#include "auth/users.hpp"
#include "core/crypto.hpp"
#include "db/testing.hpp"
#include "deploys/deploys_testing.hpp"
#include "store/testing.hpp"

namespace replideploy::deploys {
namespace {

using db::testing::TestDatabase;

std::string Sha1(std::string_view s) { return core::HexEncode(core::Sha1(s)); }

// A local store that records what SyncBlobs was asked to make durable, and runs `on_sync`
// first (to look at the database at that moment, or to fail the sync).
class SyncRecordingStore final : public store::BlobStore {
 public:
  explicit SyncRecordingStore(store::BlobStore& inner) : inner_(inner) {}

  Result<std::unique_ptr<store::BlobWriter>> NewWriter() override { return inner_.NewWriter(); }
  Result<store::BlobInfo> PutUnsynced(std::string_view data) override {
    return inner_.PutUnsynced(data);
  }
  bool DefersSync() const override { return inner_.DefersSync(); }
  Status SyncBlobs(const std::vector<std::string>& sha256s) override {
    synced.push_back(std::set<std::string>(sha256s.begin(), sha256s.end()));
    if (on_sync) RD_TRY_STATUS(on_sync());
    return inner_.SyncBlobs(sha256s);
  }
  Result<bool> Has(std::string_view sha256, store::Variant variant) override {
    return inner_.Has(sha256, variant);
  }
  Result<bool> Touch(std::string_view sha256) override { return inner_.Touch(sha256); }
  Result<std::string> Read(std::string_view sha256, store::Variant variant) override {
    return inner_.Read(sha256, variant);
  }
  Result<std::uint64_t> Size(std::string_view sha256, store::Variant variant) override {
    return inner_.Size(sha256, variant);
  }
  std::optional<std::string> LocalPath(std::string_view sha256, store::Variant variant) override {
    return inner_.LocalPath(sha256, variant);
  }
  Status PutVariant(std::string_view sha256, store::Variant variant,
                    std::string_view data) override {
    return inner_.PutVariant(sha256, variant, data);
  }
  Status Delete(std::string_view sha256) override { return inner_.Delete(sha256); }
  Result<bool> DeleteIfOlderThan(std::string_view sha256,
                                 std::chrono::system_clock::time_point cutoff) override {
    return inner_.DeleteIfOlderThan(sha256, cutoff);
  }
  Result<std::vector<store::StoredBlob>> List() override { return inner_.List(); }

  std::vector<std::set<std::string>> synced;  // one entry per SyncBlobs call
  std::function<Status()> on_sync;

 private:
  store::BlobStore& inner_;
};

class Deploys : public DeployServiceTest {};

TEST_P(Deploys, ProductionDeployUploadsProcessesAndPublishes) {
  Deploy d = deploys_->Create(alice_.id, "site", {}).value();
  EXPECT_EQ(d.state, kStateNew);
  EXPECT_EQ(d.context, "production");
  const std::string index = "<h1>hello</h1>" + std::string(1000, ' ');
  d = deploys_
          ->SetFiles(alice_.id, d.id, {{"index.html", Sha1(index)}, {"/about.html", Sha1("about")}},
                     {})
          .value();
  EXPECT_EQ(d.state, kStateUploading);
  ASSERT_EQ(d.required.size(), 2u);
  ASSERT_TRUE(deploys_->UploadFile(alice_.id, d.id, "index.html", index).ok());
  EXPECT_EQ(deploys_->Get(alice_.id, d.id)->required.size(), 1u);
  EXPECT_FALSE(Live().has_value()) << "nothing is live before every file is stored";
  ASSERT_TRUE(deploys_->UploadFile(alice_.id, d.id, "/about.html", "about").ok());
  EXPECT_EQ(deploys_->Get(alice_.id, d.id)->state, kStateProcessing);
  // Uploads are stored without an fsync each; processing makes them durable in one go.
  auto unsynced = tdb_->db().Exec("SELECT COUNT(*) FROM blobs WHERE synced = 0");
  ASSERT_TRUE(unsynced.ok());
  EXPECT_EQ(unsynced->rows.front().Int(0), 2);
  EXPECT_EQ(*deploys_->ProcessPending(), 1);
  unsynced = tdb_->db().Exec("SELECT COUNT(*) FROM blobs WHERE synced = 0");
  ASSERT_TRUE(unsynced.ok());
  EXPECT_EQ(unsynced->rows.front().Int(0), 0);
  d = deploys_->Get(alice_.id, d.id).value();
  EXPECT_EQ(d.state, kStateReady);
  EXPECT_TRUE(d.published);
  EXPECT_EQ(Live(), d.id);
  EXPECT_EQ(published_, std::vector<std::string>{site_.id});

  auto manifest = deploys_->Manifest(d.id);
  ASSERT_TRUE(manifest.ok());
  const ManifestEntry* entry = (*manifest)->Find("/index.html");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->size, static_cast<std::int64_t>(index.size()));
  EXPECT_EQ(entry->content_type, "text/html; charset=utf-8");
  // Live at once with identity bodies; the variants come in the background.
  EXPECT_FALSE(entry->has_br || entry->has_gzip);
  EXPECT_TRUE((*manifest)->variants_pending);
  EXPECT_EQ(*deploys_->PrecompressPending(), 1);
  EXPECT_EQ(*deploys_->PrecompressPending(), 0) << "nothing left to compress";
  manifest = deploys_->Manifest(d.id);
  ASSERT_TRUE(manifest.ok());
  EXPECT_FALSE((*manifest)->variants_pending);
  entry = (*manifest)->Find("/index.html");
  ASSERT_NE(entry, nullptr);
  EXPECT_TRUE(entry->has_br || entry->has_gzip) << "compressible text gets variants";
  EXPECT_TRUE(blobs_->Has(entry->sha256(), store::Variant::kBrotli).value());
  EXPECT_EQ(deploys_->CachedManifest(d.id), *manifest);
  EXPECT_EQ(published_, (std::vector<std::string>{site_.id, site_.id}))
      << "the edge is told to drop what it prepared without the variants";
}

TEST_P(Deploys, OneProcessAtATimeMakesADeploysVariants) {
  const std::string text = "<p>compress me</p>" + std::string(2000, 'x');
  const Deploy first = DeployFiles({{"index.html", text}});
  const Deploy second = DeployFiles({{"index.html", text + "2"}});
  // A second process over the same database and store.
  DeployService other(tdb_->db(), *blobs_, clock_, *sites_);
  int nested_calls = 0;
  Result<int> nested = 0;
  ASSERT_EQ(*deploys_->PrecompressPending([&] {
    if (nested_calls++ == 0) nested = other.PrecompressPending();
    return true;
  }),
            1);
  ASSERT_TRUE(nested.ok()) << nested.error().message;
  EXPECT_EQ(*nested, 1) << "the other process takes the next deploy, not the claimed one";
  EXPECT_FALSE(deploys_->Manifest(first.id).value()->variants_pending);
  // (Each process reads its own cache; the first would see the second deploy's variants after
  // its recheck.)
  EXPECT_FALSE(other.Manifest(second.id).value()->variants_pending);
  EXPECT_EQ(*other.PrecompressPending(), 0);

  // While one process holds the only waiting deploy, the other finds nothing to do.
  const Deploy third = DeployFiles({{"index.html", text + "3"}});
  nested = -1;
  nested_calls = 0;
  ASSERT_EQ(*deploys_->PrecompressPending([&] {
    if (nested_calls++ == 0) nested = other.PrecompressPending();
    return true;
  }),
            1);
  ASSERT_TRUE(nested.ok());
  EXPECT_EQ(*nested, 0) << "the deploy is claimed by the first process";

  // A process that stops half-way lets go at once: the other resumes it without waiting for the
  // claim to lapse; a claim of a process that died lapses after its time.
  const Deploy fourth = DeployFiles({{"index.html", text + "4"}});
  EXPECT_EQ(*deploys_->PrecompressPending([] { return false; }), 0);
  EXPECT_TRUE(deploys_->Manifest(fourth.id).value()->variants_pending);
  EXPECT_EQ(*other.PrecompressPending(), 1);
  EXPECT_FALSE(other.Manifest(fourth.id).value()->variants_pending);
  const Deploy fifth = DeployFiles({{"index.html", text + "5"}});
  ASSERT_TRUE(tdb_->db()
                  .Exec("UPDATE deploys SET variants_claim_until = ? WHERE id = ?",
                        {clock_.NowMillis() + 1000, fifth.id})
                  .ok());  // as if a process had claimed it and died
  EXPECT_EQ(*other.PrecompressPending(), 0);
  clock_.Advance(1001);
  EXPECT_EQ(*other.PrecompressPending(), 1);
  EXPECT_FALSE(other.Manifest(fifth.id).value()->variants_pending);
}

TEST_P(Deploys, ManifestCacheDropsTheLeastRecentlyUsedPastItsBounds) {
  DeployServiceOptions options;
  options.manifest_cache_entries = 2;
  deploys_ = std::make_unique<DeployService>(tdb_->db(), *blobs_, clock_, *sites_, options);
  const Deploy a = DeployFiles({{"a.txt", "a"}});
  const Deploy b = DeployFiles({{"b.txt", "b"}});
  ASSERT_NE(deploys_->CachedManifest(a.id), nullptr);  // used: b is now the oldest
  const Deploy c = DeployFiles({{"c.txt", "c"}});
  EXPECT_EQ(deploys_->CachedManifest(b.id), nullptr);
  EXPECT_NE(deploys_->CachedManifest(c.id), nullptr);
  EXPECT_NE(deploys_->CachedManifest(a.id), nullptr);  // c is now the oldest
  // A dropped manifest is read again when asked for, and drops the oldest in turn.
  auto again = deploys_->Manifest(b.id);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_NE((*again)->Find("/b.txt"), nullptr);
  EXPECT_EQ(deploys_->CachedManifest(b.id), *again);
  EXPECT_EQ(deploys_->CachedManifest(c.id), nullptr);
  EXPECT_NE(deploys_->CachedManifest(a.id), nullptr);

  // Bounded in bytes too: past the bound only the newest stays.
  options.manifest_cache_entries = 4096;
  options.manifest_cache_bytes = 1;
  deploys_ = std::make_unique<DeployService>(tdb_->db(), *blobs_, clock_, *sites_, options);
  const Deploy d = DeployFiles({{"d.txt", "d"}});
  const Deploy e = DeployFiles({{"e.txt", "e"}});
  EXPECT_EQ(deploys_->CachedManifest(d.id), nullptr);
  EXPECT_NE(deploys_->CachedManifest(e.id), nullptr);
}

TEST_P(Deploys, RedeployTakesStoredContentAndItsVariants) {
  const std::string page = "<p>page</p>" + std::string(2000, 'x');
  const Deploy first = DeployFiles({{"index.html", page}, {"tiny.txt", "t"}});
  ASSERT_EQ(*deploys_->PrecompressPending(), 1);
  const ManifestEntry stored = *deploys_->Manifest(first.id).value()->Find("/index.html");
  ASSERT_TRUE(stored.has_br || stored.has_gzip);

  // Every content already stored, one of them under a new path too: nothing to upload, and
  // nothing to compress.
  Deploy d = deploys_->Create(alice_.id, "site", {}).value();
  d = deploys_
          ->SetFiles(alice_.id, d.id,
                     {{"index.html", Sha1(page)},
                      {"copy/index.html", Sha1(page)},
                      {"tiny.txt", Sha1("t")}},
                     {})
          .value();
  EXPECT_TRUE(d.required.empty());
  EXPECT_EQ(d.state, kStateProcessing);
  EXPECT_EQ(*deploys_->ProcessPending(), 1);
  EXPECT_EQ(Live(), d.id);
  auto manifest = deploys_->Manifest(d.id).value();
  const ManifestEntry* copy = manifest->Find("/copy/index.html");
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->digest, stored.digest);
  EXPECT_EQ(copy->size, static_cast<std::int64_t>(page.size()));
  EXPECT_TRUE(copy->has_br || copy->has_gzip);
  EXPECT_EQ(manifest->Find("/tiny.txt")->size, 1);
  EXPECT_FALSE(manifest->variants_pending);
  EXPECT_EQ(*deploys_->PrecompressPending(), 0);

  // A new compressible file: its variants are pending again.
  clock_.Advance(1000);
  const Deploy third = DeployFiles({{"index.html", page}, {"new.html", page + "new"}});
  EXPECT_EQ(Live(), third.id);
  EXPECT_TRUE(deploys_->Manifest(third.id).value()->variants_pending);
}

TEST_P(Deploys, UploadDamagedByACrashBeforeItsSyncFailsTheDeploy) {
  Deploy d = deploys_->Create(alice_.id, "site", {}).value();
  const std::string page = "<p>page</p>";
  d = deploys_->SetFiles(alice_.id, d.id, {{"page.html", Sha1(page)}}, {}).value();
  auto up = deploys_->UploadFile(alice_.id, d.id, "page.html", page);
  ASSERT_TRUE(up.ok()) << up.error().message;
  // As a machine crash leaves an unsynced file: truncated, written before this process began.
  const std::string path = *blobs_->LocalPath(up->sha256, store::Variant::kIdentity);
  ASSERT_EQ(::truncate(path.c_str(), 0), 0);
  ASSERT_TRUE(
      tdb_->db().Exec("UPDATE blobs SET created_at = 0 WHERE sha256 = ?", {up->sha256}).ok());
  ASSERT_TRUE(deploys_->ProcessPending().ok());
  d = deploys_->Get(alice_.id, d.id).value();
  EXPECT_EQ(d.state, kStateError);
  EXPECT_NE(d.error_message.find("crash"), std::string::npos) << d.error_message;
  EXPECT_FALSE(Live().has_value());
  EXPECT_FALSE(blobs_->Has(up->sha256, store::Variant::kIdentity).value())
      << "damaged copy dropped";
  // Deploying again asks for the file again.
  Deploy again = deploys_->Create(alice_.id, "site", {}).value();
  again = deploys_->SetFiles(alice_.id, again.id, {{"page.html", Sha1(page)}}, {}).value();
  EXPECT_EQ(again.required, std::vector<std::string>{Sha1(page)});
}

TEST_P(Deploys, BlobsAreDurableBeforeTheDeployIsPublished) {
  SyncRecordingStore store(*blobs_);
  DeployService deploys(tdb_->db(), store, clock_, *sites_);
  const std::string a = "<p>a</p>", b = "<p>b</p>";
  Deploy d = deploys.Create(alice_.id, "site", {}).value();
  d = deploys.SetFiles(alice_.id, d.id, {{"a.html", Sha1(a)}, {"b.html", Sha1(b)}}, {}).value();
  const std::string sha_a = deploys.UploadFile(alice_.id, d.id, "a.html", a)->sha256;
  const std::string sha_b = deploys.UploadFile(alice_.id, d.id, "b.html", b)->sha256;
  auto unsynced = [&] {
    return tdb_->db().Exec("SELECT COUNT(*) FROM blobs WHERE synced = 0")->rows.front().Int(0);
  };
  EXPECT_EQ(unsynced(), 2);

  // A failing sync (a disk error) keeps the deploy off the site, to be tried again.
  store.on_sync = [] { return MakeError(ErrorCode::kInternal, "disk error"); };
  EXPECT_EQ(*deploys.ProcessPending(), 0);
  EXPECT_EQ(deploys.Get(alice_.id, d.id)->state, kStateProcessing);
  EXPECT_FALSE(Live().has_value());
  EXPECT_EQ(unsynced(), 2);

  // The sync comes before the deploy is ready or live, and covers every uploaded blob.
  std::string state_at_sync;
  std::optional<std::string> live_at_sync = "unset";
  store.on_sync = [&]() -> Status {
    state_at_sync = deploys.Get(alice_.id, d.id)->state;
    live_at_sync = Live();
    return {};
  };
  EXPECT_EQ(*deploys.ProcessPending(), 1);
  ASSERT_EQ(store.synced.size(), 2u);
  EXPECT_EQ(store.synced[1], (std::set<std::string>{sha_a, sha_b}));
  EXPECT_EQ(state_at_sync, kStateProcessing);
  EXPECT_FALSE(live_at_sync.has_value());
  EXPECT_EQ(deploys.Get(alice_.id, d.id)->state, kStateReady);
  EXPECT_EQ(Live(), d.id);
  EXPECT_EQ(unsynced(), 0);

  // A deploy of blobs all synced already needs no sync.
  Deploy again = deploys.Create(alice_.id, "site", {}).value();
  again = deploys.SetFiles(alice_.id, again.id, {{"a.html", Sha1(a)}}, {}).value();
  EXPECT_EQ(*deploys.ProcessPending(), 1);
  EXPECT_EQ(store.synced.size(), 2u);
  EXPECT_EQ(Live(), again.id);
}

TEST_P(Deploys, ReusedUnsyncedBlobsAreSyncedByEveryDeployUsingThem) {
  SyncRecordingStore store(*blobs_);
  DeployService deploys(tdb_->db(), store, clock_, *sites_);
  // A first deploy's upload, never finished: its blob is stored but not synced.
  const std::string shared = "shared bytes, also a function's zip";
  const std::string sha256 = core::HexEncode(core::Sha256(shared));
  Deploy first = deploys.Create(alice_.id, "site", {}).value();
  first = deploys.SetFiles(alice_.id, first.id, {{"s.txt", Sha1(shared)}, {"x.txt", Sha1("x")}}, {})
              .value();
  ASSERT_TRUE(deploys.UploadFile(alice_.id, first.id, "s.txt", shared).ok());
  // A second deploy reuses it as a file of its own, a third as a function: neither uploads it,
  // both must sync it before going live.
  Deploy second = deploys.Create(alice_.id, "site", {}).value();
  second = deploys.SetFiles(alice_.id, second.id, {{"s.txt", Sha1(shared)}}, {}).value();
  EXPECT_TRUE(second.required.empty());
  EXPECT_EQ(*deploys.ProcessPending(), 1);
  ASSERT_EQ(store.synced.size(), 1u);
  EXPECT_EQ(store.synced[0], std::set<std::string>{sha256});
  ASSERT_TRUE(tdb_->db().Exec("UPDATE blobs SET synced = 0 WHERE sha256 = ?", {sha256}).ok());
  clock_.Advance(1000);
  Deploy third = deploys.Create(alice_.id, "site", {}).value();
  third = deploys.SetFiles(alice_.id, third.id, {{"i.txt", Sha1("i")}}, {{"fn", sha256}}).value();
  EXPECT_TRUE(third.required_functions.empty());
  ASSERT_TRUE(deploys.UploadFile(alice_.id, third.id, "i.txt", "i").ok());
  EXPECT_EQ(*deploys.ProcessPending(), 1);
  ASSERT_EQ(store.synced.size(), 2u);
  EXPECT_TRUE(store.synced[1].contains(sha256)) << "the function's blob is synced too";
  EXPECT_EQ(Live(), third.id);
}

TEST_P(Deploys, UploadOverALeftoverRowOfACollectedBlobIsSynced) {
  SyncRecordingStore store(*blobs_);
  DeployService deploys(tdb_->db(), store, clock_, *sites_);
  const std::string page = "<p>collected once</p>";
  const std::string sha256 = core::HexEncode(core::Sha256(page));
  Deploy d = deploys.Create(alice_.id, "site", {}).value();
  d = deploys.SetFiles(alice_.id, d.id, {{"p.html", Sha1(page)}}, {}).value();
  ASSERT_EQ(d.required, std::vector<std::string>{Sha1(page)});
  // A garbage collection deletes the file first, then the row: between the two, the row of a
  // synced blob is there without its file, and the upload writes the file again unsynced.
  ASSERT_TRUE(tdb_->db()
                  .Exec("INSERT INTO blobs (sha256, sha1, size, created_at, synced) "
                        "VALUES (?, ?, ?, 0, 1)",
                        {sha256, Sha1(page), static_cast<std::int64_t>(page.size())})
                  .ok());
  ASSERT_TRUE(deploys.UploadFile(alice_.id, d.id, "p.html", page).ok());
  EXPECT_EQ(
      tdb_->db().Exec("SELECT synced FROM blobs WHERE sha256 = ?", {sha256})->rows.front().Int(0),
      0);
  // And then the collection deletes the row: the deploy still syncs (and checks) the blob.
  ASSERT_TRUE(tdb_->db().Exec("DELETE FROM blobs WHERE sha256 = ?", {sha256}).ok());
  EXPECT_EQ(*deploys.ProcessPending(), 1);
  ASSERT_EQ(store.synced.size(), 1u);
  EXPECT_EQ(store.synced[0], std::set<std::string>{sha256});
  EXPECT_EQ(Live(), d.id);
}

TEST_P(Deploys, UploadLostInACrashFailsTheDeploy) {
  Deploy d = deploys_->Create(alice_.id, "site", {}).value();
  const std::string page = "<p>lost</p>";
  d = deploys_->SetFiles(alice_.id, d.id, {{"page.html", Sha1(page)}}, {}).value();
  auto up = deploys_->UploadFile(alice_.id, d.id, "page.html", page);
  ASSERT_TRUE(up.ok()) << up.error().message;
  // Gone altogether (its directory entry never reached the disk), even written since the start.
  ASSERT_TRUE(blobs_->Delete(up->sha256).ok());
  ASSERT_TRUE(deploys_->ProcessPending().ok());
  d = deploys_->Get(alice_.id, d.id).value();
  EXPECT_EQ(d.state, kStateError);
  EXPECT_FALSE(Live().has_value());
}

TEST_P(Deploys, SecondDeployUploadsOnlyWhatChanged) {
  DeployFiles({{"a.txt", "same"}, {"b.txt", "old"}});
  Deploy d = deploys_->Create(alice_.id, "site", {}).value();
  d = deploys_->SetFiles(alice_.id, d.id, {{"a.txt", Sha1("same")}, {"b.txt", Sha1("new")}}, {})
          .value();
  EXPECT_EQ(d.required, std::vector<std::string>{Sha1("new")});
}

TEST_P(Deploys, NothingRequiredGoesStraightToProcessing) {
  DeployFiles({{"a.txt", "x"}});
  Deploy d = deploys_->Create(alice_.id, "site", {}).value();
  d = deploys_->SetFiles(alice_.id, d.id, {{"a.txt", Sha1("x")}}, {}).value();
  EXPECT_TRUE(d.required.empty());
  EXPECT_EQ(d.state, kStateProcessing);
}

TEST_P(Deploys, WrongContentIsRejectedAndNothingStored) {
  Deploy d = deploys_->Create(alice_.id, "site", {}).value();
  d = deploys_->SetFiles(alice_.id, d.id, {{"a.txt", Sha1("right")}}, {}).value();
  auto up = deploys_->UploadFile(alice_.id, d.id, "a.txt", "wrong");
  ASSERT_FALSE(up.ok());
  EXPECT_EQ(up.error().detail_code, "digest_mismatch");
  EXPECT_EQ(deploys_->Get(alice_.id, d.id)->state, kStateUploading);
  EXPECT_TRUE(blobs_->List()->empty());
  auto unknown = deploys_->UploadFile(alice_.id, d.id, "other.txt", "right");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kUnprocessable);
}

TEST_P(Deploys, BatchIsStoredWholeOrNotAtAll) {
  Deploy d = deploys_->Create(alice_.id, "site", {}).value();
  d = deploys_
          ->SetFiles(alice_.id, d.id,
                     {{"a.txt", Sha1("same")}, {"b.txt", Sha1("same")}, {"c.txt", Sha1("c")}}, {})
          .value();
  ASSERT_EQ(d.required.size(), 2U);
  auto wrong = deploys_->UploadFiles(alice_.id, d.id, {{"a.txt", "same"}, {"c.txt", "not c"}});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().detail_code, "digest_mismatch");
  EXPECT_TRUE(blobs_->List()->empty()) << "nothing stored, not even the good file";
  EXPECT_EQ(deploys_->Get(alice_.id, d.id)->required.size(), 2U);
  // Two paths of one content in one batch, and the last missing file: processing.
  auto up = deploys_->UploadFiles(alice_.id, d.id,
                                  {{"a.txt", "same"}, {"b.txt", "same"}, {"/c.txt", "c"}});
  ASSERT_TRUE(up.ok()) << up.error().message;
  ASSERT_EQ(up->size(), 3U);
  EXPECT_EQ((*up)[2].path, "/c.txt");
  EXPECT_EQ((*up)[0].sha256, (*up)[1].sha256);
  EXPECT_EQ(deploys_->Get(alice_.id, d.id)->state, kStateProcessing);
  EXPECT_EQ(*deploys_->ProcessPending(), 1);
  EXPECT_EQ(Live(), d.id);
}

TEST_P(Deploys, PathsThatEscapeTheRootAreRejected) {
  Deploy d = deploys_->Create(alice_.id, "site", {}).value();
  for (const char* bad : {"../etc/passwd", "a/../../b", "a//b", "./a", "a\\b", "", "/", "a/\x01"}) {
    auto r = deploys_->SetFiles(alice_.id, d.id, {{bad, Sha1("x")}}, {});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable) << bad;
  }
  auto bad_sha = deploys_->SetFiles(alice_.id, d.id, {{"a", "NOTASHA"}}, {});
  EXPECT_FALSE(bad_sha.ok());
}

TEST_P(Deploys, DraftsAreNotPublished) {
  Deploy prod = DeployFiles({{"index.html", "v1"}});
  Deploy draft = DeployFiles({{"index.html", "draft"}}, /*draft=*/true, "feature");
  EXPECT_EQ(draft.state, kStateReady);
  EXPECT_EQ(draft.context, "branch-deploy");
  EXPECT_EQ(Live(), prod.id);
  // netlify-cli's --alias: draft false with a branch that is not the production branch.
  Deploy alias = DeployFiles({{"index.html", "alias"}}, /*draft=*/false, "feature-x");
  EXPECT_EQ(alias.context, "branch-deploy");
  EXPECT_EQ(Live(), prod.id);
}

TEST_P(Deploys, RestoreIsARollbackAndLockStopsAutoPublish) {
  Deploy v1 = DeployFiles({{"index.html", "v1"}});
  Deploy v2 = DeployFiles({{"index.html", "v2"}});
  EXPECT_EQ(Live(), v2.id);
  ASSERT_TRUE(deploys_->Restore(alice_.id, "site", v1.id).ok());
  EXPECT_EQ(Live(), v1.id);
  ASSERT_TRUE(deploys_->Lock(alice_.id, v1.id).ok());
  Deploy v3 = DeployFiles({{"index.html", "v3"}});
  EXPECT_EQ(v3.state, kStateReady);
  EXPECT_EQ(Live(), v1.id) << "a locked site keeps its deploy";
  ASSERT_TRUE(deploys_->Unlock(alice_.id, v1.id).ok());
  Deploy v4 = DeployFiles({{"index.html", "v4"}});
  EXPECT_EQ(Live(), v4.id);
  // Each publish is on the site owner's audit log, written with the change.
  auto events = tdb_->db().Exec(
      "SELECT action, user_id FROM audit_events WHERE subject = ? ORDER BY created_at, id",
      {v1.id});
  ASSERT_TRUE(events.ok());
  std::vector<std::string> actions;
  for (const auto& r : events->rows) {
    actions.push_back(r.Text(0));
    EXPECT_EQ(r.Text(1), alice_.id);
  }
  ASSERT_EQ(actions.size(), 4u);
  EXPECT_EQ(actions[0], "deploy.published");
  EXPECT_EQ(actions[2], "deploy.locked");
  EXPECT_EQ(actions[3], "deploy.unlocked");
}

TEST_P(Deploys, LockingTheLiveDeployKeepsItsPublishedAt) {
  Deploy v1 = DeployFiles({{"index.html", "v1"}});
  ASSERT_EQ(Live(), v1.id);
  const std::optional<std::int64_t> published_at = deploys_->Get(alice_.id, v1.id)->published_at;
  ASSERT_TRUE(published_at.has_value());
  clock_.Advance(60'000);
  Deploy locked = deploys_->Lock(alice_.id, v1.id).value();
  EXPECT_TRUE(locked.site_locked);
  EXPECT_EQ(locked.published_at, published_at) << "locking publishes nothing new";
  ASSERT_TRUE(deploys_->Unlock(alice_.id, v1.id).ok());
  EXPECT_EQ(deploys_->Get(alice_.id, v1.id)->published_at, published_at);
}

TEST_P(Deploys, OlderDeployFinishingLateDoesNotReplaceNewer) {
  Deploy older = deploys_->Create(alice_.id, "site", {}).value();
  clock_.Advance(10);
  Deploy newer = DeployFiles({{"index.html", "newer"}});
  older = deploys_->SetFiles(alice_.id, older.id, {{"index.html", Sha1("older")}}, {}).value();
  ASSERT_TRUE(deploys_->UploadFile(alice_.id, older.id, "index.html", "older").ok());
  ASSERT_TRUE(deploys_->ProcessPending().ok());
  EXPECT_EQ(deploys_->Get(alice_.id, older.id)->state, kStateReady);
  EXPECT_EQ(Live(), newer.id);
}

TEST_P(Deploys, OtherUsersDeploysLookMissing) {
  Deploy d = DeployFiles({{"index.html", "v1"}});
  EXPECT_EQ(deploys_->Get(bob_.id, d.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(deploys_->Create(bob_.id, "site", {}).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(deploys_->Restore(bob_.id, "site", d.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(deploys_->Lock(bob_.id, d.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(deploys_->Cancel(bob_.id, d.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(deploys_->UploadFile(bob_.id, d.id, "index.html", "x").error().code,
            ErrorCode::kNotFound);
}

TEST_P(Deploys, CancelAndExpire) {
  Deploy d = deploys_->Create(alice_.id, "site", {}).value();
  d = deploys_->SetFiles(alice_.id, d.id, {{"a.txt", Sha1("a")}}, {}).value();
  EXPECT_EQ(deploys_->Cancel(alice_.id, d.id)->state, kStateCanceled);
  EXPECT_FALSE(deploys_->UploadFile(alice_.id, d.id, "a.txt", "a").ok());

  Deploy stale = deploys_->Create(alice_.id, "site", {}).value();
  clock_.Advance(31 * 60 * 1000);
  EXPECT_EQ(*deploys_->ExpireStale(), 1);
  Deploy after = deploys_->Get(alice_.id, stale.id).value();
  EXPECT_EQ(after.state, kStateError);
  EXPECT_NE(after.error_message.find("not uploaded"), std::string::npos);
  Deploy ready = DeployFiles({{"a.txt", "a"}});
  EXPECT_FALSE(deploys_->Cancel(alice_.id, ready.id).ok());
}

TEST_P(Deploys, ValidatorFailureMarksErrorAndKeepsLiveSite) {
  Deploy good = DeployFiles({{"index.html", "good"}});
  deploys_->SetValidator(
      [](const DeployManifest& m, store::BlobStore&) -> Result<std::vector<DeployMessage>> {
        if (m.Find("/_redirects"))
          return MakeError(ErrorCode::kUnprocessable, "_redirects: larger than 4 MiB");
        return std::vector<DeployMessage>{};
      });
  Deploy bad = DeployFiles({{"index.html", "bad"}, {"_redirects", "junk"}});
  EXPECT_EQ(bad.state, kStateError);
  EXPECT_EQ(bad.error_message, "_redirects: larger than 4 MiB");
  EXPECT_EQ(Live(), good.id);
}

TEST_P(Deploys, ValidatorWarningsAreKeptWithTheReadyDeployAndCapped) {
  std::size_t count = 1;
  deploys_->SetValidator(
      [&count](const DeployManifest&, store::BlobStore&) -> Result<std::vector<DeployMessage>> {
        std::vector<DeployMessage> out;
        for (std::size_t i = 1; i <= count; ++i) {
          DeployMessage m;
          m.title = "Rule skipped";
          m.description = "_redirects:" + std::to_string(i) + ": missing destination";
          m.details = "/r 307";
          m.file = "_redirects";
          m.line = static_cast<std::int64_t>(i);
          out.push_back(std::move(m));
        }
        return out;
      });
  Deploy one = DeployFiles({{"index.html", "one"}});
  EXPECT_EQ(one.state, kStateReady);
  EXPECT_EQ(Live(), one.id);
  ASSERT_EQ(one.messages.size(), 1u);
  EXPECT_EQ(one.messages[0].type, "warning");
  EXPECT_EQ(one.messages[0].description, "_redirects:1: missing destination");
  EXPECT_EQ(one.messages[0].details, "/r 307");
  EXPECT_EQ(one.messages[0].file, "_redirects");
  EXPECT_EQ(one.messages[0].line, 1);

  count = kMaxDeployMessages + 7;
  Deploy many = DeployFiles({{"index.html", "many"}});
  ASSERT_EQ(many.messages.size(), kMaxDeployMessages + 1);
  EXPECT_EQ(many.messages[kMaxDeployMessages - 1].line,
            static_cast<std::int64_t>(kMaxDeployMessages));
  EXPECT_NE(many.messages.back().description.find("and 7 more"), std::string::npos)
      << many.messages.back().description;

  // Read back from the database by another service (as after a restart), and in lists.
  DeployService fresh(tdb_->db(), *blobs_, clock_, *sites_);
  EXPECT_EQ(fresh.Get(alice_.id, one.id)->messages.size(), 1u);
  auto list = fresh.List(alice_.id, "site");
  ASSERT_TRUE(list.ok());
  for (const Deploy& d : *list) {
    EXPECT_EQ(d.messages.size(), d.id == many.id  ? kMaxDeployMessages + 1
                                 : d.id == one.id ? 1u
                                                  : 0u);
  }
  EXPECT_EQ(fresh.GetForBuild(one.id)->messages.size(), 1u);
}

TEST_P(Deploys, FunctionsMustMatchTheirDigest) {
  const std::string zip = "PK fake zip";
  const std::string sha256 = core::HexEncode(core::Sha256(zip));
  Deploy d = deploys_->Create(alice_.id, "site", {}).value();
  d = deploys_->SetFiles(alice_.id, d.id, {{"index.html", Sha1("i")}}, {{"hello", sha256}}).value();
  EXPECT_EQ(d.required_functions, std::vector<std::string>{sha256});
  EXPECT_FALSE(deploys_->UploadFunction(alice_.id, d.id, "hello", "other", "js").ok());
  ASSERT_TRUE(deploys_->UploadFunction(alice_.id, d.id, "hello", zip, "js").ok());
  ASSERT_TRUE(deploys_->UploadFile(alice_.id, d.id, "index.html", "i").ok());
  ASSERT_TRUE(deploys_->ProcessPending().ok());
  EXPECT_EQ(deploys_->Get(alice_.id, d.id)->state, kStateReady);
}

TEST_P(Deploys, ConcurrentUploadsAdvanceExactlyOnce) {
  Deploy d = deploys_->Create(alice_.id, "site", {}).value();
  std::map<std::string, std::string> files;
  for (int i = 0; i < 40; ++i) files["f" + std::to_string(i)] = "content " + std::to_string(i);
  std::map<std::string, std::string> digests;
  for (const auto& [p, c] : files) digests[p] = Sha1(c);
  ASSERT_TRUE(deploys_->SetFiles(alice_.id, d.id, digests, {}).ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      int i = 0;
      for (const auto& [p, c] : files) {
        if (i++ % 4 != t) continue;
        if (!deploys_->UploadFile(alice_.id, d.id, p, c).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(deploys_->Get(alice_.id, d.id)->state, kStateProcessing);
  EXPECT_EQ(*deploys_->ProcessPending(), 1);
  EXPECT_EQ(Live(), d.id);
}

TEST_P(Deploys, GarbageCollectionKeepsWhatDeploysNeed) {
  Deploy live = DeployFiles({{"index.html", "kept"}});
  // A canceled deploy's unique content becomes garbage.
  Deploy d = deploys_->Create(alice_.id, "site", {}).value();
  d = deploys_
          ->SetFiles(alice_.id, d.id, {{"x.txt", Sha1("orphan")}, {"index.html", Sha1("kept")}}, {})
          .value();
  ASSERT_TRUE(deploys_->UploadFile(alice_.id, d.id, "x.txt", "orphan").ok());
  ASSERT_TRUE(deploys_->Cancel(alice_.id, d.id).ok());
  EXPECT_EQ(blobs_->List()->size(), 2u);

  // Within the grace period nothing goes.
  auto young = deploys_->CollectGarbage(std::chrono::hours(1));
  ASSERT_TRUE(young.ok()) << young.error().message;
  EXPECT_EQ(young->deleted, 0u);

  auto swept = deploys_->CollectGarbage(std::chrono::seconds(-10));
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(swept->deleted, 1u);
  EXPECT_EQ(blobs_->List()->size(), 1u);
  auto manifest = deploys_->Manifest(live.id);
  ASSERT_TRUE(manifest.ok());
  EXPECT_TRUE(
      blobs_->Has((*manifest)->Find("/index.html")->sha256(), store::Variant::kIdentity).value());

  // The collected content is asked for again by the next deploy that wants it.
  Deploy again = deploys_->Create(alice_.id, "site", {}).value();
  again = deploys_->SetFiles(alice_.id, again.id, {{"x.txt", Sha1("orphan")}}, {}).value();
  EXPECT_EQ(again.required, std::vector<std::string>{Sha1("orphan")});
}

INSTANTIATE_TEST_SUITE_P(Engines, Deploys, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::deploys
