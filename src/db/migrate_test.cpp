#include "db/migrate.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "db/testing.hpp"

namespace replideploy::db {
namespace {

using testing::EngineParamName;
using testing::Engines;
using testing::TestDatabase;

// The builtin migrations plus test ones numbered far above anything real.
std::vector<Migration> WithExtra(std::vector<Migration> extra) {
  std::vector<Migration> all = BuiltinMigrations();
  all.insert(all.end(), extra.begin(), extra.end());
  return all;
}

class MigrateTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    tdb_ = std::make_unique<TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
  }

  Database& db() { return tdb_->db(); }

  std::int64_t Count(const std::string& sql) {
    Result<Rows> rows = db().Exec(sql);
    EXPECT_TRUE(rows.ok()) << (rows.ok() ? "" : rows.error().message);
    return rows.ok() ? rows->rows.at(0).Int(0) : -1;
  }

  std::unique_ptr<TestDatabase> tdb_;
};

TEST(BuiltinMigrations, AreNumberedFromOneInOrder) {
  const std::vector<Migration>& migrations = BuiltinMigrations();
  ASSERT_FALSE(migrations.empty());
  EXPECT_EQ(migrations.front().version, 1);
  EXPECT_EQ(migrations.front().name, "core");
  for (std::size_t i = 1; i < migrations.size(); ++i) {
    EXPECT_LT(migrations[i - 1].version, migrations[i].version);
  }
}

TEST_P(MigrateTest, TestDatabaseIsFullyMigrated) {
  // TestDatabase migrated already: nothing is left to do.
  Result<int> again = Migrate(db());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM schema_migrations"),
            static_cast<std::int64_t>(BuiltinMigrations().size()));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM users"), 0);
  Result<Rows> rows = db().Exec(
      "SELECT version, name, applied_at FROM schema_migrations "
      "ORDER BY version");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->rows.at(0).Int(0), 1);
  EXPECT_EQ(rows->rows.at(0).Text(1), "core");
  EXPECT_GT(rows->rows.at(0).Int(2), 0);
}

TEST_P(MigrateTest, AppliesNewMigrationsOnce) {
  const std::vector<Migration> migrations = WithExtra({
      {1000, "extra_table",
       "CREATE TABLE extra (id INTEGER PRIMARY KEY, note TEXT NOT NULL);\n"
       "INSERT INTO extra (id, note) VALUES (1, 'it''s; here -- ok?');"},
      {1001, "extra_row", "INSERT INTO extra (id, note) VALUES (2, 'second')"},
  });
  Result<int> applied = Migrate(db(), migrations);
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(*applied, 2);
  Result<int> again = Migrate(db(), migrations);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM extra"), 2);
  Result<Rows> note = db().Exec("SELECT note FROM extra WHERE id = 1");
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(note->rows.at(0).Text(0), "it's; here -- ok?");
}

TEST_P(MigrateTest, FailsWhenDatabaseIsNewerThanTheBinary) {
  ASSERT_TRUE(Migrate(db(), WithExtra({{1000, "future", "CREATE TABLE future (x INTEGER)"}})).ok());
  Result<int> older = Migrate(db());
  ASSERT_FALSE(older.ok());
  EXPECT_NE(older.error().message.find("1000"), std::string::npos) << older.error().message;
  EXPECT_NE(older.error().message.find("newer"), std::string::npos) << older.error().message;
}

TEST_P(MigrateTest, RejectsVersionsOutOfOrder) {
  for (const std::vector<Migration>& bad : {
           WithExtra({{1001, "b", "CREATE TABLE b (x INTEGER)"},
                      {1000, "a", "CREATE TABLE a (x INTEGER)"}}),
           WithExtra({{1000, "a", "CREATE TABLE a (x INTEGER)"},
                      {1000, "again", "CREATE TABLE again (x INTEGER)"}}),
           std::vector<Migration>{{0, "zero", "CREATE TABLE zero (x INTEGER)"}},
       }) {
    Result<int> applied = Migrate(db(), bad);
    ASSERT_FALSE(applied.ok());
    EXPECT_NE(applied.error().message.find("out of order"), std::string::npos)
        << applied.error().message;
  }
  // Nothing ran.
  EXPECT_EQ(Count("SELECT COUNT(*) FROM schema_migrations"),
            static_cast<std::int64_t>(BuiltinMigrations().size()));
}

TEST_P(MigrateTest, FailedMigrationLeavesNothingBehind) {
  const std::vector<Migration> migrations = WithExtra({
      {1000, "good", "CREATE TABLE good (x INTEGER)"},
      {1001, "broken", "CREATE TABLE half (x INTEGER); INSERT INTO no_such_table VALUES (1)"},
      {1002, "after", "CREATE TABLE after_broken (x INTEGER)"},
  });
  Result<int> applied = Migrate(db(), migrations);
  ASSERT_FALSE(applied.ok());
  EXPECT_NE(applied.error().message.find("migration 1001 (broken) failed"), std::string::npos)
      << applied.error().message;
  EXPECT_EQ(Count("SELECT COUNT(*) FROM schema_migrations WHERE version >= 1000"), 1);
  EXPECT_TRUE(db().Exec("SELECT COUNT(*) FROM good").ok());
  EXPECT_FALSE(db().Exec("SELECT COUNT(*) FROM half").ok());
  EXPECT_FALSE(db().Exec("SELECT COUNT(*) FROM after_broken").ok());
}

TEST_P(MigrateTest, ConcurrentMigrationsApplyEachOnce) {
  const std::vector<Migration> migrations = WithExtra({
      {1000, "log", "CREATE TABLE migration_log (id INTEGER)"},
      {1001, "log_1", "INSERT INTO migration_log (id) VALUES (1)"},
      {1002, "log_2", "INSERT INTO migration_log (id) VALUES (2)"},
  });
  // Two handles, as two processes would have, and two threads on each.
  Result<std::unique_ptr<Database>> second = Open(tdb_->url());
  ASSERT_TRUE(second.ok()) << second.error().message;
  std::vector<Database*> handles = {&db(), second->get(), &db(), second->get()};
  std::atomic<int> total{0};
  std::mutex mu;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  for (Database* handle : handles) {
    threads.emplace_back([&, handle] {
      Result<int> applied = Migrate(*handle, migrations);
      if (applied.ok()) {
        total += *applied;
      } else {
        std::lock_guard lock(mu);
        errors.push_back(applied.error().message);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(total.load(), 3);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM migration_log"), 2);
}

TEST(Migrate, FreshSqliteDatabaseFromScratch) {
  Result<std::unique_ptr<Database>> opened = Open("sqlite::memory:");
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  Result<int> applied = Migrate(**opened);
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(*applied, static_cast<int>(BuiltinMigrations().size()));
  Result<int> again = Migrate(**opened);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, 0);
}

INSTANTIATE_TEST_SUITE_P(Engines, MigrateTest, ::testing::ValuesIn(Engines()), EngineParamName);

}  // namespace
}  // namespace replideploy::db
