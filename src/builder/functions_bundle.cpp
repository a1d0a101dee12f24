#include "builder/functions_bundle.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

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

// A zip of `files` (name in the archive -> content), entries sorted, times fixed.
Result<std::string> Zip(const std::map<std::string, std::string>& files) {
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
  for (const auto& [name, data] : files) {
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

Result<std::vector<FunctionBundle>> BundleFunctions(const sandbox::UntrustedTree& dir) {
  // Every file of the folder, grouped by its top-level entry (a function each).
  std::map<std::string, std::map<std::string, std::string>> groups;
  sandbox::UntrustedTree::WalkOptions options;
  options.limits.max_files = 20'000;
  options.limits.max_bytes = std::int64_t{512} << 20;
  options.skip_directory = [](std::string_view path) {
    return path.starts_with(".") || path.find("/.git") != std::string_view::npos;
  };
  RD_TRY_STATUS(dir.Walk(options, [&](const sandbox::UntrustedTree::File& file) -> Status {
    const std::size_t slash = file.path.find('/');
    const std::string top = file.path.substr(0, slash);
    if (top.starts_with(".")) return {};
    if (slash == std::string::npos && !IsEntryFile(top)) return {};  // README.md, package.json
    std::string data(file.size, '\0');
    std::size_t got = 0;
    while (got < data.size()) {
      const ssize_t n =
          pread(file.fd, data.data() + got, data.size() - got, static_cast<off_t>(got));
      if (n <= 0) return MakeError(ErrorCode::kInternal, "cannot read function file " + file.path);
      got += static_cast<std::size_t>(n);
    }
    groups[top].emplace(file.path, std::move(data));
    return {};
  }));
  std::vector<FunctionBundle> out;
  for (auto& [top, files] : groups) {
    const bool single_file = files.size() == 1 && files.begin()->first == top;
    const std::string name = single_file ? fs::path(top).stem().string() : top;
    if (!IsFunctionName(name)) {
      return Unprocessable(
          "invalid_function",
          "function name '" + name + "' must be letters, digits, '-' or '_' (from " + top + ")");
    }
    if (out.size() == kMaxFunctions) {
      return Unprocessable("invalid_function", "more than 1000 functions");
    }
    const bool go = std::any_of(files.begin(), files.end(),
                                [](const auto& f) { return Extension(f.first) == ".go"; });
    RD_TRY(std::string zip, Zip(files));
    out.push_back({name, go ? "go" : "js", std::move(zip)});
  }
  return out;
}

Result<std::vector<FunctionBundle>> BundleFunctions(const fs::path& dir) {
  auto tree = sandbox::UntrustedTree::Open(dir.string(), "", "functions folder");
  if (!tree.ok()) return std::vector<FunctionBundle>();
  return BundleFunctions(*tree);
}

}  // namespace replideploy::builder
