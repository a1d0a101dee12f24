#include "db/testing.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "core/crypto.hpp"
#include "db/migrate.hpp"

namespace replideploy::db {
void PrintTo(Engine engine, std::ostream* os) { *os << testing::EngineName(engine); }
}  // namespace replideploy::db

namespace replideploy::db::testing {

namespace {

constexpr const char* kPostgresUrlVar = "REPLIDEPLOY_TEST_POSTGRES_URL";
constexpr const char* kRequirePostgresVar = "REPLIDEPLOY_REQUIRE_POSTGRES";

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

// `url` with its database name (the path) replaced by `database`; the query stays.
std::string WithDatabase(const std::string& url, const std::string& database) {
  const std::size_t authority = url.find("://");
  const std::size_t begin = authority == std::string::npos ? 0 : authority + 3;
  const std::size_t path = url.find_first_of("/?", begin);
  if (path == std::string::npos) return url + "/" + database;
  if (url[path] == '?') return url.substr(0, path) + "/" + database + url.substr(path);
  const std::size_t query = url.find('?', path);
  return url.substr(0, path) + "/" + database +
         (query == std::string::npos ? "" : url.substr(query));
}

Status AdminExec(const std::string& admin_url, const std::string& sql) {
  OpenOptions options;
  options.pool_size = 1;
  RD_TRY(auto admin, Open(admin_url, options));
  Result<Rows> done = admin->Exec(sql);
  if (!done.ok()) return std::move(done).error();
  return {};
}

}  // namespace

std::vector<Engine> Engines() { return {Engine::kSqlite, Engine::kPostgres}; }

std::string EngineName(Engine engine) { return engine == Engine::kSqlite ? "Sqlite" : "Postgres"; }

std::string EngineParamName(const ::testing::TestParamInfo<Engine>& param_info) {
  return EngineName(param_info.param);
}

TestDatabase::TestDatabase(Engine engine) : engine_(engine) {
  core::InitCrypto();
  if (engine == Engine::kSqlite) {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::temp_directory_path(ec);
    if (ec) base = "/tmp";
    std::string pattern = (base / "rd_test_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      skip_reason_ = "cannot create a temporary directory under " + base.string();
      ADD_FAILURE() << skip_reason_;
      return;
    }
    temp_dir_ = pattern;
    url_ = "sqlite://" + temp_dir_ + "/test.db";
  } else {
    pg_admin_url_ = Env(kPostgresUrlVar);
    if (pg_admin_url_.empty()) {
      if (Env(kRequirePostgresVar) == "1") {
        skip_reason_ = std::string(kRequirePostgresVar) + "=1 but " + kPostgresUrlVar +
                       " is not set: start a server with tests/postgres.sh start DIR and "
                       "export the URL it prints";
        ADD_FAILURE() << skip_reason_;
      } else {
        skip_reason_ = std::string("PostgreSQL tests skipped: set ") + kPostgresUrlVar +
                       " to a server where the user may CREATE DATABASE (tests/postgres.sh "
                       "start DIR prints one)";
      }
      return;
    }
    pg_database_ = "rd_test_" + core::HexEncode(core::RandomBytes(6));
    Status created = AdminExec(pg_admin_url_, "CREATE DATABASE " + pg_database_);
    if (!created.ok()) {
      skip_reason_ = "cannot create test database: " + created.error().message;
      pg_database_.clear();
      ADD_FAILURE() << skip_reason_;
      return;
    }
    url_ = WithDatabase(pg_admin_url_, pg_database_);
  }

  Result<std::unique_ptr<Database>> opened = Open(url_);
  if (!opened.ok()) {
    skip_reason_ = "cannot open test database: " + opened.error().message;
    ADD_FAILURE() << skip_reason_;
    return;
  }
  Result<int> migrated = Migrate(**opened);
  if (!migrated.ok()) {
    skip_reason_ = "cannot migrate test database: " + migrated.error().message;
    ADD_FAILURE() << skip_reason_;
    return;
  }
  db_ = std::move(opened).value();
}

TestDatabase::~TestDatabase() {
  // Close every connection before the database goes away.
  db_.reset();
  if (!temp_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(temp_dir_, ec);
  }
  if (engine_ == Engine::kPostgres && !pg_database_.empty()) {
    Status dropped =
        AdminExec(pg_admin_url_, "DROP DATABASE IF EXISTS " + pg_database_ + " WITH (FORCE)");
    if (!dropped.ok()) {
      ADD_FAILURE() << "cannot drop test database " << pg_database_ << ": "
                    << dropped.error().message;
    }
  }
}

}  // namespace replideploy::db::testing
