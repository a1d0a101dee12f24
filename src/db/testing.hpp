// Test support: a fresh, migrated database per test, on each engine this run can reach.
//
// SQLite always (a file in a new temp dir). PostgreSQL when REPLIDEPLOY_TEST_POSTGRES_URL names
// a server where the user may CREATE DATABASE: each TestDatabase gets its own database
// (rd_test_<random>), dropped again in the destructor. When the variable is unset the
// PostgreSQL cases skip with a visible message, unless REPLIDEPLOY_REQUIRE_POSTGRES=1 (the
// README's test command sets it), which makes them fail instead.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "db/database.hpp"

namespace replideploy::db {
// Lets GoogleTest print an Engine parameter as "Sqlite" / "Postgres" (found by ADL).
void PrintTo(Engine engine, std::ostream* os);
}  // namespace replideploy::db

namespace replideploy::db::testing {

// Values for INSTANTIATE_TEST_SUITE_P: {kSqlite, kPostgres}.
std::vector<Engine> Engines();
// "Sqlite" / "Postgres", for test names.
std::string EngineName(Engine engine);
// The same, as INSTANTIATE_TEST_SUITE_P's name generator (a lambda parameter named `info`
// there trips -Wshadow inside the macro):
//   INSTANTIATE_TEST_SUITE_P(Engines, FooTest, ::testing::ValuesIn(Engines()), EngineParamName);
std::string EngineParamName(const ::testing::TestParamInfo<Engine>& param_info);

class TestDatabase {
 public:
  // Calls GTEST_SKIP()-equivalent logic through Available(); check it first:
  //   TestDatabase tdb(GetParam()); if (!tdb.Available()) GTEST_SKIP() << tdb.SkipReason();
  explicit TestDatabase(Engine engine);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  bool Available() const { return db_ != nullptr; }
  const std::string& SkipReason() const { return skip_reason_; }
  // The migrated database. Valid when Available().
  Database& db() { return *db_; }
  // The URL it was opened with (for starting a server on the same database).
  const std::string& url() const { return url_; }

 private:
  Engine engine_;
  std::unique_ptr<Database> db_;
  std::string url_;
  std::string temp_dir_;
  std::string pg_admin_url_;
  std::string pg_database_;
  std::string skip_reason_;
};

// Returns from the calling test (or SetUp) when `tdb` is unavailable: as a skip, or as a fatal
// failure when the constructor already recorded one (PostgreSQL required but missing, or the
// database could not be created), so a fixture's test body never runs without a database.
#define RD_SKIP_IF_UNAVAILABLE(tdb)                                          \
  do {                                                                       \
    if (!(tdb).Available()) {                                                \
      if (::testing::Test::HasFailure()) GTEST_FAIL() << (tdb).SkipReason(); \
      GTEST_SKIP() << (tdb).SkipReason();                                    \
    }                                                                        \
  } while (0)

}  // namespace replideploy::db::testing
