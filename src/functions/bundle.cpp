#include "functions/bundle.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "core/ids.hpp"
#include "core/unique_fd.hpp"

namespace replideploy::functions {

namespace fs = std::filesystem;

namespace {

bool SafeEntryPath(std::string_view p) {
  if (p.empty() || p.front() == '/' || p.find('\0') != std::string_view::npos ||
      p.find('\\') != std::string_view::npos) {
    return false;
  }
  std::size_t pos = 0;
  while (pos <= p.size()) {
    std::size_t end = p.find('/', pos);
    if (end == std::string_view::npos) end = p.size();
    const std::string_view part = p.substr(pos, end - pos);
    if (part == "..") return false;
    pos = end + 1;
  }
  return true;
}

Status UnpackInto(archive* a, const fs::path& dir, std::uint64_t max_bytes) {
  archive_entry* entry = nullptr;
  std::uint64_t total = 0;
  for (;;) {
    const int r = archive_read_next_header(a, &entry);
    if (r == ARCHIVE_EOF) return {};
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return Unprocessable("bad_bundle", std::string("bad zip: ") + archive_error_string(a));
    }
    const char* raw = archive_entry_pathname(entry);
    std::string name = raw == nullptr ? "" : raw;
    while (name.starts_with("./")) name.erase(0, 2);
    if (!SafeEntryPath(name)) return Unprocessable("bad_bundle", "unsafe path in zip: " + name);
    const fs::path target = dir / name;
    const auto type = archive_entry_filetype(entry);
    std::error_code ec;
    if (type == AE_IFDIR) {
      fs::create_directories(target, ec);
      if (ec) return MakeError(ErrorCode::kInternal, "cannot unpack a bundle: " + ec.message());
      continue;
    }
    if (type != AE_IFREG) return Unprocessable("bad_bundle", "not a regular file in zip: " + name);
    fs::create_directories(target.parent_path(), ec);
    if (ec) return MakeError(ErrorCode::kInternal, "cannot unpack a bundle: " + ec.message());
    // O_EXCL|O_NOFOLLOW: a name given twice or a link planted earlier never redirects a write.
    core::UniqueFd fd(
        ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (fd.get() < 0) return Unprocessable("bad_bundle", "cannot write " + name + " from zip");
    char buf[64 * 1024];
    for (;;) {
      const la_ssize_t n = archive_read_data(a, buf, sizeof buf);
      if (n < 0)
        return Unprocessable("bad_bundle", std::string("bad zip: ") + archive_error_string(a));
      if (n == 0) break;
      total += static_cast<std::uint64_t>(n);
      if (total > max_bytes) return Unprocessable("bad_bundle", "the bundle unpacks too large");
      for (la_ssize_t off = 0; off < n;) {
        const ssize_t w = ::write(fd.get(), buf + off, static_cast<std::size_t>(n - off));
        if (w <= 0) return MakeError(ErrorCode::kInternal, "cannot write an unpacked bundle");
        off += w;
      }
    }
  }
}

}  // namespace

Status UnpackBundle(std::string_view zip, const std::string& dir, std::uint64_t max_bytes) {
  const fs::path final_dir(dir);
  const fs::path tmp = final_dir.parent_path() / (".tmp-" + core::NewHexId());
  std::error_code ec;
  fs::create_directory(tmp, ec);
  if (ec) return MakeError(ErrorCode::kInternal, "cannot unpack a bundle: " + ec.message());
  ::chmod(tmp.c_str(), 0755);
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_zip(a.get());
  Status st;
  if (archive_read_open_memory(a.get(), zip.data(), zip.size()) != ARCHIVE_OK) {
    st = Unprocessable("bad_bundle", "the function's zip cannot be read");
  } else {
    st = UnpackInto(a.get(), tmp, max_bytes);
  }
  if (st.ok()) {
    fs::rename(tmp, final_dir, ec);
    // Another thread unpacked the same bundle first: theirs is as good.
    if (ec && fs::is_directory(final_dir)) ec.clear();
    if (ec)
      st = MakeError(ErrorCode::kInternal, "cannot place an unpacked bundle: " + ec.message());
  }
  fs::remove_all(tmp, ec);
  return st;
}

}  // namespace replideploy::functions
