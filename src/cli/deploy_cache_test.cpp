#include "cli/deploy_cache.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>

#include "cli/deploy_scan.hpp"
#include "core/crypto.hpp"
#include "store/testing.hpp"

namespace replideploy::cli {
namespace {

std::string Sha1(std::string_view s) { return core::HexEncode(core::Sha1(s)); }

class DeployCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { core::InitCrypto(); }
  std::string site() const { return dir_.path() + "/site"; }
  std::string file() const { return dir_.path() + "/cache/deploy.cache"; }
  // Writes `content` to site/rel with an mtime `age` in the past.
  void Write(const std::string& rel, const std::string& content,
             std::chrono::seconds age = std::chrono::hours(1)) {
    std::filesystem::create_directories(std::filesystem::path(site() + "/" + rel).parent_path());
    std::ofstream(site() + "/" + rel, std::ios::binary | std::ios::trunc) << content;
    const auto when = std::chrono::system_clock::now() - age;
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count();
    const timespec times[2] = {{ns / 1'000'000'000, ns % 1'000'000'000},
                               {ns / 1'000'000'000, ns % 1'000'000'000}};
    ASSERT_EQ(utimensat(AT_FDCWD, (site() + "/" + rel).c_str(), times, 0), 0);
  }
  ScannedFolder Scan(DeployCache& cache) {
    auto scanned = ScanDirectory(site(), cache);
    EXPECT_TRUE(scanned.ok()) << scanned.error().message;
    return scanned.ok() ? std::move(*scanned) : ScannedFolder{};
  }
  std::map<std::string, std::string> Digests(const ScannedFolder& folder) {
    std::map<std::string, std::string> out;
    for (const LocalFile& f : folder.files) out[f.path] = f.sha1;
    return out;
  }

  store::testing::ScopedTempDir dir_;
};

TEST_F(DeployCacheTest, UnchangedFilesAreNotReadAgainAndEditedOnesAre) {
  Write("index.html", "home");
  Write("a/b.txt", "bee");
  DeployCache cache;
  ScannedFolder first = Scan(cache);
  EXPECT_EQ(first.hashed, 2U);
  ASSERT_TRUE(SaveDeployCache(file(), site(), cache, "").ok());

  DeployCache loaded = LoadDeployCache(file(), site());
  ASSERT_EQ(loaded.digests.size(), 2U);
  ScannedFolder second = Scan(loaded);
  EXPECT_EQ(second.hashed, 0U) << "both came from the cache";
  EXPECT_EQ(Digests(second), Digests(first));

  // An edit (same size, another mtime) is read again; a new file is hashed.
  Write("a/b.txt", "BEE", std::chrono::minutes(30));
  Write("new.txt", "new");
  ScannedFolder third = Scan(loaded);
  EXPECT_EQ(third.hashed, 2U);
  EXPECT_EQ(Digests(third).at("/a/b.txt"), Sha1("BEE"));
  EXPECT_EQ(Digests(third).at("/new.txt"), Sha1("new"));
  EXPECT_EQ(Digests(third).at("/index.html"), Sha1("home"));
}

TEST_F(DeployCacheTest, AFileModifiedJustBeforeTheScanIsNotCached) {
  Write("old.txt", "old");
  // Written "now" by a clock a little ahead (an mtime after the scan's start, as a write
  // during the scan would have): never cached, whatever the load on the machine.
  Write("young.txt", "young", std::chrono::seconds(-5));
  DeployCache cache;
  Scan(cache);
  EXPECT_TRUE(cache.digests.contains("/old.txt"));
  EXPECT_FALSE(cache.digests.contains("/young.txt")) << "within the racy window";
  // A whole-second mtime: two seconds of caution.
  EXPECT_TRUE(Cacheable(FileStamp{1, 0, 1}, kRacyWindowNs + 1));
  EXPECT_FALSE(Cacheable(FileStamp{1, 1'000'000'000, 1}, 1'000'000'000 + kRacyWindowNs));
  EXPECT_FALSE(Cacheable(FileStamp{1, 1'000'000'000, 1}, 1'000'000'000 + kFineRacyWindowNs + 1));
  // Nanosecond timestamps: a tenth of a second.
  EXPECT_TRUE(Cacheable(FileStamp{1, 10, 1}, kFineRacyWindowNs + 11));
  EXPECT_FALSE(Cacheable(FileStamp{1, 10, 1}, kFineRacyWindowNs + 10));
}

TEST_F(DeployCacheTest, BasesRoundTripAndACorruptOrForeignCacheIsIgnored) {
  Write("index.html", "home");
  DeployCache cache;
  Scan(cache);
  cache.bases[BaseKey("http://api", "site")] = BaseDeploy{"d1", {{"/index.html", Sha1("home")}}};
  ASSERT_TRUE(SaveDeployCache(file(), site(), cache, BaseKey("http://api", "site")).ok());
  DeployCache loaded = LoadDeployCache(file(), site());
  ASSERT_EQ(loaded.bases.size(), 1U);
  EXPECT_EQ(loaded.bases.begin()->second.deploy_id, "d1");
  EXPECT_EQ(loaded.bases.begin()->second.files, cache.bases.begin()->second.files);
  EXPECT_TRUE(LoadDeployCache(file(), site() + "-other").digests.empty()) << "another folder's";

  std::ifstream in(file(), std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto with = [&](const std::string& content) {
    std::ofstream(file(), std::ios::binary | std::ios::trunc) << content;
    return LoadDeployCache(file(), site());
  };
  const std::size_t sha = text.find(Sha1("home"));
  ASSERT_NE(sha, std::string::npos);
  for (const std::string& bad : {
           text.substr(0, text.size() - 4),                           // cut
           text + "h\t/x\t1\t2\t3\t" + Sha1("x") + "\n",              // after the end
           std::string(text).replace(sha, 40, std::string(40, 'Z')),  // not a digest
           "x" + text,                                                // not the header
           std::string("\x01\x02garbage"),
       }) {
    const DeployCache got = with(bad);
    EXPECT_TRUE(got.digests.empty() && got.bases.empty()) << bad.substr(0, 80);
  }
  // Ignored means hashed again, correctly.
  with("nonsense\n");
  DeployCache fresh = LoadDeployCache(file(), site());
  ScannedFolder again = Scan(fresh);
  EXPECT_EQ(again.hashed, 1U);
  EXPECT_EQ(Digests(again).at("/index.html"), Sha1("home"));
}

}  // namespace
}  // namespace replideploy::cli
