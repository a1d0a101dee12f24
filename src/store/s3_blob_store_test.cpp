// The BlobStore contract on the S3 backend, against s3rver (the real wire format, signatures
// checked), plus retries through a fault-injecting proxy, the bounded disk cache, garbage
// collection, and libcurl's own SigV4 against ours.
#include "store/s3_blob_store.hpp"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "store/gc.hpp"
#include "store/s3_testing.hpp"
#include "store/testing.hpp"

namespace replideploy::store {
namespace {

using std::chrono::hours;
using std::chrono::system_clock;
using testing::FaultProxy;
using testing::FilesUnder;
using testing::NoiseBytes;
using testing::S3rver;
using testing::ScopedTempDir;

constexpr std::string_view kAbcSha256 =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr std::string_view kAbcSha1 = "a9993e364706816aba3e25717850c26c9cd0d89d";
constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string Sha256Of(std::string_view content) {
  BlobDigester digester;
  digester.Update(content);
  return digester.Finish()->sha256;
}

class S3BlobStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (testing::S3TestsOff()) return;
    server_ = new S3rver();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    if (testing::S3TestsOff()) GTEST_SKIP() << "S3 tests are off (REPLIDEPLOY_S3_TESTS=off)";
    ASSERT_TRUE(server_->ok()) << server_->error();
    // A fresh prefix per test: tests share the server, never each other's blobs.
    prefix_ = "test-" + std::to_string(++counter_) + "/";
    store_ = OpenStore(server_->endpoint(), dir_.path() + "/cache");
    ASSERT_TRUE(store_);
  }

  S3BlobStoreOptions Options(const std::string& endpoint, const std::string& cache_dir) const {
    S3BlobStoreOptions options;
    options.client.endpoint = endpoint;
    options.client.bucket = S3rver::kBucket;
    options.client.path_style = true;
    options.client.credentials = {S3rver::kAccessKey, S3rver::kSecretKey, ""};
    options.client.backoff_base = std::chrono::milliseconds(1);
    options.client.backoff_max = std::chrono::milliseconds(20);
    options.prefix = prefix_;
    options.cache_dir = cache_dir;
    options.part_size = std::uint64_t{5} << 20;
    options.multipart_threshold = std::uint64_t{5} << 20;
    return options;
  }

  std::unique_ptr<S3BlobStore> OpenStore(const std::string& endpoint,
                                         const std::string& cache_dir) const {
    auto opened = S3BlobStore::Open(Options(endpoint, cache_dir));
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  // Status of a HEAD of a raw key.
  long HeadStatus(const std::string& key) {
    auto head = store_->client().Send(S3Request{"HEAD", key, {}, {}, {}, -1});
    return head.ok() ? head->status : -1;
  }

  std::vector<std::string> SpoolFiles() const { return FilesUnder(dir_.path() + "/cache/tmp"); }

  static S3rver* server_;
  static std::atomic<int> counter_;
  ScopedTempDir dir_;
  std::string prefix_;
  std::unique_ptr<S3BlobStore> store_;
};

S3rver* S3BlobStoreTest::server_ = nullptr;
std::atomic<int> S3BlobStoreTest::counter_{0};

TEST_F(S3BlobStoreTest, KnownDigests) {
  auto abc = store_->Put("abc");
  ASSERT_TRUE(abc.ok()) << abc.error().message;
  EXPECT_EQ(abc->sha256, kAbcSha256);
  EXPECT_EQ(abc->sha1, kAbcSha1);
  EXPECT_EQ(abc->size, 3u);
  auto empty = store_->Put("");
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_EQ(empty->sha256, kEmptySha256);

  // Read from the bucket, not the local cache.
  auto cold = OpenStore(server_->endpoint(), dir_.path() + "/cold");
  ASSERT_TRUE(cold);
  EXPECT_EQ(*cold->Read(kAbcSha256, Variant::kIdentity), "abc");
  EXPECT_EQ(*cold->Read(kEmptySha256, Variant::kIdentity), "");
  EXPECT_EQ(*cold->Size(kAbcSha256, Variant::kIdentity), 3u);
  EXPECT_TRUE(*cold->Has(kAbcSha256, Variant::kIdentity));
}

TEST_F(S3BlobStoreTest, KeysMirrorTheLocalLayoutUnderThePrefix) {
  ASSERT_TRUE(store_->Put("abc").ok());
  const std::string key = prefix_ + "blobs/ba/78/" + std::string(kAbcSha256);
  EXPECT_EQ(store_->KeyFor(kAbcSha256, Variant::kIdentity), key);
  EXPECT_EQ(store_->KeyFor(kAbcSha256, Variant::kGzip), key + ".gz");
  EXPECT_EQ(HeadStatus(key), 200);
}

TEST_F(S3BlobStoreTest, PutIsIdempotentAndVerifiesDigest) {
  auto first = store_->Put("abc", kAbcSha256);
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = store_->Put("abc", kAbcSha256);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->sha1, first->sha1);

  auto wrong = store_->Put("abd", kAbcSha256);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(*store_->Read(kAbcSha256, Variant::kIdentity), "abc");
  EXPECT_TRUE(SpoolFiles().empty());
}

TEST_F(S3BlobStoreTest, DigestMismatchLeavesNothingBehind) {
  auto writer = store_->NewWriter();
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write("hel").ok());
  ASSERT_TRUE((*writer)->Write("lo").ok());
  auto committed = (*writer)->Commit(kAbcSha256);
  ASSERT_FALSE(committed.ok());
  EXPECT_EQ(committed.error().code, ErrorCode::kUnprocessable);
  EXPECT_TRUE(SpoolFiles().empty());
  EXPECT_FALSE(*store_->Has(kAbcSha256, Variant::kIdentity));
  EXPECT_FALSE(*store_->Has(Sha256Of("hello"), Variant::kIdentity));
}

TEST_F(S3BlobStoreTest, LargeBlobsGoUpInPartsAndComeBackWhole) {
  // Three parts of 5 MiB, 5 MiB and the rest.
  const std::string content = NoiseBytes((std::size_t{11} << 20) + 17);
  auto writer = store_->NewWriter();
  ASSERT_TRUE(writer.ok());
  for (std::size_t offset = 0; offset < content.size(); offset += 1'000'003) {
    ASSERT_TRUE((*writer)->Write(std::string_view(content).substr(offset, 1'000'003)).ok());
  }
  auto committed = (*writer)->Commit({});
  ASSERT_TRUE(committed.ok()) << committed.error().message;
  EXPECT_EQ(committed->sha256, Sha256Of(content));
  EXPECT_TRUE(SpoolFiles().empty());

  auto cold = OpenStore(server_->endpoint(), dir_.path() + "/cold");
  ASSERT_TRUE(cold);
  EXPECT_EQ(*cold->Size(committed->sha256, Variant::kIdentity), content.size());
  auto read = cold->Read(committed->sha256, Variant::kIdentity);
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(*read == content);
}

TEST_F(S3BlobStoreTest, RejectsInvalidDigests) {
  for (const std::string& digest : {std::string("../../etc/passwd"), std::string(63, 'a'),
                                    std::string(64, 'A'), std::string()}) {
    SCOPED_TRACE(digest);
    EXPECT_EQ(store_->Has(digest, Variant::kIdentity).error().code, ErrorCode::kBadRequest);
    EXPECT_EQ(store_->Touch(digest).error().code, ErrorCode::kBadRequest);
    EXPECT_EQ(store_->Read(digest, Variant::kIdentity).error().code, ErrorCode::kBadRequest);
    EXPECT_EQ(store_->Size(digest, Variant::kGzip).error().code, ErrorCode::kBadRequest);
    EXPECT_EQ(store_->PutVariant(digest, Variant::kBrotli, "x").error().code,
              ErrorCode::kBadRequest);
    EXPECT_EQ(store_->Delete(digest).error().code, ErrorCode::kBadRequest);
    EXPECT_EQ(store_->DeleteIfOlderThan(digest, system_clock::now()).error().code,
              ErrorCode::kBadRequest);
    EXPECT_EQ(store_->LocalPath(digest, Variant::kIdentity), std::nullopt);
  }
}

TEST_F(S3BlobStoreTest, VariantsLiveBesideTheirBlobAndGoWithIt) {
  auto missing = store_->PutVariant(kAbcSha256, Variant::kBrotli, "compressed");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(store_->Put("abc").ok());
  EXPECT_EQ(store_->PutVariant(kAbcSha256, Variant::kIdentity, "x").error().code,
            ErrorCode::kBadRequest);
  EXPECT_FALSE(*store_->Has(kAbcSha256, Variant::kBrotli));
  EXPECT_EQ(store_->Size(kAbcSha256, Variant::kBrotli).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->Read(kAbcSha256, Variant::kBrotli).error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(store_->PutVariant(kAbcSha256, Variant::kBrotli, "br-bytes").ok());
  ASSERT_TRUE(store_->PutVariant(kAbcSha256, Variant::kGzip, "gz").ok());
  // A cached variant is dropped when it is replaced.
  ASSERT_TRUE(store_->LocalPath(kAbcSha256, Variant::kGzip).has_value());
  ASSERT_TRUE(store_->PutVariant(kAbcSha256, Variant::kGzip, "gz-bytes").ok());
  EXPECT_EQ(*store_->Read(kAbcSha256, Variant::kBrotli), "br-bytes");
  EXPECT_EQ(*store_->Read(kAbcSha256, Variant::kGzip), "gz-bytes");
  EXPECT_EQ(*store_->Size(kAbcSha256, Variant::kGzip), 8u);
  ASSERT_EQ(store_->List()->size(), 1u);  // variants are not blobs of their own

  ASSERT_TRUE(store_->Delete(kAbcSha256).ok());
  for (Variant v : {Variant::kIdentity, Variant::kBrotli, Variant::kGzip}) {
    EXPECT_FALSE(*store_->Has(kAbcSha256, v));
  }
  EXPECT_EQ(store_->Read(kAbcSha256, Variant::kIdentity).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->LocalPath(kAbcSha256, Variant::kIdentity), std::nullopt);
  EXPECT_TRUE(store_->Delete(kAbcSha256).ok());  // already absent: fine
}

TEST_F(S3BlobStoreTest, ListReportsBlobsWithSizeAndMtime) {
  EXPECT_TRUE(store_->List()->empty());
  const auto before = system_clock::now() - std::chrono::seconds(60);
  ASSERT_TRUE(store_->Put("abc").ok());
  ASSERT_TRUE(store_->Put("").ok());
  auto big = store_->Put(std::string(1000, 'x'));
  ASSERT_TRUE(big.ok());
  ASSERT_TRUE(store_->PutVariant(big->sha256, Variant::kGzip, "gz").ok());
  // Strays that are not blobs are ignored.
  S3Request stray{"PUT", prefix_ + "blobs/ba/78/notes.txt", {}, {}, {}, -1};
  stray.body.data = "x";
  ASSERT_EQ(store_->client().Send(stray)->status, 200);
  stray.key = prefix_ + "blobs/zz/yy/" + std::string(64, 'a');
  ASSERT_EQ(store_->client().Send(stray)->status, 200);

  auto listed = store_->List();
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  std::map<std::string, std::uint64_t> sizes;
  for (const StoredBlob& b : *listed) {
    sizes[b.sha256] = b.size;
    EXPECT_GE(b.mtime, before);
  }
  EXPECT_EQ(sizes, (std::map<std::string, std::uint64_t>{{std::string(kAbcSha256), 3},
                                                         {std::string(kEmptySha256), 0},
                                                         {big->sha256, 1000}}));
}

TEST_F(S3BlobStoreTest, ListFollowsContinuationTokens) {
  // s3rver pages ListObjectsV2 at 1000 keys, like S3.
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < 1003; i += 4) {
        if (!store_->Put("blob " + std::to_string(i)).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures, 0);
  auto listed = store_->List();
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  EXPECT_EQ(listed->size(), 1003u);
}

TEST_F(S3BlobStoreTest, TouchAndDeleteIfOlderThan) {
  const auto now = system_clock::now();
  EXPECT_FALSE(*store_->Touch(kAbcSha256));
  EXPECT_FALSE(*store_->DeleteIfOlderThan(kAbcSha256, now + hours(1)));

  ASSERT_TRUE(store_->Put("abc").ok());
  // Young: kept.
  EXPECT_FALSE(*store_->DeleteIfOlderThan(kAbcSha256, now - hours(1)));
  // A claim is a copy in place: the object keeps its content.
  EXPECT_TRUE(*store_->Touch(kAbcSha256));
  EXPECT_EQ(*store_->Read(kAbcSha256, Variant::kIdentity), "abc");
  auto cold = OpenStore(server_->endpoint(), dir_.path() + "/cold");
  EXPECT_EQ(*cold->Read(kAbcSha256, Variant::kIdentity), "abc");
  EXPECT_FALSE(*store_->DeleteIfOlderThan(kAbcSha256, now - hours(1)));

  // Older than a cutoff in the future: deleted, with its variants.
  ASSERT_TRUE(store_->PutVariant(kAbcSha256, Variant::kBrotli, "b").ok());
  EXPECT_TRUE(*store_->DeleteIfOlderThan(kAbcSha256, system_clock::now() + hours(1)));
  EXPECT_FALSE(*store_->Has(kAbcSha256, Variant::kIdentity));
  EXPECT_FALSE(*store_->Has(kAbcSha256, Variant::kBrotli));
  EXPECT_TRUE(store_->List()->empty());
}

TEST_F(S3BlobStoreTest, TouchManyClaimsConcurrentlyAndSaysWhichAreStored) {
  std::vector<std::string> digests;
  std::vector<bool> expected;
  for (int i = 0; i < 40; ++i) {
    if (i % 3 == 0) {
      digests.push_back(Sha256Of("never stored " + std::to_string(i)));
      expected.push_back(false);
    } else {
      digests.push_back(store_->Put("stored " + std::to_string(i))->sha256);
      expected.push_back(true);
    }
  }
  auto claimed = store_->TouchMany(digests);
  ASSERT_TRUE(claimed.ok()) << claimed.error().message;
  EXPECT_EQ(*claimed, expected);
  EXPECT_TRUE(store_->TouchMany({})->empty());
  digests.push_back("not a digest");
  EXPECT_EQ(store_->TouchMany(digests).error().code, ErrorCode::kBadRequest);
}

TEST_F(S3BlobStoreTest, ConcurrentPutOfSameContentYieldsOneBlob) {
  const std::string content = NoiseBytes(std::size_t{512} * 1024, 7);
  std::vector<Result<BlobInfo>> results(6, Error{});
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = store_->Put(content); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(store_->List()->size(), 1u);
  EXPECT_EQ(*store_->Read(results[0]->sha256, Variant::kIdentity), content);
  EXPECT_TRUE(SpoolFiles().empty());
}

TEST_F(S3BlobStoreTest, LocalPathDownloadsIntoTheBoundedCache) {
  auto put = store_->Put(std::string(4000, 'p'));
  ASSERT_TRUE(put.ok());
  ScopedTempDir cold_dir;
  auto options = Options(server_->endpoint(), cold_dir.path());
  options.cache_bytes = 10'000;
  auto opened = S3BlobStore::Open(options);
  ASSERT_TRUE(opened.ok());
  auto& cold = *opened;
  EXPECT_EQ(cold->cache().UsedBytes(), 0u);
  auto path = cold->LocalPath(put->sha256, Variant::kIdentity);
  ASSERT_TRUE(path.has_value());
  EXPECT_EQ(cold->cache().UsedBytes(), 4000u);
  std::ifstream in(*path, std::ios::binary);
  std::string on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(on_disk, std::string(4000, 'p'));
  EXPECT_EQ(cold->LocalPath(put->sha256, Variant::kIdentity), path);  // a hit

  // Two more of 4000 bytes: the least recently used goes.
  auto second = store_->Put(std::string(4000, 's'));
  auto third = store_->Put(std::string(4000, 't'));
  ASSERT_TRUE(cold->LocalPath(second->sha256, Variant::kIdentity).has_value());
  ASSERT_TRUE(cold->LocalPath(put->sha256, Variant::kIdentity).has_value());  // used again
  ASSERT_TRUE(cold->LocalPath(third->sha256, Variant::kIdentity).has_value());
  EXPECT_EQ(cold->cache().UsedBytes(), 8000u);
  EXPECT_TRUE(cold->cache().Lookup(put->sha256).has_value());
  EXPECT_FALSE(cold->cache().Lookup(second->sha256).has_value());
  EXPECT_FALSE(std::filesystem::exists(cold_dir.path() + "/" + second->sha256.substr(0, 2) + "/" +
                                       second->sha256));

  // A blob the bucket lacks: no path.
  EXPECT_EQ(cold->LocalPath(std::string(64, 'e'), Variant::kIdentity), std::nullopt);

  // The index survives a restart.
  auto reopened = BlobDiskCache::Open(cold_dir.path(), 10'000);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->UsedBytes(), 8000u);
}

TEST_F(S3BlobStoreTest, GarbageCollectionSweepsTheBucket) {
  const std::string live = store_->Put("live")->sha256;
  const std::string dead = store_->Put("dead")->sha256;
  const std::string claimed = store_->Put("claimed")->sha256;
  ASSERT_TRUE(store_->PutVariant(dead, Variant::kGzip, "gz").ok());

  // Nothing is older than an hour yet.
  auto early = CollectGarbage(*store_, {live}, hours(1), system_clock::now());
  ASSERT_TRUE(early.ok()) << early.error().message;
  EXPECT_EQ(early->deleted, 0u);
  EXPECT_EQ(early->young, 2u);

  // Two hours on, the unreferenced blobs are old enough.
  auto later = CollectGarbage(*store_, {live, claimed}, hours(1), system_clock::now() + hours(2));
  ASSERT_TRUE(later.ok()) << later.error().message;
  EXPECT_EQ(later->scanned, 3u);
  EXPECT_EQ(later->live, 2u);
  EXPECT_EQ(later->deleted_sha256, std::vector<std::string>{dead});
  EXPECT_EQ(later->bytes_freed, 4u);
  EXPECT_TRUE(*store_->Has(live, Variant::kIdentity));
  EXPECT_TRUE(*store_->Has(claimed, Variant::kIdentity));
  EXPECT_FALSE(*store_->Has(dead, Variant::kIdentity));
  EXPECT_FALSE(*store_->Has(dead, Variant::kGzip));
}

TEST_F(S3BlobStoreTest, WrongCredentialsAreRefused) {
  // s3rver checks signatures: a wrong secret must not get through.
  auto options = Options(server_->endpoint(), dir_.path() + "/other");
  options.client.credentials.secret_access_key = "not-the-secret";
  auto opened = S3BlobStore::Open(options);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kForbidden);
}

TEST_F(S3BlobStoreTest, MissingBucketIsNotFound) {
  auto options = Options(server_->endpoint(), dir_.path() + "/other");
  options.client.bucket = "no-such-bucket";
  auto opened = S3BlobStore::Open(options);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kNotFound);
}

TEST_F(S3BlobStoreTest, SlowDownAndServerErrorsAreRetried) {
  FaultProxy proxy(server_->port());
  auto through_proxy = OpenStore(proxy.endpoint(), dir_.path() + "/proxied");
  ASSERT_TRUE(through_proxy);

  proxy.FailNext(2, FaultProxy::Fault::kSlowDown);
  auto put = through_proxy->Put("retried after SlowDown");
  ASSERT_TRUE(put.ok()) << put.error().message;
  EXPECT_EQ(proxy.faults_injected(), 2);

  proxy.FailNext(2, FaultProxy::Fault::kInternalError);
  EXPECT_TRUE(*through_proxy->Has(put->sha256, Variant::kIdentity));
  EXPECT_EQ(proxy.faults_injected(), 4);

  proxy.FailNext(2, FaultProxy::Fault::kDropConnection);
  EXPECT_TRUE(*through_proxy->Touch(put->sha256));  // always a request (Read may hit the cache)
  EXPECT_EQ(proxy.faults_injected(), 6);

  // A large upload whose parts meet failures still completes.
  const std::string content = NoiseBytes((std::size_t{6} << 20) + 1, 9);
  proxy.FailNext(3, FaultProxy::Fault::kSlowDown);
  auto large = through_proxy->Put(content);
  ASSERT_TRUE(large.ok()) << large.error().message;
  EXPECT_EQ(*store_->Read(large->sha256, Variant::kIdentity), content);
}

TEST_F(S3BlobStoreTest, GivesUpWhenFailuresOutlastTheAttempts) {
  FaultProxy proxy(server_->port());
  auto options = Options(proxy.endpoint(), dir_.path() + "/proxied");
  auto opened = S3BlobStore::Open(options);
  ASSERT_TRUE(opened.ok());
  proxy.FailNext(options.client.max_attempts, FaultProxy::Fault::kSlowDown);
  auto has = (*opened)->Has(kAbcSha256, Variant::kIdentity);
  ASSERT_FALSE(has.ok());
  EXPECT_EQ(has.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(proxy.faults_injected(), options.client.max_attempts);
}

// libcurl's CURLOPT_AWS_SIGV4 (with X-Amz-Date pinned by a header of our own) signs a GET the
// same way as our signer. The store sends our signature (s3_client.hpp says why); this keeps
// the two independent implementations honest with each other.
TEST_F(S3BlobStoreTest, LibcurlSigV4AgreesWithOurs) {
  ASSERT_TRUE(store_->Put("abc").ok());
  const std::string key = store_->KeyFor(kAbcSha256, Variant::kIdentity);
  const auto [url, host] = store_->client().UrlAndHost(key);
  const std::string amz_date = AmzDate(
      std::chrono::duration_cast<std::chrono::seconds>(system_clock::now().time_since_epoch())
          .count());
  std::string sent_head;
  std::string body;
  CURL* curl = curl_easy_init();
  ASSERT_NE(curl, nullptr);
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, ("X-Amz-Date: " + amz_date).c_str());
  headers =
      curl_slist_append(headers, ("x-amz-content-sha256: " + std::string(kEmptySha256)).c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
  curl_easy_setopt(curl, CURLOPT_USERPWD, "S3RVER:S3RVER");
  curl_easy_setopt(
      curl, CURLOPT_DEBUGFUNCTION,
      +[](CURL*, curl_infotype type, char* data, std::size_t size, void* user) {
        if (type == CURLINFO_HEADER_OUT) {
          static_cast<std::string*>(user)->append(data, size);
        }
        return 0;
      });
  curl_easy_setopt(curl, CURLOPT_DEBUGDATA, &sent_head);
  curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt(
      curl, CURLOPT_WRITEFUNCTION, +[](char* data, std::size_t size, std::size_t n, void* user) {
        static_cast<std::string*>(user)->append(data, size * n);
        return size * n;
      });
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  ASSERT_EQ(curl_easy_perform(curl), CURLE_OK);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  // libcurl 7.88 sends a pinned X-Amz-Date twice (its copy and ours), which s3rver rejects as
  // a malformed date: one more reason the store signs for itself. The signature is what is
  // compared here.
  EXPECT_TRUE(status == 200 || status == 403) << body;

  // The header curl sent, and ours for the same request and signed headers.
  std::map<std::string, std::string> sent;
  std::istringstream lines(sent_head);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    sent[name] = line.substr(line.find_first_not_of(' ', colon + 1));
  }
  ASSERT_TRUE(sent.contains("authorization")) << sent_head;
  const std::string& curls = sent["authorization"];
  const auto signed_at = curls.find("SignedHeaders=");
  ASSERT_NE(signed_at, std::string::npos);
  std::string signed_names =
      curls.substr(signed_at + 14, curls.find(',', signed_at) - signed_at - 14);
  SigV4Request request{
      "GET", "/" + std::string(S3rver::kBucket) + "/" + key, {}, {}, std::string(kEmptySha256)};
  std::istringstream names(signed_names);
  for (std::string name; std::getline(names, name, ';');) {
    request.headers.emplace_back(name, sent[name]);
  }
  const std::string ours = SigV4Authorization(request, {"S3RVER", "S3RVER", ""}, "us-east-1", "s3");
  // curl writes no space after the commas; the content is what must agree.
  auto without_spaces = [](std::string s) {
    std::erase(s, ' ');
    return s;
  };
  EXPECT_EQ(without_spaces(curls), without_spaces(ours)) << sent_head;
}

TEST(S3Url, Parses) {
  EXPECT_EQ(*ParseS3Url("s3://bucket"), (std::pair<std::string, std::string>("bucket", "")));
  EXPECT_EQ(*ParseS3Url("s3://bucket/"), (std::pair<std::string, std::string>("bucket", "")));
  EXPECT_EQ(*ParseS3Url("s3://bucket/a/b"),
            (std::pair<std::string, std::string>("bucket", "a/b/")));
  EXPECT_FALSE(ParseS3Url("s3:///x").ok());
  EXPECT_FALSE(ParseS3Url("https://bucket/x").ok());
}

TEST(S3Xml, ElementsTextAndTimes) {
  const std::string xml =
      "<R><Contents><Key>a&amp;b</Key></Contents><Contents><Key>c</Key></Contents>"
      "<IsTruncated>false</IsTruncated></R>";
  EXPECT_EQ(XmlElements(xml, "Contents").size(), 2u);
  EXPECT_EQ(XmlText(xml, "Key"), "a&b");
  EXPECT_EQ(XmlText(xml, "Missing"), "");
  const auto iso = ParseS3Time("2013-05-24T00:00:00.250Z");
  ASSERT_TRUE(iso.has_value());
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(iso->time_since_epoch()).count(),
            1369353600250);
  const auto http = ParseS3Time("Fri, 24 May 2013 00:00:00 GMT");
  ASSERT_TRUE(http.has_value());
  EXPECT_EQ(std::chrono::system_clock::to_time_t(*http), 1369353600);
  EXPECT_FALSE(ParseS3Time("yesterday").has_value());
}

TEST(S3Retry, WhatIsRetried) {
  EXPECT_TRUE(IsRetryableS3Status(500, ""));
  EXPECT_TRUE(IsRetryableS3Status(503, ""));
  EXPECT_TRUE(IsRetryableS3Status(429, ""));
  EXPECT_TRUE(IsRetryableS3Status(400, "<Error><Code>SlowDown</Code></Error>"));
  EXPECT_FALSE(IsRetryableS3Status(404, "<Error><Code>NoSuchKey</Code></Error>"));
  EXPECT_FALSE(IsRetryableS3Status(403, ""));
  EXPECT_FALSE(IsRetryableS3Status(200, ""));
}

}  // namespace
}  // namespace replideploy::store
