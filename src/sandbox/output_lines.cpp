#include "sandbox/output_lines.hpp"

#include <algorithm>

namespace replideploy::sandbox {

namespace {

void Emit(std::string line, std::vector<std::string>& lines) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  lines.push_back(std::move(line));
}

}  // namespace

LineSplitter::LineSplitter(std::size_t max_line_bytes)
    : max_line_bytes_(std::max<std::size_t>(max_line_bytes, 1)) {}

void LineSplitter::Feed(std::string_view bytes, std::vector<std::string>& lines) {
  while (!bytes.empty()) {
    const std::size_t newline = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, newline);
    // A line that would grow past the maximum is cut there; the rest starts a new line. A line of
    // exactly the maximum waits for its newline so it does not leave an empty line behind.
    const std::size_t room = max_line_bytes_ - partial_.size();
    if (piece.size() > room) {
      partial_.append(piece.substr(0, room));
      lines.push_back(std::move(partial_));
      partial_.clear();
      bytes.remove_prefix(room);
      continue;
    }
    partial_.append(piece);
    if (newline == std::string_view::npos) return;
    Emit(std::move(partial_), lines);
    partial_.clear();
    bytes.remove_prefix(newline + 1);
  }
}

void LineSplitter::Finish(std::vector<std::string>& lines) {
  if (partial_.empty()) return;
  Emit(std::move(partial_), lines);
  partial_.clear();
}

}  // namespace replideploy::sandbox
