#include "cli/backup.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "db/sqlite_backup.hpp"

namespace replideploy::cli {

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr int kManifestFormat = 1;

int Fail(std::string_view message) {
  fmt::print(stderr, "replideploy: {}\n", message);
  return 1;
}

struct TreeCopy {
  std::uint64_t files = 0;   // regular files in the source
  std::uint64_t bytes = 0;   // their sizes
  std::uint64_t added = 0;   // copied or linked into the target this time
  std::uint64_t linked = 0;  // of those, hard links
};

// Puts every regular file under `from` at the same place under `to` unless a file of that name
// and size is already there (content-addressed names: same name, same bytes). Hard links where
// the file system allows, copies otherwise. Symbolic links and other special files are skipped.
Result<TreeCopy> CopyMissingFiles(const fs::path& from, const fs::path& to) {
  TreeCopy copy;
  std::error_code ec;
  if (!fs::exists(from, ec)) return copy;
  fs::create_directories(to, ec);
  if (ec)
    return MakeError(ErrorCode::kInternal, "cannot create " + to.string() + ": " + ec.message());
  for (auto it = fs::recursive_directory_iterator(from, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const fs::path relative = it->path().lexically_relative(from);
    const fs::path target = to / relative;
    if (it->is_directory(ec)) {
      fs::create_directories(target, ec);
      if (ec) break;
      continue;
    }
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    const std::uint64_t size = it->file_size(ec);
    if (ec) break;
    ++copy.files;
    copy.bytes += size;
    std::error_code exists_ec;
    if (fs::is_regular_file(target, exists_ec) && fs::file_size(target, exists_ec) == size) {
      continue;
    }
    fs::remove(target, exists_ec);
    if (::link(it->path().c_str(), target.c_str()) == 0) {
      ++copy.linked;
    } else {
      fs::copy_file(it->path(), target, fs::copy_options::overwrite_existing, ec);
      if (ec) break;
    }
    ++copy.added;
  }
  if (ec) return MakeError(ErrorCode::kInternal, "copying " + from.string() + ": " + ec.message());
  return copy;
}

// Replaces `to` with a copy of the tree at `from` (git repositories: refs change in place, so
// they are copied whole, not by name).
Status ReplaceTree(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::remove_all(to, ec);
  if (!fs::exists(from, ec)) return {};
  fs::create_directories(to.parent_path(), ec);
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
  if (ec) return MakeError(ErrorCode::kInternal, "copying " + from.string() + ": " + ec.message());
  return {};
}

Status CopyKey(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) return MakeError(ErrorCode::kInternal, "copying " + from.string() + ": " + ec.message());
  fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write, ec);
  return {};
}

std::string NowIso() {
  const auto now = std::chrono::system_clock::now();
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}",
                     fmt::gmtime(std::chrono::system_clock::to_time_t(now)));
}

bool IsEmptyDir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return true;
  return fs::is_directory(dir, ec) && fs::is_empty(dir, ec);
}

void PrintPostgresGuidance(std::string_view action) {
  if (action == "backup") {
    fmt::print(
        "The database is PostgreSQL: back it up with its own tools, e.g.\n"
        "  pg_dump --format=custom --file=replideploy.pgdump \"$DATABASE_URL\"\n"
        "(or continuous archiving / a managed service's snapshots). This backup holds the key, "
        "blobs and git repositories only.\n");
  } else {
    fmt::print(
        "The backup holds no database (it was PostgreSQL): restore it with its own tools, e.g.\n"
        "  pg_restore --clean --if-exists --dbname \"$DATABASE_URL\" replideploy.pgdump\n");
  }
}

}  // namespace

int RunBackup(const core::ServeConfig& config, const std::string& to_dir) {
  if (to_dir.empty()) return Fail("backup needs --to DIR");
  const fs::path to = fs::absolute(to_dir);
  const fs::path data = fs::absolute(config.data_dir);
  std::error_code ec;
  if (!fs::is_directory(data, ec)) return Fail("no data dir at " + data.string());
  if (fs::equivalent(to, data, ec)) return Fail("the backup folder is the data dir");
  fs::create_directories(to, ec);
  if (ec) return Fail("cannot create " + to.string() + ": " + ec.message());
  fs::permissions(to, fs::perms::owner_all, ec);
  // An earlier backup's manifest goes first: until the new one is written, the folder says it
  // is unfinished.
  fs::remove(to / "manifest.json", ec);

  json::object manifest{{"format", kManifestFormat},
                        {"replideploy_version", REPLIDEPLOY_VERSION},
                        {"created_at", NowIso()}};

  const std::string url = core::DatabaseUrl(config);
  auto sqlite_path = db::SqlitePathFromUrl(url);
  if (sqlite_path.ok()) {
    if (Status st = db::BackupSqliteFile(*sqlite_path, (to / "replideploy.db").string());
        !st.ok()) {
      return Fail(st.error().message);
    }
    manifest["database"] = json::object{{"engine", "sqlite"}, {"file", "replideploy.db"}};
    fs::permissions(to / "replideploy.db", fs::perms::owner_read | fs::perms::owner_write, ec);
  } else {
    fs::remove(to / "replideploy.db", ec);
    manifest["database"] = json::object{{"engine", "postgresql"}, {"file", nullptr}};
    PrintPostgresGuidance("backup");
  }

  const fs::path key = data / "secret.key";
  if (config.secret_key.empty() && fs::is_regular_file(key, ec)) {
    if (Status st = CopyKey(key, to / "secret.key"); !st.ok()) return Fail(st.error().message);
    manifest["secret_key"] = "secret.key";
  } else {
    manifest["secret_key"] = nullptr;
    fmt::print(
        "The server key is given by secret-key, not a file: keep it apart from this "
        "backup; a restore needs the same key.\n");
  }

  TreeCopy copied;
  if (config.blob_store == "local") {
    auto blobs = CopyMissingFiles(data / "store" / "blobs", to / "store" / "blobs");
    if (!blobs.ok()) return Fail(blobs.error().message);
    manifest["blobs"] =
        json::object{{"store", "local"},      {"dir", "store/blobs"},  {"files", blobs->files},
                     {"bytes", blobs->bytes}, {"added", blobs->added}, {"linked", blobs->linked}};
    copied = *blobs;
  } else {
    manifest["blobs"] = json::object{{"store", config.blob_store}, {"dir", nullptr}};
    fmt::print(
        "Blobs are in {}: back the bucket up with its own tools (versioning, "
        "replication).\n",
        config.blob_store);
  }

  if (Status st = ReplaceTree(data / "repos", to / "repos"); !st.ok()) {
    return Fail(st.error().message);
  }
  manifest["repos"] = fs::exists(data / "repos", ec) ? json::value("repos") : json::value(nullptr);

  const fs::path manifest_tmp = to / "manifest.json.tmp";
  {
    std::ofstream out(manifest_tmp, std::ios::trunc);
    out << json::serialize(manifest) << "\n";
    if (!out) return Fail("cannot write " + manifest_tmp.string());
  }
  fs::rename(manifest_tmp, to / "manifest.json", ec);
  if (ec) return Fail("cannot write the manifest: " + ec.message());
  fmt::print("backup written to {} ({} database, {} blob file(s), {} new)\n", to.string(),
             sqlite_path.ok() ? "SQLite" : "no", copied.files, copied.added);
  return 0;
}

int RunRestore(const core::ServeConfig& config, const std::string& from_dir, bool force) {
  if (from_dir.empty()) return Fail("restore needs --from DIR");
  const fs::path from = fs::absolute(from_dir);
  const fs::path data = fs::absolute(config.data_dir);
  std::ifstream in(from / "manifest.json");
  if (!in) return Fail("no backup at " + from.string() + " (manifest.json is missing)");
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code json_ec;
  json::value manifest = json::parse(text.str(), json_ec);
  if (json_ec || !manifest.is_object() || !manifest.as_object().contains("format") ||
      !manifest.at("format").is_int64() || manifest.at("format").as_int64() != kManifestFormat ||
      !manifest.as_object().contains("database")) {
    return Fail("the manifest of " + from.string() + " is not one this version reads");
  }
  if (!IsEmptyDir(data) && !force) {
    return Fail("the data dir " + data.string() +
                " is not empty; restore into an empty one, or add --force to replace its "
                "database, key, blobs and repositories");
  }
  std::error_code ec;
  if (Status st = core::PrepareDataDir(data.string()); !st.ok()) return Fail(st.error().message);

  const json::value& database = manifest.at("database");
  const bool sqlite_backup = database.is_object() && database.as_object().contains("engine") &&
                             database.at("engine").is_string() &&
                             database.at("engine").as_string() == "sqlite";
  const std::string url = core::DatabaseUrl(config);
  auto sqlite_path = db::SqlitePathFromUrl(url);
  if (sqlite_backup) {
    if (!sqlite_path.ok()) {
      return Fail(
          "the backup's database is SQLite but database names another engine; "
          "restore with the default (SQLite in the data dir) or sqlite://PATH");
    }
    if (Status st = db::BackupSqliteFile((from / "replideploy.db").string(), *sqlite_path);
        !st.ok()) {
      return Fail(st.error().message);
    }
    fs::permissions(*sqlite_path, fs::perms::owner_read | fs::perms::owner_write, ec);
  } else {
    PrintPostgresGuidance("restore");
  }

  if (fs::is_regular_file(from / "secret.key", ec)) {
    if (Status st = CopyKey(from / "secret.key", data / "secret.key"); !st.ok()) {
      return Fail(st.error().message);
    }
  }
  auto blobs = CopyMissingFiles(from / "store" / "blobs", data / "store" / "blobs");
  if (!blobs.ok()) return Fail(blobs.error().message);
  if (Status st = ReplaceTree(from / "repos", data / "repos"); !st.ok()) {
    return Fail(st.error().message);
  }
  fmt::print("restored {} into {} ({} blob file(s))\n", from.string(), data.string(), blobs->files);
  return 0;
}

}  // namespace replideploy::cli
