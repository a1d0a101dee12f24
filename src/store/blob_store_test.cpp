#include "store/blob_store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "store/testing.hpp"

namespace replideploy::store {
namespace {

using std::chrono::system_clock;
using testing::FilesUnder;
using testing::NoiseBytes;
using testing::ScopedTempDir;

constexpr std::string_view kAbcSha256 =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr std::string_view kAbcSha1 = "a9993e364706816aba3e25717850c26c9cd0d89d";
constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::string_view kEmptySha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709";

class LocalBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    root_ = dir_.path() + "/store";
    auto opened = LocalBlobStore::Open(root_);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }

  std::vector<std::string> BlobFiles() const { return FilesUnder(root_ + "/blobs"); }
  std::vector<std::string> TempFiles() const { return FilesUnder(root_ + "/tmp"); }

  ScopedTempDir dir_;
  std::string root_;
  std::unique_ptr<LocalBlobStore> store_;
};

TEST_F(LocalBlobStoreTest, UnsyncedPutsAreStoredAtOnceAndSyncedLater) {
  EXPECT_TRUE(store_->DefersSync());
  auto abc = store_->PutUnsynced("abc");
  ASSERT_TRUE(abc.ok()) << abc.error().message;
  EXPECT_EQ(abc->sha256, kAbcSha256);
  EXPECT_EQ(abc->sha1, kAbcSha1);
  EXPECT_EQ(store_->Read(kAbcSha256, Variant::kIdentity).value(), "abc");
  EXPECT_TRUE(TempFiles().empty());
  // Stored once: a second unsynced put and a durable one keep the one copy.
  ASSERT_TRUE(store_->PutUnsynced("abc").ok());
  ASSERT_TRUE(store_->Put("abc").ok());
  EXPECT_EQ(BlobFiles().size(), 1u);
  // A handful is fsynced blob by blob, more with one syncfs; missing blobs are skipped.
  EXPECT_TRUE(store_->SyncBlobs({std::string(kAbcSha256), std::string(kEmptySha256)}).ok());
  std::vector<std::string> many{std::string(kAbcSha256)};
  for (int i = 0; i < 20; ++i) {
    auto put = store_->PutUnsynced("blob " + std::to_string(i));
    ASSERT_TRUE(put.ok());
    many.push_back(put->sha256);
  }
  EXPECT_TRUE(store_->SyncBlobs(many).ok());
  EXPECT_TRUE(store_->SyncBlobs({}).ok());
  EXPECT_EQ(store_->SyncBlobs({std::string(kAbcSha256), "../../etc/passwd"}).error().code,
            ErrorCode::kBadRequest);
  EXPECT_EQ(BlobFiles().size(), 21u);
}

TEST_F(LocalBlobStoreTest, KnownDigests) {
  auto abc = store_->Put("abc");
  ASSERT_TRUE(abc.ok()) << abc.error().message;
  EXPECT_EQ(abc->sha256, kAbcSha256);
  EXPECT_EQ(abc->sha1, kAbcSha1);
  EXPECT_EQ(abc->size, 3u);

  auto empty = store_->Put("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->sha256, kEmptySha256);
  EXPECT_EQ(empty->sha1, kEmptySha1);
  EXPECT_EQ(empty->size, 0u);

  auto read = store_->Read(kAbcSha256, Variant::kIdentity);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, "abc");
  auto read_empty = store_->Read(kEmptySha256, Variant::kIdentity);
  ASSERT_TRUE(read_empty.ok());
  EXPECT_EQ(*read_empty, "");
  EXPECT_EQ(*store_->Size(kAbcSha256, Variant::kIdentity), 3u);
}

TEST_F(LocalBlobStoreTest, LayoutIsFannedOutByDigest) {
  ASSERT_TRUE(store_->Put("abc").ok());
  const std::string expected = root_ + "/blobs/ba/78/" + std::string(kAbcSha256);
  EXPECT_EQ(BlobFiles(), std::vector<std::string>{expected});
  EXPECT_EQ(store_->LocalPath(kAbcSha256, Variant::kIdentity), expected);
  EXPECT_EQ(store_->LocalPath(kAbcSha256, Variant::kBrotli), expected + ".br");
  EXPECT_EQ(store_->LocalPath(kAbcSha256, Variant::kGzip), expected + ".gz");
}

TEST_F(LocalBlobStoreTest, PutIsIdempotentAndVerifiesDigest) {
  auto first = store_->Put("abc", kAbcSha256);
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = store_->Put("abc", kAbcSha256);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->sha256, first->sha256);
  EXPECT_EQ(second->sha1, first->sha1);
  EXPECT_EQ(BlobFiles().size(), 1u);
  EXPECT_TRUE(TempFiles().empty());

  auto wrong = store_->Put("abd", kAbcSha256);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(wrong.error().message, "content does not match its digest");
  EXPECT_EQ(*store_->Read(kAbcSha256, Variant::kIdentity), "abc");
}

TEST_F(LocalBlobStoreTest, DigestMismatchLeavesNothingBehind) {
  auto put = store_->Put("hello", kAbcSha256);
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().code, ErrorCode::kUnprocessable);

  auto writer = store_->NewWriter();
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write("hel").ok());
  ASSERT_TRUE((*writer)->Write("lo").ok());
  auto committed = (*writer)->Commit(kAbcSha256);
  ASSERT_FALSE(committed.ok());
  EXPECT_EQ(committed.error().code, ErrorCode::kUnprocessable);
  // Nothing under a final name, nothing in tmp, even before the writer is destroyed.
  EXPECT_TRUE(BlobFiles().empty());
  EXPECT_TRUE(TempFiles().empty());
  EXPECT_FALSE(*store_->Has(kAbcSha256, Variant::kIdentity));
}

TEST_F(LocalBlobStoreTest, StreamingWriterWithManyChunksEqualsOneShot) {
  const std::string content = NoiseBytes(3 * 1024 * 1024 + 17);
  auto writer = store_->NewWriter();
  ASSERT_TRUE(writer.ok());
  std::size_t offset = 0;
  for (std::size_t chunk = 1; offset < content.size(); chunk = chunk * 3 % 65521 + 1) {
    const std::size_t n = std::min(chunk, content.size() - offset);
    ASSERT_TRUE((*writer)->Write(std::string_view(content).substr(offset, n)).ok());
    offset += n;
  }
  EXPECT_EQ((*writer)->BytesWritten(), content.size());
  auto streamed = (*writer)->Commit({});
  ASSERT_TRUE(streamed.ok()) << streamed.error().message;

  BlobDigester digester;
  digester.Update(content);
  auto one_shot = digester.Finish();
  ASSERT_TRUE(one_shot.ok());
  EXPECT_EQ(streamed->sha256, one_shot->sha256);
  EXPECT_EQ(streamed->sha1, one_shot->sha1);
  EXPECT_EQ(streamed->size, content.size());
  EXPECT_EQ(*store_->Read(streamed->sha256, Variant::kIdentity), content);

  auto put = store_->Put(content, streamed->sha256);
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->sha1, streamed->sha1);
  EXPECT_EQ(BlobFiles().size(), 1u);
  EXPECT_TRUE(TempFiles().empty());
}

TEST_F(LocalBlobStoreTest, AbandonedWriterLeavesNoTemp) {
  {
    auto writer = store_->NewWriter();
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write("partial upload").ok());
    EXPECT_EQ(TempFiles().size(), 1u);
  }
  EXPECT_TRUE(TempFiles().empty());
  EXPECT_TRUE(BlobFiles().empty());
}

TEST_F(LocalBlobStoreTest, WriterIsFinishedAfterCommit) {
  auto writer = store_->NewWriter();
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write("abc").ok());
  ASSERT_TRUE((*writer)->Commit(kAbcSha256).ok());
  EXPECT_FALSE((*writer)->Write("more").ok());
  EXPECT_FALSE((*writer)->Commit({}).ok());
  EXPECT_EQ(*store_->Read(kAbcSha256, Variant::kIdentity), "abc");
  EXPECT_TRUE(TempFiles().empty());
}

TEST_F(LocalBlobStoreTest, RejectsInvalidDigests) {
  ASSERT_TRUE(store_->Put("abc").ok());
  const std::string upper = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
  const std::vector<std::string> invalid = {
      "../../etc/passwd",
      upper,
      std::string(kAbcSha256.substr(0, 63)),
      std::string(kAbcSha256) + "0",
      std::string(kAbcSha256.substr(0, 62)) + "/.",
      std::string(kAbcSha256.substr(0, 63)) + "g",
      "",
      std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a\0", 64),
  };
  for (const std::string& digest : invalid) {
    SCOPED_TRACE(digest);
    auto expect_bad = [](const auto& result) {
      ASSERT_FALSE(result.ok());
      EXPECT_EQ(result.error().code, ErrorCode::kBadRequest);
    };
    expect_bad(store_->Has(digest, Variant::kIdentity));
    expect_bad(store_->Touch(digest));
    expect_bad(store_->Read(digest, Variant::kIdentity));
    expect_bad(store_->Size(digest, Variant::kGzip));
    expect_bad(store_->PutVariant(digest, Variant::kBrotli, "x"));
    expect_bad(store_->Delete(digest));
    expect_bad(store_->DeleteIfOlderThan(digest, system_clock::now()));
    EXPECT_EQ(store_->LocalPath(digest, Variant::kIdentity), std::nullopt);
    if (!digest.empty()) {  // an empty expected digest means "not given"
      expect_bad(store_->Put("abc", digest));
      auto writer = store_->NewWriter();
      ASSERT_TRUE(writer.ok());
      expect_bad((*writer)->Commit(digest));
    }
  }
  EXPECT_EQ(BlobFiles().size(), 1u);
  EXPECT_TRUE(TempFiles().empty());
  EXPECT_TRUE(IsValidSha256(kAbcSha256));
}

TEST_F(LocalBlobStoreTest, ConcurrentPutOfSameContentYieldsOneBlob) {
  const std::string content = NoiseBytes(std::size_t{512} * 1024, 7);
  std::vector<Result<BlobInfo>> results(8, Error{});
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      if (i % 2 == 0) {
        results[i] = store_->Put(content);
      } else {  // half go through the streaming writer, which always writes a temp file
        auto writer = store_->NewWriter();
        if (!writer.ok()) {
          results[i] = std::move(writer).error();
          return;
        }
        Status written = (*writer)->Write(content);
        results[i] = written.ok() ? (*writer)->Commit({}) : Result<BlobInfo>(written.error());
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->sha256, results[0]->sha256);
  }
  EXPECT_EQ(BlobFiles().size(), 1u);
  EXPECT_TRUE(TempFiles().empty());
  EXPECT_EQ(*store_->Read(results[0]->sha256, Variant::kIdentity), content);
}

TEST_F(LocalBlobStoreTest, PutFileStreamsAFile) {
  const std::string content = NoiseBytes(1024 * 1024 + 3, 3);
  const std::string path = dir_.path() + "/upload.bin";
  std::ofstream(path, std::ios::binary) << content;

  BlobDigester digester;
  digester.Update(content);
  const BlobInfo expected = *digester.Finish();

  auto put = store_->PutFile(path, expected.sha256);
  ASSERT_TRUE(put.ok()) << put.error().message;
  EXPECT_EQ(put->sha256, expected.sha256);
  EXPECT_EQ(put->sha1, expected.sha1);
  EXPECT_EQ(put->size, content.size());
  EXPECT_EQ(*store_->Read(put->sha256, Variant::kIdentity), content);

  auto mismatch = store_->PutFile(path, kAbcSha256);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().code, ErrorCode::kUnprocessable);

  auto missing = store_->PutFile(dir_.path() + "/missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  auto directory = store_->PutFile(dir_.path());
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.error().code, ErrorCode::kBadRequest);

  const std::string link = dir_.path() + "/link";
  ASSERT_EQ(::symlink(path.c_str(), link.c_str()), 0);
  auto via_link = store_->PutFile(link);
  ASSERT_FALSE(via_link.ok());
  EXPECT_EQ(via_link.error().code, ErrorCode::kBadRequest);

  EXPECT_EQ(BlobFiles().size(), 1u);
  EXPECT_TRUE(TempFiles().empty());
}

TEST_F(LocalBlobStoreTest, VariantsLiveBesideTheirBlobAndGoWithIt) {
  auto missing = store_->PutVariant(kAbcSha256, Variant::kBrotli, "compressed");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(TempFiles().empty());

  ASSERT_TRUE(store_->Put("abc").ok());
  auto identity = store_->PutVariant(kAbcSha256, Variant::kIdentity, "x");
  ASSERT_FALSE(identity.ok());
  EXPECT_EQ(identity.error().code, ErrorCode::kBadRequest);

  EXPECT_FALSE(*store_->Has(kAbcSha256, Variant::kBrotli));
  auto no_variant = store_->Size(kAbcSha256, Variant::kBrotli);
  ASSERT_FALSE(no_variant.ok());
  EXPECT_EQ(no_variant.error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(store_->PutVariant(kAbcSha256, Variant::kBrotli, "br-bytes").ok());
  ASSERT_TRUE(store_->PutVariant(kAbcSha256, Variant::kGzip, "gz").ok());
  ASSERT_TRUE(store_->PutVariant(kAbcSha256, Variant::kGzip, "gz-bytes").ok());  // replaces
  EXPECT_TRUE(*store_->Has(kAbcSha256, Variant::kBrotli));
  EXPECT_EQ(*store_->Read(kAbcSha256, Variant::kBrotli), "br-bytes");
  EXPECT_EQ(*store_->Read(kAbcSha256, Variant::kGzip), "gz-bytes");
  EXPECT_EQ(*store_->Size(kAbcSha256, Variant::kGzip), 8u);
  EXPECT_EQ(BlobFiles().size(), 3u);
  EXPECT_TRUE(TempFiles().empty());

  auto listed = store_->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);  // variants are not blobs of their own

  ASSERT_TRUE(store_->Delete(kAbcSha256).ok());
  EXPECT_TRUE(BlobFiles().empty());
  EXPECT_FALSE(*store_->Has(kAbcSha256, Variant::kIdentity));
  auto gone = store_->Read(kAbcSha256, Variant::kIdentity);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(store_->Delete(kAbcSha256).ok());  // already absent: fine
}

TEST_F(LocalBlobStoreTest, ListReportsBlobsWithSizeAndMtime) {
  auto empty = store_->List();
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());

  const auto before = system_clock::now() - std::chrono::seconds(5);
  ASSERT_TRUE(store_->Put("abc").ok());
  ASSERT_TRUE(store_->Put("").ok());
  auto big = store_->Put(std::string(1000, 'x'));
  ASSERT_TRUE(big.ok());
  ASSERT_TRUE(store_->PutVariant(big->sha256, Variant::kGzip, "gz").ok());
  // Strays that are not blobs are ignored.
  std::ofstream(root_ + "/blobs/ba/78/notes.txt") << "x";
  std::filesystem::create_directories(root_ + "/blobs/zz/yy");
  std::ofstream(root_ + "/blobs/zz/yy/" + std::string(64, 'a')) << "x";

  auto listed = store_->List();
  ASSERT_TRUE(listed.ok());
  std::map<std::string, std::uint64_t> sizes;
  for (const StoredBlob& b : *listed) {
    sizes[b.sha256] = b.size;
    EXPECT_GE(b.mtime, before);
  }
  EXPECT_EQ(sizes, (std::map<std::string, std::uint64_t>{{std::string(kAbcSha256), 3},
                                                         {std::string(kEmptySha256), 0},
                                                         {big->sha256, 1000}}));
}

TEST_F(LocalBlobStoreTest, TouchAndDeleteIfOlderThan) {
  const auto now = system_clock::now();
  const auto hour_ago = now - std::chrono::hours(1);
  EXPECT_FALSE(*store_->Touch(kAbcSha256));
  EXPECT_FALSE(*store_->DeleteIfOlderThan(kAbcSha256, now));

  ASSERT_TRUE(store_->Put("abc").ok());
  const std::string path = *store_->LocalPath(kAbcSha256, Variant::kIdentity);
  // Young: kept.
  EXPECT_FALSE(*store_->DeleteIfOlderThan(kAbcSha256, hour_ago));

  // Old, then claimed: kept.
  ASSERT_TRUE(testing::SetMtime(path, now - std::chrono::hours(2)));
  EXPECT_TRUE(*store_->Touch(kAbcSha256));
  EXPECT_FALSE(*store_->DeleteIfOlderThan(kAbcSha256, hour_ago));

  // Old, then stored again: claimed too.
  ASSERT_TRUE(testing::SetMtime(path, now - std::chrono::hours(2)));
  ASSERT_TRUE(store_->Put("abc").ok());
  EXPECT_FALSE(*store_->DeleteIfOlderThan(kAbcSha256, hour_ago));

  // Old: deleted, with its variants.
  ASSERT_TRUE(store_->PutVariant(kAbcSha256, Variant::kBrotli, "b").ok());
  ASSERT_TRUE(testing::SetMtime(path, now - std::chrono::hours(2)));
  EXPECT_TRUE(*store_->DeleteIfOlderThan(kAbcSha256, hour_ago));
  EXPECT_TRUE(BlobFiles().empty());
}

TEST_F(LocalBlobStoreTest, TouchManySaysWhichAreStored) {
  ASSERT_TRUE(store_->Put("abc").ok());
  auto claimed = store_->TouchMany({std::string(kAbcSha256), std::string(kEmptySha256)});
  ASSERT_TRUE(claimed.ok());
  EXPECT_EQ(*claimed, (std::vector<bool>{true, false}));
  EXPECT_EQ(store_->TouchMany({"bad"}).error().code, ErrorCode::kBadRequest);
}

TEST_F(LocalBlobStoreTest, DamagedBlobIsReplacedByTheNextPut) {
  ASSERT_TRUE(store_->Put("abc").ok());
  const std::string path = *store_->LocalPath(kAbcSha256, Variant::kIdentity);
  ASSERT_EQ(::truncate(path.c_str(), 1), 0);
  auto writer = store_->NewWriter();
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write("abc").ok());
  ASSERT_TRUE((*writer)->Commit(kAbcSha256).ok());
  EXPECT_EQ(*store_->Read(kAbcSha256, Variant::kIdentity), "abc");
}

TEST_F(LocalBlobStoreTest, OpenRemovesStaleTempFilesOnly) {
  const std::string stale = root_ + "/tmp/blob-stale1";
  const std::string fresh = root_ + "/tmp/blob-fresh1";
  std::ofstream(stale) << "left by a crash";
  std::ofstream(fresh) << "another process, writing";
  ASSERT_TRUE(testing::SetMtime(stale, system_clock::now() - std::chrono::hours(2)));

  auto reopened = LocalBlobStore::Open(root_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(TempFiles(), std::vector<std::string>{fresh});
}

TEST_F(LocalBlobStoreTest, ReopenedStoreSeesStoredBlobs) {
  ASSERT_TRUE(store_->Put("abc").ok());
  auto reopened = LocalBlobStore::Open(root_ + "/");
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(*(*reopened)->Read(kAbcSha256, Variant::kIdentity), "abc");
}

TEST(LocalBlobStore, OpenFailsWhereTheRootCannotBe) {
  ScopedTempDir dir;
  const std::string file = dir.path() + "/file";
  std::ofstream(file) << "x";
  auto opened = LocalBlobStore::Open(file + "/store");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kInternal);
}

TEST(Variants, SuffixesAndEncodings) {
  EXPECT_EQ(VariantSuffix(Variant::kIdentity), "");
  EXPECT_EQ(VariantSuffix(Variant::kBrotli), ".br");
  EXPECT_EQ(VariantSuffix(Variant::kGzip), ".gz");
  EXPECT_EQ(VariantContentEncoding(Variant::kIdentity), "");
  EXPECT_EQ(VariantContentEncoding(Variant::kBrotli), "br");
  EXPECT_EQ(VariantContentEncoding(Variant::kGzip), "gzip");
}

}  // namespace
}  // namespace replideploy::store
