#include "builder/functions_bundle.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

namespace replideploy::builder {

namespace fs = std::filesystem;

namespace {

bool IsFunctionName(const std::string& name) {
  return !name.empty() && name.size() <= 128 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

std::string Extension(const fs::path& p) { return p.extension().string(); }

bool IsEntryFile(const fs::path& p) {
  static const std::vector<std::string> kExtensions = {".js",  ".mjs", ".cjs", ".ts",
                                                       ".mts", ".cts", ".go"};
  return std::find(kExtensions.begin(), kExtensions.end(), Extension(p)) != kExtensions.end();
}

Result<std::string> ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kInternal, "cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A zip of `files` (name in the archive -> host path), entries sorted, times fixed.
Result<std::string> Zip(const std::map<std::string, fs::path>& files) {
  std::string out;
  std::unique_ptr<archive, decltype(&archive_write_free)> a(archive_write_new(),
                                                            &archive_write_free);
  archive_write_set_format_zip(a.get());
  auto write_cb = [](archive*, void* data, const void* buf, size_t n) -> la_ssize_t {
    auto* sink = static_cast<std::string*>(data);
    if (sink->size() + n > kMaxFunctionZipBytes + (1 << 20)) return -1;
    sink->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  };
  if (archive_write_open(a.get(), &out, nullptr, write_cb, nullptr) != ARCHIVE_OK) {
    return MakeError(ErrorCode::kInternal, "cannot start a zip");
  }
  for (const auto& [name, path] : files) {
    RD_TRY(std::string data, ReadAll(path));
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(),
                                                                    &archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
    archive_entry_set_mtime(e.get(), 315532800, 0);  // 1980-01-01, zip's epoch
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK ||
        archive_write_data(a.get(), data.data(), data.size()) < 0) {
      return Unprocessable("invalid_function", std::string("cannot package a function: ") +
                                                   archive_error_string(a.get()));
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    return Unprocessable("invalid_function", "a function is larger than 50 MiB zipped");
  }
  if (out.size() > kMaxFunctionZipBytes) {
    return Unprocessable("invalid_function", "a function is larger than 50 MiB zipped");
  }
  return out;
}

}  // namespace

Result<std::vector<FunctionBundle>> BundleFunctions(const fs::path& dir) {
  std::vector<FunctionBundle> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || fs::is_symlink(dir, ec)) return out;
  std::vector<fs::directory_entry> entries;
  for (const auto& e : fs::directory_iterator(dir, ec)) entries.push_back(e);
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.path() < b.path(); });
  for (const auto& entry : entries) {
    if (entry.is_symlink()) continue;
    const std::string file = entry.path().filename().string();
    if (file.starts_with(".")) continue;
    std::map<std::string, fs::path> files;
    std::string name;
    if (entry.is_regular_file() && IsEntryFile(entry.path())) {
      name = entry.path().stem().string();
      files.emplace(file, entry.path());
    } else if (entry.is_directory()) {
      name = file;
      for (auto it = fs::recursive_directory_iterator(entry.path(), ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_symlink() || !it->is_regular_file()) continue;
        files.emplace(
            (fs::path(name) / it->path().lexically_relative(entry.path())).generic_string(),
            it->path());
      }
      if (files.empty()) continue;
    } else {
      continue;  // README.md, package.json next to the functions, ...
    }
    if (!IsFunctionName(name)) {
      return Unprocessable(
          "invalid_function",
          "function name '" + name + "' must be letters, digits, '-' or '_' (from " + file + ")");
    }
    if (out.size() == kMaxFunctions) {
      return Unprocessable("invalid_function", "more than 1000 functions");
    }
    const bool go = std::any_of(files.begin(), files.end(),
                                [](const auto& f) { return Extension(f.second) == ".go"; });
    RD_TRY(std::string zip, Zip(files));
    out.push_back({name, go ? "go" : "js", std::move(zip)});
  }
  return out;
}

}  // namespace replideploy::builder
