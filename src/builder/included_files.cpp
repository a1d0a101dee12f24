#include "builder/included_files.hpp"

#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <set>

namespace replideploy::builder {

namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    std::size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    if (end > pos) out.push_back(path.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

bool SegmentMatches(std::string_view pattern, std::string_view name) {
  return ::fnmatch(std::string(pattern).c_str(), std::string(name).c_str(), 0) == 0;
}

// Pattern segments [p..] against path segments [n..]; `**` takes zero or more segments.
bool MatchFrom(const std::vector<std::string_view>& pattern, std::size_t p,
               const std::vector<std::string_view>& path, std::size_t n) {
  if (p == pattern.size()) return n == path.size();
  if (pattern[p] == "**") {
    for (std::size_t k = n; k <= path.size(); ++k) {
      if (MatchFrom(pattern, p + 1, path, k)) return true;
    }
    return false;
  }
  return n < path.size() && SegmentMatches(pattern[p], path[n]) &&
         MatchFrom(pattern, p + 1, path, n + 1);
}

bool HasWildcard(std::string_view segment) {
  return segment.find_first_of("*?[") != std::string_view::npos;
}

struct Pattern {
  std::string text;  // without "!" and "./"
  bool negated = false;
};

Result<Pattern> ParsePattern(std::string_view raw) {
  Pattern p;
  if (raw.starts_with('!')) {
    p.negated = true;
    raw.remove_prefix(1);
  }
  while (raw.starts_with("./")) raw.remove_prefix(2);
  const auto segments = Segments(raw);
  const bool bad = raw.empty() || raw.starts_with('/') || raw.find('\\') != raw.npos ||
                   raw.find('\0') != raw.npos ||
                   std::any_of(segments.begin(), segments.end(),
                               [](std::string_view s) { return s == ".." || s == "."; });
  if (bad) {
    return Unprocessable("invalid_included_files",
                         "included_files: '" + std::string(raw) +
                             "' is not a path inside the base directory (relative, without '..')");
  }
  p.text = std::string(raw);
  return p;
}

// Whether a folder (relative path) may hold a file some positive pattern takes: it lies on the
// way to the pattern's fixed prefix, or under it.
bool MayHoldMatches(const std::vector<Pattern>& patterns, std::string_view dir) {
  const auto dir_segments = Segments(dir);
  for (const Pattern& p : patterns) {
    if (p.negated) continue;
    const auto segments = Segments(p.text);
    std::size_t i = 0;
    for (; i < dir_segments.size() && i < segments.size(); ++i) {
      if (segments[i] == "**") return true;
      if (HasWildcard(segments[i]) ? !SegmentMatches(segments[i], dir_segments[i])
                                   : segments[i] != dir_segments[i]) {
        break;
      }
    }
    if (i == dir_segments.size() || i == segments.size()) return true;
  }
  return false;
}

bool Takes(const std::vector<Pattern>& patterns, std::string_view path) {
  bool taken = false;
  for (const Pattern& p : patterns) {
    if (!IncludedPatternMatches(p.text, path)) continue;
    if (p.negated) return false;
    taken = true;
  }
  return taken;
}

}  // namespace

bool IncludedPatternMatches(std::string_view pattern, std::string_view path) {
  const auto pattern_segments = Segments(pattern);
  auto path_segments = Segments(path);
  // The file itself, or a folder above it.
  while (!path_segments.empty()) {
    if (MatchFrom(pattern_segments, 0, path_segments, 0)) return true;
    path_segments.pop_back();
  }
  return false;
}

Result<IncludedFiles> CollectIncludedFiles(
    const sandbox::UntrustedTree& base, const std::vector<std::string>& patterns,
    const std::map<std::string, std::vector<std::string>>& by_function,
    const std::vector<std::string>& names, const IncludedFilesLimits& limits) {
  std::map<std::string, std::vector<Pattern>> per_function;
  std::vector<Pattern> all;  // every function's, to walk once
  for (const std::string& name : names) {
    std::vector<Pattern>& mine = per_function[name];
    std::vector<std::string> raw = patterns;
    if (auto it = by_function.find(name); it != by_function.end()) {
      raw.insert(raw.end(), it->second.begin(), it->second.end());
    }
    for (const std::string& r : raw) {
      RD_TRY(Pattern p, ParsePattern(r));
      mine.push_back(p);
      all.push_back(std::move(p));
    }
  }
  IncludedFiles out;
  if (all.empty()) return out;
  std::map<std::string, std::string> files;  // taken by some function
  std::uint64_t bytes = 0;
  std::string outside;  // a matched link that leads out of the base directory
  sandbox::UntrustedTree::WalkOptions walk;
  walk.limits.max_depth = 32;
  walk.skip_directory = [&](std::string_view dir) {
    return dir == ".git" || !MayHoldMatches(all, dir);
  };
  walk.on_skip = [&](std::string_view path, std::string_view reason) {
    if (!outside.empty() || reason.find("outside") == std::string_view::npos) return;
    for (const auto& [name, mine] : per_function) {
      if (Takes(mine, path)) outside = std::string(path);
    }
  };
  RD_TRY_STATUS(base.Walk(walk, [&](const sandbox::UntrustedTree::File& file) -> Status {
    const bool wanted =
        std::any_of(per_function.begin(), per_function.end(),
                    [&](const auto& entry) { return Takes(entry.second, file.path); });
    if (!wanted) return {};
    bytes += file.size;
    if (files.size() + 1 > limits.max_files || bytes > limits.max_bytes) {
      return Unprocessable("invalid_included_files",
                           "included_files: more than " + std::to_string(limits.max_files) +
                               " files or " + std::to_string(limits.max_bytes >> 20) +
                               " MiB in all (at " + file.path + ")");
    }
    std::string data(file.size, '\0');
    std::size_t got = 0;
    while (got < data.size()) {
      const ssize_t n =
          ::pread(file.fd, data.data() + got, data.size() - got, static_cast<off_t>(got));
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    data.resize(got);
    files.emplace(file.path, std::move(data));
    return {};
  }));
  if (!outside.empty()) {
    return Unprocessable("invalid_included_files",
                         "included_files: " + outside +
                             " is a link that leads outside the base directory; only files "
                             "inside it can be included");
  }
  for (const auto& [name, mine] : per_function) {
    auto& taken = out[name];
    for (const auto& [path, data] : files) {
      if (Takes(mine, path)) taken.emplace(path, data);
    }
  }
  return out;
}

}  // namespace replideploy::builder
