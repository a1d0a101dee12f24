#include "core/config.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "core/crypto.hpp"

namespace replideploy::core {
namespace {

namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitCrypto();
    char tmpl[] = "/tmp/rd-config-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(ConfigTest, FileSetsKeysNotGivenElsewhere) {
  ServeConfig c;
  const auto path = Write("a.toml",
                          "listen = \"127.0.0.1:9999\"\nbase-domain = \"example.test\"\n"
                          "io-threads = 3\n");
  ASSERT_TRUE(ApplyConfigFile(path, c, [](std::string_view n) { return n == "listen"; }).ok());
  EXPECT_EQ(c.listen, "127.0.0.1:8080");  // the flag/env wins
  EXPECT_EQ(c.base_domain, "example.test");
  EXPECT_EQ(c.io_threads, 3);
}

TEST_F(ConfigTest, UnknownKeyIsNamed) {
  ServeConfig c;
  auto st = ApplyConfigFile(Write("b.toml", "lisen = \"x\"\n"), c, [](auto) { return false; });
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("unknown key 'lisen'"), std::string::npos)
      << st.error().message;
}

TEST_F(ConfigTest, WrongTypeAndSyntaxErrorsAreClear) {
  ServeConfig c;
  auto st =
      ApplyConfigFile(Write("c.toml", "io-threads = \"two\"\n"), c, [](auto) { return false; });
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("'io-threads' must be an integer"), std::string::npos);
  st = ApplyConfigFile(Write("d.toml", "\nlisten = \n"), c, [](auto) { return false; });
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("line 2"), std::string::npos) << st.error().message;
  st = ApplyConfigFile(dir_ + "/missing.toml", c, [](auto) { return false; });
  EXPECT_FALSE(st.ok());
}

TEST_F(ConfigTest, ListenAddressParsing) {
  auto a = ParseListenAddress("127.0.0.1:8080");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  auto b = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
  EXPECT_FALSE(ParseListenAddress("127.0.0.1").ok());
  EXPECT_FALSE(ParseListenAddress("127.0.0.1:65536").ok());
  EXPECT_FALSE(ParseListenAddress("127.0.0.1:80x").ok());
  EXPECT_FALSE(ParseListenAddress(":80").ok());
}

TEST_F(ConfigTest, EnvNames) {
  EXPECT_EQ(EnvName("data-dir"), "REPLIDEPLOY_DATA_DIR");
  EXPECT_EQ(EnvName("listen"), "REPLIDEPLOY_LISTEN");
}

TEST_F(ConfigTest, SecretKeyIsCreatedOnceWithMode0600) {
  ServeConfig c;
  c.data_dir = dir_;
  auto first = LoadOrCreateSecretKey(c);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->size(), 32u);
  struct stat st {};
  ASSERT_EQ(stat((dir_ + "/secret.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto second = LoadOrCreateSecretKey(c);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);
}

TEST_F(ConfigTest, GivenSecretKeyMustBe64Hex) {
  ServeConfig c;
  c.data_dir = dir_;
  c.secret_key = std::string(64, 'a');
  EXPECT_TRUE(LoadOrCreateSecretKey(c).ok());
  c.secret_key = "short";
  EXPECT_FALSE(LoadOrCreateSecretKey(c).ok());
  EXPECT_FALSE(ValidateConfig(c).ok());
}

TEST_F(ConfigTest, BlobStoreIsLocalOrAnS3Url) {
  ServeConfig c;
  EXPECT_TRUE(ValidateConfig(c).ok());
  for (const char* good : {"s3://bucket", "s3://bucket/some/prefix"}) {
    c.blob_store = good;
    EXPECT_TRUE(ValidateConfig(c).ok()) << good;
  }
  for (const char* bad : {"s3://", "s3:///prefix", "gs://bucket", "/var/blobs", ""}) {
    c.blob_store = bad;
    EXPECT_FALSE(ValidateConfig(c).ok()) << bad;
  }
  c.blob_store = "s3://bucket";
  c.s3_endpoint = "127.0.0.1:9000";
  EXPECT_FALSE(ValidateConfig(c).ok());
  c.s3_endpoint = "http://127.0.0.1:9000";
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.blob_cache_mb = 0;
  EXPECT_FALSE(ValidateConfig(c).ok());
}

TEST_F(ConfigTest, FunctionsRunnerIsLocalOrLambdaWithARole) {
  ServeConfig c;
  EXPECT_EQ(c.functions_runner, "local");
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.functions_runner = "docker";
  EXPECT_FALSE(ValidateConfig(c).ok());
  c.functions_runner = "lambda";
  auto missing = ValidateConfig(c);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("lambda-role-arn"), std::string::npos);
  c.lambda_role_arn = "arn:aws:iam::123456789012:role/fns";
  EXPECT_TRUE(ValidateConfig(c).ok());
}

TEST_F(ConfigTest, HttpsListenerNeedsCertificatesInPairs) {
  ServeConfig c;
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.listen_tls = "127.0.0.1:8443";
  EXPECT_FALSE(ValidateConfig(c).ok());  // no certificate named
  c.tls_cert = "a.crt,b.crt";
  c.tls_key = "a.key";
  EXPECT_FALSE(ValidateConfig(c).ok());  // not paired
  c.tls_key = "a.key,b.key";
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.listen_tls = "nonsense";
  EXPECT_FALSE(ValidateConfig(c).ok());
  c.listen_tls.clear();
  c.tls_cert.clear();
  c.tls_key.clear();
  c.tls_dir = "/etc/certs";
  c.listen_tls = "[::1]:443";
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.http2 = 2;
  EXPECT_FALSE(ValidateConfig(c).ok());
}

TEST_F(ConfigTest, HttpsListenerWithAnAcmeCaNeedsNoCertificateFiles) {
  ServeConfig c;
  c.listen_tls = "127.0.0.1:8443";
  EXPECT_FALSE(ValidateConfig(c).ok());
  c.acme_directory = "https://acme.example/directory";
  EXPECT_TRUE(ValidateConfig(c).ok());  // certificates come from the database
}

TEST_F(ConfigTest, OnDemandTlsSettingsAreChecked) {
  ServeConfig c;
  c.tls_on_demand = 1;
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.tls_on_demand_ask = "ftp://ask.example/";
  auto bad = ValidateConfig(c);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("tls-on-demand-ask must start with http"), std::string::npos);
  c.tls_on_demand_ask = "https://ask.example/allow";
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.tls_on_demand = 0;  // an ask-URL without on-demand is a mistake
  EXPECT_FALSE(ValidateConfig(c).ok());
  c.tls_on_demand = 2;
  EXPECT_FALSE(ValidateConfig(c).ok());
  c.tls_on_demand = 1;
  c.tls_on_demand_per_hour = 0;
  EXPECT_FALSE(ValidateConfig(c).ok());
}

TEST_F(ConfigTest, FunctionSettingsAreChecked) {
  ServeConfig c;
  EXPECT_EQ(c.functions_prewarm, 8);
  EXPECT_EQ(c.functions_network, "public");
  c.functions_prewarm = 0;  // off
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.functions_prewarm = 65;
  auto bad = ValidateConfig(c);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("functions-prewarm"), std::string::npos);
  c.functions_prewarm = -1;
  EXPECT_FALSE(ValidateConfig(c).ok());
  c.functions_prewarm = 8;
  c.functions_network = "private";
  bad = ValidateConfig(c);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("functions-network must be public or none"),
            std::string::npos);
}

TEST_F(ConfigTest, DataDirMustBeWritable) {
  EXPECT_TRUE(PrepareDataDir(dir_ + "/new/nested").ok());
  Write("file", "x");
  auto st = PrepareDataDir(dir_ + "/file");
  EXPECT_FALSE(st.ok());
  if (geteuid() != 0) {  // root writes anywhere; the binary test covers a read-only mount instead
    fs::create_directory(dir_ + "/ro");
    chmod((dir_ + "/ro").c_str(), 0500);
    EXPECT_FALSE(PrepareDataDir(dir_ + "/ro").ok());
  }
}

TEST_F(ConfigTest, DataDirKeyAndDatabaseAreTheOwnersAlone) {
  const std::string dir = dir_ + "/private";
  fs::create_directory(dir);
  chmod(dir.c_str(), 0755);
  Write("private/secret.key", std::string(64, 'a') + "\n");
  chmod((dir + "/secret.key").c_str(), 0644);
  Write("private/replideploy.db-wal", "");
  chmod((dir + "/replideploy.db-wal").c_str(), 0664);
  ASSERT_TRUE(PrepareDataDir(dir).ok());
  auto mode = [](const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : -1;
  };
  EXPECT_EQ(mode(dir), 0700);
  EXPECT_EQ(mode(dir + "/secret.key"), 0600);
  EXPECT_EQ(mode(dir + "/replideploy.db-wal"), 0600);
  // A new key is 0600 too.
  ServeConfig c;
  c.data_dir = dir_ + "/fresh";
  ASSERT_TRUE(PrepareDataDir(c.data_dir).ok());
  ASSERT_TRUE(LoadOrCreateSecretKey(c).ok());
  EXPECT_EQ(mode(c.data_dir + "/secret.key"), 0600);
}

TEST_F(ConfigTest, DefaultDatabaseUrlIsSqliteInDataDir) {
  ServeConfig c;
  c.data_dir = "/srv/rd";
  EXPECT_EQ(DatabaseUrl(c), "sqlite:///srv/rd/replideploy.db");
  c.database = "postgres://x@127.0.0.1/y";
  EXPECT_EQ(DatabaseUrl(c), "postgres://x@127.0.0.1/y");
}

}  // namespace
}  // namespace replideploy::core
