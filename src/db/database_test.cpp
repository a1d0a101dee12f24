#include "db/database.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/testing.hpp"
#include "db/drivers.hpp"
#include "db/testing.hpp"

namespace replideploy::db {
namespace {

using testing::EngineParamName;
using testing::Engines;
using testing::TestDatabase;

class DatabaseTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    tdb_ = std::make_unique<TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
    ASSERT_TRUE(db().Exec("CREATE TABLE kv (k TEXT PRIMARY KEY, n BIGINT, s TEXT)").ok());
  }

  Database& db() { return tdb_->db(); }

  std::int64_t CountKv() {
    Result<Rows> rows = db().Exec("SELECT COUNT(*) FROM kv");
    EXPECT_TRUE(rows.ok()) << (rows.ok() ? "" : rows.error().message);
    return rows.ok() ? rows->rows.at(0).Int(0) : -1;
  }

  std::unique_ptr<TestDatabase> tdb_;
};

std::string Message(const Status& status) { return status.ok() ? "ok" : status.error().message; }
template <typename T>
std::string Message(const Result<T>& result) {
  return result.ok() ? "ok" : result.error().message;
}

TEST_P(DatabaseTest, RoundTripsNullIntAndTextVerbatim) {
  const std::vector<std::string> texts = {
      "",
      "plain",
      "it's a 'quote'",
      "double \"quotes\" and `backticks`",
      "semi; colon; DROP TABLE kv; --",
      "-- not a comment",
      "/* not a comment */",
      "what? where? ?? ?1 ?NNN :name @name",
      "$1 $2 $$ $tag$ dollar",
      "back\\slash \\' \\\\ \\n",
      "E'escape'",
      "line\nbreak\ttab\rcarriage",
      "unicode: h\u00e9llo \u4e16\u754c \U0001F680 \u00a0nbsp",
      std::string(5000, 'x'),
  };
  for (std::size_t i = 0; i < texts.size(); ++i) {
    Result<Rows> inserted = db().Exec("INSERT INTO kv (k, n, s) VALUES (?, ?, ?)",
                                      {texts[i], std::int64_t(i), texts[i]});
    ASSERT_TRUE(inserted.ok()) << Message(inserted) << " for text " << i;
    EXPECT_EQ(inserted->affected, 1);
  }
  for (std::size_t i = 0; i < texts.size(); ++i) {
    Result<Rows> rows = db().Exec("SELECT k, n, s FROM kv WHERE k = ?", {texts[i]});
    ASSERT_TRUE(rows.ok()) << Message(rows);
    ASSERT_EQ(rows->rows.size(), 1u) << "text " << i;
    const Row& row = rows->rows[0];
    EXPECT_EQ(row.Text(0), texts[i]);
    EXPECT_EQ(row.Int(1), static_cast<std::int64_t>(i));
    EXPECT_EQ(row.Text(2), texts[i]);
    EXPECT_FALSE(row.IsNull(2));
  }
  EXPECT_EQ(CountKv(), static_cast<std::int64_t>(texts.size()));
}

TEST_P(DatabaseTest, NullAndEmptyStayDistinct) {
  ASSERT_TRUE(
      db().Exec("INSERT INTO kv (k, n, s) VALUES (?, ?, ?)", {"null", nullptr, nullptr}).ok());
  ASSERT_TRUE(db().Exec("INSERT INTO kv (k, n, s) VALUES (?, ?, ?)", {"empty", 0, ""}).ok());
  Result<Rows> rows = db().Exec("SELECT n, s FROM kv ORDER BY k");
  ASSERT_TRUE(rows.ok()) << Message(rows);
  ASSERT_EQ(rows->rows.size(), 2u);
  const Row& empty = rows->rows[0];
  const Row& null = rows->rows[1];
  EXPECT_FALSE(empty.IsNull(0));
  EXPECT_EQ(empty.Int(0), 0);
  EXPECT_FALSE(empty.IsNull(1));
  EXPECT_EQ(empty.OptionalText(1), std::optional<std::string>(""));
  EXPECT_TRUE(null.IsNull(0));
  EXPECT_TRUE(null.IsNull(1));
  EXPECT_EQ(null.OptionalText(1), std::nullopt);
  EXPECT_EQ(null.Text(1), "");
  EXPECT_EQ(null.Int(0), 0);
}

TEST_P(DatabaseTest, RoundTripsInt64Extremes) {
  const std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  const std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  ASSERT_TRUE(db().Exec("INSERT INTO kv (k, n) VALUES (?, ?), (?, ?), (?, ?)",
                        {"min", kMin, "max", kMax, "neg", -42})
                  .ok());
  Result<Rows> rows = db().Exec("SELECT n FROM kv ORDER BY n");
  ASSERT_TRUE(rows.ok()) << Message(rows);
  ASSERT_EQ(rows->rows.size(), 3u);
  EXPECT_EQ(rows->rows[0].Int(0), kMin);
  EXPECT_EQ(rows->rows[1].Int(0), -42);
  EXPECT_EQ(rows->rows[2].Int(0), kMax);
  EXPECT_EQ(rows->rows[2].Text(0), "9223372036854775807");
}

TEST_P(DatabaseTest, QuestionMarksInLiteralsIdentifiersAndCommentsAreNotPlaceholders) {
  Result<Rows> rows = db().Exec(
      "SELECT 'what?' AS \"really?\", ? /* a ? in a comment */, 'it''s ?' -- and ? here\n"
      ", ?",
      {"first", std::int64_t{2}});
  ASSERT_TRUE(rows.ok()) << Message(rows);
  ASSERT_EQ(rows->rows.size(), 1u);
  const Row& row = rows->rows[0];
  ASSERT_EQ(row.size(), 4u);
  EXPECT_EQ(row.Text(0), "what?");
  EXPECT_EQ(row.Text(1), "first");
  EXPECT_EQ(row.Text(2), "it's ?");
  EXPECT_EQ(row.Int(3), 2);
}

TEST_P(DatabaseTest, ParameterCountMismatchFails) {
  Result<Rows> too_few = db().Exec("SELECT ?, ?", {"one"});
  ASSERT_FALSE(too_few.ok());
  EXPECT_NE(too_few.error().message.find("placeholders"), std::string::npos)
      << too_few.error().message;
  Result<Rows> too_many = db().Exec("SELECT ?", {"one", "two"});
  ASSERT_FALSE(too_many.ok());
  Result<Rows> none = db().Exec("SELECT ?");
  ASSERT_FALSE(none.ok());
}

TEST_P(DatabaseTest, TextWithNulIsRejected) {
  Result<Rows> rows = db().Exec("INSERT INTO kv (k) VALUES (?)", {std::string("a\0b", 3)});
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(CountKv(), 0);
}

TEST_P(DatabaseTest, UniqueViolationIsConflict) {
  ASSERT_TRUE(db().Exec("INSERT INTO kv (k) VALUES (?)", {"taken"}).ok());
  Result<Rows> again = db().Exec("INSERT INTO kv (k) VALUES (?)", {"taken"});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict) << again.error().message;
  EXPECT_EQ(again.error().message.find('\n'), std::string::npos);

  // A UNIQUE column (not the primary key) too.
  ASSERT_TRUE(db().Exec("INSERT INTO users (id, email, password_hash, created_at, updated_at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        {"u1", "a@example.com", "h", 1, 1})
                  .ok());
  Result<Rows> same_email = db().Exec(
      "INSERT INTO users (id, email, password_hash, created_at, updated_at) "
      "VALUES (?, ?, ?, ?, ?)",
      {"u2", "a@example.com", "h", 1, 1});
  ASSERT_FALSE(same_email.ok());
  EXPECT_EQ(same_email.error().code, ErrorCode::kConflict) << same_email.error().message;
}

TEST_P(DatabaseTest, OtherErrorsAreInternal) {
  Result<Rows> syntax = db().Exec("SELEC nonsense");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.error().code, ErrorCode::kInternal);
  EXPECT_EQ(syntax.error().message.find('\n'), std::string::npos) << syntax.error().message;
  Result<Rows> missing = db().Exec("SELECT * FROM no_such_table");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kInternal);
  // The connection that failed is still good.
  EXPECT_TRUE(db().Ping().ok());
}

TEST_P(DatabaseTest, ForeignKeysAreEnforced) {
  Result<Rows> orphan = db().Exec(
      "INSERT INTO accounts (id, slug, name, owner_user_id, created_at) VALUES (?, ?, ?, ?, ?)",
      {"a1", "slug", "name", "no-such-user", 1});
  ASSERT_FALSE(orphan.ok());
  EXPECT_EQ(orphan.error().code, ErrorCode::kInternal);
}

TEST_P(DatabaseTest, AffectedCounts) {
  Result<Rows> inserted =
      db().Exec("INSERT INTO kv (k, n) VALUES (?, ?), (?, ?), (?, ?)", {"a", 1, "b", 2, "c", 3});
  ASSERT_TRUE(inserted.ok()) << Message(inserted);
  EXPECT_EQ(inserted->affected, 3);
  Result<Rows> updated = db().Exec("UPDATE kv SET n = n + 10 WHERE n >= ?", {2});
  ASSERT_TRUE(updated.ok()) << Message(updated);
  EXPECT_EQ(updated->affected, 2);
  Result<Rows> none = db().Exec("UPDATE kv SET n = 0 WHERE k = ?", {"nope"});
  ASSERT_TRUE(none.ok()) << Message(none);
  EXPECT_EQ(none->affected, 0);
  Result<Rows> selected = db().Exec("SELECT k FROM kv");
  ASSERT_TRUE(selected.ok()) << Message(selected);
  EXPECT_EQ(selected->rows.size(), 3u);
  EXPECT_EQ(selected->affected, 0);
  Result<Rows> returning = db().Exec("UPDATE kv SET n = 5 WHERE k = ? RETURNING k, n", {"a"});
  ASSERT_TRUE(returning.ok()) << Message(returning);
  EXPECT_EQ(returning->affected, 1);
  ASSERT_EQ(returning->rows.size(), 1u);
  EXPECT_EQ(returning->rows[0].Int(1), 5);
  Result<Rows> deleted = db().Exec("DELETE FROM kv");
  ASSERT_TRUE(deleted.ok()) << Message(deleted);
  EXPECT_EQ(deleted->affected, 3);
}

TEST_P(DatabaseTest, BooleansReadAsOneAndZero) {
  Result<Rows> rows = db().Exec("SELECT 1 = 1, 1 = 2, NULL IS NULL");
  ASSERT_TRUE(rows.ok()) << Message(rows);
  const Row& row = rows->rows.at(0);
  EXPECT_EQ(row.Text(0), "1");
  EXPECT_EQ(row.Text(1), "0");
  EXPECT_TRUE(row.Bool(0));
  EXPECT_FALSE(row.Bool(1));
  EXPECT_TRUE(row.Bool(2));
}

TEST_P(DatabaseTest, MultipleStatementsWithoutParameters) {
  Result<Rows> rows = db().Exec(
      "CREATE TABLE a (x INTEGER); CREATE TABLE b (y INTEGER);\n"
      "INSERT INTO a VALUES (1); INSERT INTO b VALUES (2); -- trailing comment\n");
  ASSERT_TRUE(rows.ok()) << Message(rows);
  Result<Rows> sum = db().Exec("SELECT (SELECT x FROM a) + (SELECT y FROM b)");
  ASSERT_TRUE(sum.ok()) << Message(sum);
  EXPECT_EQ(sum->rows.at(0).Int(0), 3);
}

TEST_P(DatabaseTest, TransactionCommits) {
  Status status = db().Transaction([](Session& session) -> Status {
    RD_TRY(Rows first, session.Exec("INSERT INTO kv (k) VALUES (?)", {"one"}));
    if (first.affected != 1) return MakeError(ErrorCode::kInternal, "not inserted");
    RD_TRY(Rows second, session.Exec("INSERT INTO kv (k) VALUES (?)", {"two"}));
    RD_TRY(Rows seen, session.Exec("SELECT COUNT(*) FROM kv"));
    if (seen.rows.at(0).Int(0) != 2) return MakeError(ErrorCode::kInternal, "not visible");
    return {};
  });
  ASSERT_TRUE(status.ok()) << Message(status);
  EXPECT_EQ(CountKv(), 2);
}

TEST_P(DatabaseTest, TransactionRollsBackWhenBodyFails) {
  Status status = db().Transaction([](Session& session) -> Status {
    RD_TRY(Rows inserted, session.Exec("INSERT INTO kv (k) VALUES (?)", {"gone"}));
    return MakeError(ErrorCode::kUnprocessable, "changed my mind");
  });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(status.error().message, "changed my mind");
  EXPECT_EQ(CountKv(), 0);
  // The connection went back clean: a later transaction works.
  ASSERT_TRUE(db().Transaction([](Session& session) -> Status {
                    RD_TRY(Rows inserted, session.Exec("INSERT INTO kv (k) VALUES ('kept')"));
                    return {};
                  })
                  .ok());
  EXPECT_EQ(CountKv(), 1);
}

TEST_P(DatabaseTest, FailedStatementDoomsTheTransactionOnBothEngines) {
  ASSERT_TRUE(db().Exec("INSERT INTO kv (k) VALUES ('taken')").ok());
  bool later_statement_failed = false;
  Status status = db().Transaction([&](Session& session) -> Status {
    RD_TRY(Rows inserted, session.Exec("INSERT INTO kv (k) VALUES ('new')"));
    Result<Rows> duplicate = session.Exec("INSERT INTO kv (k) VALUES ('taken')");
    if (duplicate.ok()) return MakeError(ErrorCode::kInternal, "duplicate accepted");
    later_statement_failed = !session.Exec("SELECT 1").ok();
    return {};  // ignores the failure: the transaction must still not commit
  });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kConflict) << Message(status);
  EXPECT_TRUE(later_statement_failed);
  EXPECT_EQ(CountKv(), 1);
}

TEST_P(DatabaseTest, TransactionRollsBackWhenBodyThrows) {
  auto throwing_body = [](Session& session) -> Status {
    RD_TRY(Rows inserted, session.Exec("INSERT INTO kv (k) VALUES ('thrown')"));
    throw std::runtime_error("body threw");
  };
  EXPECT_THROW(static_cast<void>(db().Transaction(throwing_body)), std::runtime_error);
  EXPECT_EQ(CountKv(), 0);
  EXPECT_TRUE(db().Exec("INSERT INTO kv (k) VALUES ('after')").ok());
}

TEST_P(DatabaseTest, ConcurrentWriters) {
  constexpr int kThreads = 4;
  constexpr int kInserts = 50;
  ASSERT_TRUE(db().Exec("CREATE TABLE counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)").ok());
  ASSERT_TRUE(db().Exec("INSERT INTO counter (id, n) VALUES (1, 0)").ok());
  std::mutex mu;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kInserts; ++i) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        Status status;
        if (i % 2 == 0) {
          Result<Rows> rows = db().Exec("INSERT INTO kv (k, n) VALUES (?, ?)", {key, i});
          if (!rows.ok()) status = rows.error();
        } else {
          status = db().Transaction([&](Session& session) -> Status {
            RD_TRY(Rows inserted, session.Exec("INSERT INTO kv (k, n) VALUES (?, ?)", {key, i}));
            RD_TRY(Rows bumped, session.Exec("UPDATE counter SET n = n + 1 WHERE id = 1"));
            return {};
          });
        }
        if (!status.ok()) {
          std::lock_guard lock(mu);
          errors.push_back(key + ": " + status.error().message);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_TRUE(errors.empty()) << errors.size() << " errors, first: " << errors.front();
  EXPECT_EQ(CountKv(), kThreads * kInserts);
  Result<Rows> counter = db().Exec("SELECT n FROM counter WHERE id = 1");
  ASSERT_TRUE(counter.ok()) << Message(counter);
  EXPECT_EQ(counter->rows.at(0).Int(0), kThreads * kInserts / 2);
}

TEST_P(DatabaseTest, PingSucceeds) { EXPECT_TRUE(db().Ping().ok()); }

TEST_P(DatabaseTest, EngineMatches) { EXPECT_EQ(db().engine(), GetParam()); }

TEST_P(DatabaseTest, SecondHandleSeesCommittedWrites) {
  Result<std::unique_ptr<Database>> other = Open(tdb_->url());
  ASSERT_TRUE(other.ok()) << Message(other);
  ASSERT_TRUE(db().Exec("INSERT INTO kv (k) VALUES ('shared')").ok());
  Result<Rows> rows = (*other)->Exec("SELECT k FROM kv");
  ASSERT_TRUE(rows.ok()) << Message(rows);
  ASSERT_EQ(rows->rows.size(), 1u);
  EXPECT_EQ(rows->rows[0].Text(0), "shared");
}

TEST_P(DatabaseTest, AConnectionLostWhileIdleIsReplacedAndOneLostInUseIsUnavailable) {
  if (GetParam() != Engine::kPostgres) GTEST_SKIP() << "PostgreSQL only: SQLite has no server";
  OpenOptions options;
  options.pool_size = 1;
  Result<std::unique_ptr<Database>> opened = Open(tdb_->url(), options);
  ASSERT_TRUE(opened.ok()) << Message(opened);
  Database& victim = **opened;
  Result<Rows> pid = victim.Exec("SELECT pg_backend_pid()");
  ASSERT_TRUE(pid.ok()) << Message(pid);
  auto kill = [&](const Rows& pid_rows) {
    Result<Rows> killed =
        db().Exec("SELECT pg_terminate_backend(?::integer)", {pid_rows.rows.at(0).Text(0)});
    ASSERT_TRUE(killed.ok()) << Message(killed);
    ASSERT_TRUE(killed->rows.at(0).Bool(0));
  };

  // Killed while idle in the pool (as by a server restart): once its backend is gone, the next
  // statement gets a new connection instead of an error.
  kill(*pid);
  ASSERT_TRUE(core::testing::WaitUntil([&] {
    Result<Rows> left = db().Exec("SELECT count(*) FROM pg_stat_activity WHERE pid = ?::integer",
                                  {pid->rows.at(0).Text(0)});
    return left.ok() && left->rows.at(0).Int(0) == 0;
  }));
  Result<Rows> again = victim.Exec("SELECT pg_backend_pid()");
  ASSERT_TRUE(again.ok()) << Message(again);
  EXPECT_NE(again->rows.at(0).Text(0), pid->rows.at(0).Text(0));

  // Killed in use: the statement fails as unavailable (it may or may not have run, so it is
  // not retried), and the connection is not reused.
  Status status = victim.Transaction([&](Session& session) -> Status {
    RD_TRY(Rows own_pid, session.Exec("SELECT pg_backend_pid()"));
    kill(own_pid);
    RD_TRY(Rows after, session.Exec("SELECT 1"));
    return {};
  });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kUnavailable) << status.error().message;
  EXPECT_TRUE(victim.Ping().ok());
}

INSTANTIATE_TEST_SUITE_P(Engines, DatabaseTest, ::testing::ValuesIn(Engines()), EngineParamName);

// Engine-independent parts.

TEST(Row, IntParsesIntegersOnly) {
  Row row({std::string("42"), std::nullopt, std::string("abc"), std::string("-7"),
           std::string("3.000"), std::string("3.5x"), std::string("12abc"), std::string("")});
  EXPECT_EQ(row.Int(0), 42);
  EXPECT_EQ(row.Int(1), 0);
  EXPECT_EQ(row.Int(2), 0);
  EXPECT_EQ(row.Int(3), -7);
  EXPECT_EQ(row.Int(4), 3);
  EXPECT_EQ(row.Int(5), 0);
  EXPECT_EQ(row.Int(6), 0);
  EXPECT_EQ(row.Int(7), 0);
  EXPECT_TRUE(row.Bool(0));
  EXPECT_FALSE(row.Bool(1));
}

TEST(RewritePlaceholders, NumbersPlaceholdersOutsideQuotesAndComments) {
  int count = 0;
  EXPECT_EQ(internal::RewritePlaceholders("SELECT ?, ? FROM t WHERE a = ?", count),
            "SELECT $1, $2 FROM t WHERE a = $3");
  EXPECT_EQ(count, 3);
  EXPECT_EQ(internal::RewritePlaceholders(
                "SELECT 'a?''?', \"b?\"\"?\", ? -- c?\n/* d? /* e? */ f? */ ?", count),
            "SELECT 'a?''?', \"b?\"\"?\", $1 -- c?\n/* d? /* e? */ f? */ $2");
  EXPECT_EQ(count, 2);
  EXPECT_EQ(internal::RewritePlaceholders("SELECT E'\\'?', ?, $$?$$, $q$ ? $q$, a$b, ?", count),
            "SELECT E'\\'?', $1, $$?$$, $q$ ? $q$, a$b, $2");
  EXPECT_EQ(count, 2);
  // An unterminated literal swallows the rest; the server reports the syntax error.
  EXPECT_EQ(internal::RewritePlaceholders("SELECT '?", count), "SELECT '?");
  EXPECT_EQ(count, 0);
  // Backslash is ordinary in a standard string.
  EXPECT_EQ(internal::RewritePlaceholders("SELECT 'a\\', ?", count), "SELECT 'a\\', $1");
  EXPECT_EQ(count, 1);
}

TEST(RedactUrl, HidesPasswords) {
  EXPECT_EQ(internal::RedactUrl("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
  EXPECT_EQ(internal::RedactUrl("postgres://u@h/db"), "postgres://u@h/db");
  EXPECT_EQ(internal::RedactUrl("postgres://h/db?x=a@b"), "postgres://h/db?x=a@b");
  EXPECT_EQ(internal::RedactUrl("mysql://u:p@ss@h/db"), "mysql://u:***@h/db");
  EXPECT_EQ(internal::RedactUrl("user:secret@host"), "***@host");
  EXPECT_EQ(internal::RedactUrl("postgres://h/db?sslmode=disable&password=pw&SSLPassword=x"),
            "postgres://h/db?sslmode=disable&password=***&SSLPassword=***");
  EXPECT_EQ(internal::RedactUrl("postgres://u:pw@h/db?password=pw2"),
            "postgres://u:***@h/db?password=***");
  EXPECT_EQ(internal::UrlPasswords("postgres://u:s%40cret@h/db?password=two"),
            (std::vector<std::string>{"s%40cret", "two"}));
}

TEST(Open, RejectsUnsupportedUrls) {
  for (const std::string url : {"", "mysql://root:hunter2@localhost/db",
                                "sqlite:", "http://example.com", "root:hunter2@localhost"}) {
    Result<std::unique_ptr<Database>> db = Open(url);
    ASSERT_FALSE(db.ok()) << url;
    EXPECT_EQ(db.error().code, ErrorCode::kBadRequest) << url;
    EXPECT_NE(db.error().message.find("unsupported database URL"), std::string::npos)
        << db.error().message;
    EXPECT_NE(db.error().message.find("sqlite://PATH"), std::string::npos);
    EXPECT_EQ(db.error().message.find("hunter2"), std::string::npos) << db.error().message;
  }
  Result<std::unique_ptr<Database>> empty_path = Open("sqlite://");
  ASSERT_FALSE(empty_path.ok());
  EXPECT_EQ(empty_path.error().code, ErrorCode::kBadRequest);
}

void ExpectOpenFails(const std::string& url, const std::string& mentions) {
  Result<std::unique_ptr<Database>> db = Open(url);
  ASSERT_FALSE(db.ok()) << url;
  const std::string& message = db.error().message;
  EXPECT_NE(message.find(mentions), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(Open, SqliteInMissingOrUnwritableDirectoryFails) {
  ExpectOpenFails("sqlite:///nonexistent-rd-dir/sub/test.db", "/nonexistent-rd-dir/sub/test.db");
  // Writable by nobody, root included.
  ExpectOpenFails("sqlite:///proc/rd-test.db", "/proc/rd-test.db");
  // The "directory" is a file.
  ExpectOpenFails("sqlite:///etc/hostname/test.db", "/etc/hostname/test.db");
  if (geteuid() != 0) {
    TestDatabase tdb(Engine::kSqlite);
    RD_SKIP_IF_UNAVAILABLE(tdb);
    const std::filesystem::path dir =
        std::filesystem::path(tdb.url().substr(std::string("sqlite://").size())).parent_path() /
        "readonly";
    std::filesystem::create_directory(dir);
    std::filesystem::permissions(
        dir, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    ExpectOpenFails("sqlite://" + (dir / "test.db").string(), "writable");
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
  }
}

TEST(Open, SqliteRelativePath) {
  TestDatabase tdb(Engine::kSqlite);
  RD_SKIP_IF_UNAVAILABLE(tdb);
  const std::filesystem::path dir =
      std::filesystem::path(tdb.url().substr(std::string("sqlite://").size())).parent_path();
  const std::filesystem::path previous = std::filesystem::current_path();
  std::filesystem::current_path(dir);
  Result<std::unique_ptr<Database>> db = Open("sqlite://relative.db");
  std::filesystem::current_path(previous);
  ASSERT_TRUE(db.ok()) << Message(db);
  EXPECT_TRUE((*db)->Exec("CREATE TABLE t (x INTEGER)").ok());
  EXPECT_TRUE(std::filesystem::exists(dir / "relative.db"));
}

TEST(Open, SqliteInMemory) {
  Result<std::unique_ptr<Database>> opened = Open("sqlite::memory:");
  ASSERT_TRUE(opened.ok()) << Message(opened);
  Database& db = **opened;
  EXPECT_EQ(db.engine(), Engine::kSqlite);
  ASSERT_TRUE(db.Exec("CREATE TABLE t (x TEXT)").ok());
  ASSERT_TRUE(db.Transaction([](Session& session) -> Status {
                  RD_TRY(Rows inserted, session.Exec("INSERT INTO t VALUES (?)", {"kept"}));
                  return {};
                }).ok());
  // Every call sees the same in-memory database.
  Result<Rows> rows = db.Exec("SELECT x FROM t");
  ASSERT_TRUE(rows.ok()) << Message(rows);
  ASSERT_EQ(rows->rows.size(), 1u);
  EXPECT_EQ(rows->rows[0].Text(0), "kept");
  // A nested call on the Database inside a transaction cannot be served by a one-connection
  // pool: it fails instead of hanging.
  Status nested = db.Transaction([&](Session&) -> Status {
    Result<Rows> inner = db.Exec("SELECT 1");
    if (inner.ok()) return MakeError(ErrorCode::kInternal, "nested call was served");
    return inner.error();
  });
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.error().message.find("pool exhausted"), std::string::npos)
      << nested.error().message;
}

TEST(Open, PostgresUnreachableFailsWithoutLeakingThePassword) {
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  for (const std::string url :
       {"postgres://rduser:pa55word-xyz@127.0.0.1:1/rd",
        "postgresql://rduser:pa55word-xyz@127.0.0.1:1/rd?sslmode=disable"}) {
    Result<std::unique_ptr<Database>> db = Open(url);
    ASSERT_FALSE(db.ok());
    EXPECT_EQ(db.error().code, ErrorCode::kUnavailable);
    const std::string& message = db.error().message;
    EXPECT_EQ(message.find("pa55word"), std::string::npos) << message;
    EXPECT_NE(message.find("cannot connect to PostgreSQL"), std::string::npos) << message;
    EXPECT_NE(message.find("rduser:***@127.0.0.1:1"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  // Nor from the query, nor when libpq quotes a part of the URL it cannot parse.
  for (const std::string url : {"postgres://rduser@127.0.0.1:1/rd?password=pa55word-xyz",
                                "postgres://rduser:pa55word-xyz@127.0.0.1:notaport/rd",
                                "postgres://rduser:pa55word%zz@127.0.0.1:1/rd"}) {
    Result<std::unique_ptr<Database>> db = Open(url);
    ASSERT_FALSE(db.ok()) << url;
    EXPECT_EQ(db.error().message.find("pa55word"), std::string::npos) << db.error().message;
  }
}

TEST(Open, PostgresWrongPortOnRunningServer) {
  const char* admin = std::getenv("REPLIDEPLOY_TEST_POSTGRES_URL");
  if (admin == nullptr || *admin == '\0') GTEST_SKIP() << "REPLIDEPLOY_TEST_POSTGRES_URL not set";
  // Same host and user as the test server, a password, and a port nothing listens on.
  std::string url = admin;
  const std::size_t scheme = url.find("://") + 3;
  const std::size_t at = url.find('@', scheme);
  ASSERT_NE(at, std::string::npos) << url;
  const std::string user = url.substr(scheme, at - scheme);
  Result<std::unique_ptr<Database>> db =
      Open("postgres://" + user + ":Sup3rS3cret@127.0.0.1:1/postgres");
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().message.find("Sup3rS3cret"), std::string::npos) << db.error().message;
}

}  // namespace
}  // namespace replideploy::db
