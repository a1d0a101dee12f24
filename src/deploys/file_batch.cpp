#include "deploys/file_batch.hpp"

#include <charconv>
#include <optional>

namespace replideploy::deploys {

namespace {

constexpr std::size_t kMaxPathBytes = 1024;
constexpr std::size_t kMaxSizeDigits = 12;  // up to a terabyte: far beyond any body limit

Error Malformed(std::size_t record, std::string_view why) {
  return MakeError(ErrorCode::kBadRequest, "malformed_batch",
                   "file batch record " + std::to_string(record + 1) + ": " + std::string(why));
}

// The text up to the next "\n" of `rest`, which is advanced past it; nullopt without one
// within `max` bytes.
std::optional<std::string_view> Line(std::string_view& rest, std::size_t max) {
  const std::size_t end = rest.substr(0, max + 1).find('\n');
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view line = rest.substr(0, end);
  rest.remove_prefix(end + 1);
  return line;
}

}  // namespace

Result<std::vector<BatchFile>> ParseFileBatch(std::string_view body) {
  if (body.empty()) return Malformed(0, "the batch holds no file");
  std::vector<BatchFile> files;
  std::string_view rest = body;
  while (!rest.empty()) {
    const std::size_t record = files.size();
    if (record == kMaxBatchFiles) {
      return MakeError(ErrorCode::kPayloadTooLarge, "too_many_files",
                       "a file batch holds at most " + std::to_string(kMaxBatchFiles) + " files");
    }
    const auto path = Line(rest, kMaxPathBytes);
    if (!path || path->empty()) return Malformed(record, "expected a path of 1 to 1024 bytes");
    const auto size_text = Line(rest, kMaxSizeDigits);
    std::size_t size = 0;
    if (!size_text || size_text->empty() ||
        std::from_chars(size_text->data(), size_text->data() + size_text->size(), size).ptr !=
            size_text->data() + size_text->size()) {
      return Malformed(record, "expected the file's size in decimal bytes");
    }
    if (size > rest.size()) return Malformed(record, "the body ends inside the file");
    files.push_back(BatchFile{*path, rest.substr(0, size)});
    rest.remove_prefix(size);
  }
  return files;
}

void AppendToFileBatch(std::string& body, std::string_view path, std::string_view bytes) {
  body.append(path);
  body.push_back('\n');
  body.append(std::to_string(bytes.size()));
  body.push_back('\n');
  body.append(bytes);
}

}  // namespace replideploy::deploys
