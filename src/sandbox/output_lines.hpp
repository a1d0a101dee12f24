// Splits a byte stream into lines for the build log.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace replideploy::sandbox {

// Feed bytes as they are read; complete lines come out without "\n" (and without a trailing
// "\r"). A line longer than `max_line_bytes` comes out in pieces of exactly that size. Finish()
// returns what is left after the last newline. Not thread-safe.
class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line_bytes);

  // Appends the lines completed by `bytes` to `lines`.
  void Feed(std::string_view bytes, std::vector<std::string>& lines);
  // Appends the unterminated rest, if any, to `lines`.
  void Finish(std::vector<std::string>& lines);

 private:
  std::size_t max_line_bytes_;
  std::string partial_;
};

}  // namespace replideploy::sandbox
