#include "store/gc.hpp"

#include <gtest/gtest.h>

#include "store/testing.hpp"

namespace replideploy::store {
namespace {

using std::chrono::hours;
using std::chrono::system_clock;

// Passes everything through to a real store, failing deletions of one digest.
class FailingDeleteStore final : public BlobStore {
 public:
  FailingDeleteStore(BlobStore& inner, std::string fail_sha256)
      : inner_(inner), fail_sha256_(std::move(fail_sha256)) {}

  Result<std::unique_ptr<BlobWriter>> NewWriter() override { return inner_.NewWriter(); }
  Result<bool> Has(std::string_view sha256, Variant v) override { return inner_.Has(sha256, v); }
  Result<bool> Touch(std::string_view sha256) override { return inner_.Touch(sha256); }
  Result<std::string> Read(std::string_view sha256, Variant v) override {
    return inner_.Read(sha256, v);
  }
  Result<std::uint64_t> Size(std::string_view sha256, Variant v) override {
    return inner_.Size(sha256, v);
  }
  std::optional<std::string> LocalPath(std::string_view sha256, Variant v) override {
    return inner_.LocalPath(sha256, v);
  }
  Status PutVariant(std::string_view sha256, Variant v, std::string_view data) override {
    return inner_.PutVariant(sha256, v, data);
  }
  Status Delete(std::string_view sha256) override { return inner_.Delete(sha256); }
  Result<bool> DeleteIfOlderThan(std::string_view sha256,
                                 system_clock::time_point cutoff) override {
    if (sha256 == fail_sha256_) return MakeError(ErrorCode::kInternal, "injected failure");
    return inner_.DeleteIfOlderThan(sha256, cutoff);
  }
  Result<std::vector<StoredBlob>> List() override { return inner_.List(); }

 private:
  BlobStore& inner_;
  std::string fail_sha256_;
};

class GcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = LocalBlobStore::Open(dir_.path());
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }

  std::string Put(const std::string& content, bool old) {
    auto put = store_->Put(content);
    EXPECT_TRUE(put.ok());
    if (old) {
      EXPECT_TRUE(testing::SetMtime(*store_->LocalPath(put->sha256, Variant::kIdentity),
                                    system_clock::now() - hours(3)));
    }
    return put->sha256;
  }

  testing::ScopedTempDir dir_;
  std::unique_ptr<LocalBlobStore> store_;
};

TEST_F(GcTest, DeletesUnreferencedOldBlobsOnly) {
  const std::string live_old = Put("live and old", true);
  const std::string live_young = Put("live and young", false);
  const std::string dead_old = Put("unreferenced and old", true);
  const std::string dead_young = Put("unreferenced, uploaded a moment ago", false);
  ASSERT_TRUE(store_->PutVariant(dead_old, Variant::kGzip, "gz").ok());

  const auto now = system_clock::now();
  const std::unordered_set<std::string> live = {live_old, live_young};
  auto stats = CollectGarbage(*store_, live, hours(1), now);
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->scanned, 4u);
  EXPECT_EQ(stats->live, 2u);
  EXPECT_EQ(stats->young, 1u);
  EXPECT_EQ(stats->deleted, 1u);
  EXPECT_EQ(stats->bytes_freed, std::string("unreferenced and old").size());
  EXPECT_EQ(stats->failed, 0u);
  EXPECT_EQ(stats->deleted_sha256, std::vector<std::string>{dead_old});

  EXPECT_TRUE(*store_->Has(live_old, Variant::kIdentity));
  EXPECT_TRUE(*store_->Has(live_young, Variant::kIdentity));
  EXPECT_TRUE(*store_->Has(dead_young, Variant::kIdentity));
  EXPECT_FALSE(*store_->Has(dead_old, Variant::kIdentity));
  EXPECT_FALSE(*store_->Has(dead_old, Variant::kGzip));

  // The young one goes once it has aged past the grace period.
  auto later = CollectGarbage(*store_, live, hours(1), now + hours(2));
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->deleted_sha256, std::vector<std::string>{dead_young});
  EXPECT_EQ(later->live, 2u);
}

TEST_F(GcTest, ClaimedBlobsSurvive) {
  const std::string touched = Put("reused by a new deploy", true);
  const std::string reput = Put("uploaded again", true);
  const auto now = system_clock::now();
  // A deploy recorded after the live set was computed claims both.
  EXPECT_TRUE(*store_->Touch(touched));
  ASSERT_TRUE(store_->Put("uploaded again").ok());

  auto stats = CollectGarbage(*store_, {}, hours(1), now);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->deleted, 0u);
  EXPECT_EQ(stats->young, 2u);
  EXPECT_TRUE(*store_->Has(touched, Variant::kIdentity));
  EXPECT_TRUE(*store_->Has(reput, Variant::kIdentity));
}

TEST_F(GcTest, EmptyStore) {
  auto stats = CollectGarbage(*store_, {}, hours(1), system_clock::now());
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->scanned, 0u);
  EXPECT_EQ(stats->deleted, 0u);
}

TEST_F(GcTest, AFailedDeletionIsCountedAndTheSweepGoesOn) {
  const std::string stuck = Put("cannot be deleted", true);
  const std::string other = Put("can be deleted", true);
  FailingDeleteStore failing(*store_, stuck);
  auto stats = CollectGarbage(failing, {}, hours(1), system_clock::now());
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->failed, 1u);
  EXPECT_EQ(stats->deleted_sha256, std::vector<std::string>{other});
  EXPECT_TRUE(*store_->Has(stuck, Variant::kIdentity));
}

}  // namespace
}  // namespace replideploy::store
