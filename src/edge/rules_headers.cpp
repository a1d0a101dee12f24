// The `_headers` parser (rules_parse.cpp has `_redirects`; rules_toml.cpp netlify.toml's
// [[headers]], which shares the checks below). As `@netlify/headers-parser`, a header line that
// does not parse is skipped and the rest applies; a path that can never match is skipped with
// its header lines, so that they never land on the rule before it.
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "edge/rules.hpp"
#include "edge/rules_internal.hpp"

namespace replideploy::edge {

using namespace rules_internal;  // NOLINT(google-build-using-namespace)

namespace rules_internal {

bool IsHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) continue;
    if (std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) return false;
  }
  return true;
}

bool IsHeaderValue(std::string_view value) {
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

// Adds `name: value` to a header rule, comma-joining a name it already has.
Status AddHeaderValue(HeaderList& values, std::string_view name, std::string_view value) {
  if (!IsHeaderName(name)) return Reason("invalid header name '" + std::string(name) + "'");
  if (value.empty()) return Reason("missing value for header '" + std::string(name) + "'");
  if (!IsHeaderValue(value)) {
    return Reason("header '" + std::string(name) + "' has a control character in its value");
  }
  for (auto& [existing, existing_value] : values) {
    if (EqualsIgnoreCase(existing, name)) {
      existing_value += ", ";
      existing_value += value;
      return {};
    }
  }
  values.emplace_back(std::string(name), std::string(value));
  return {};
}

Status ValidateHeaderPath(std::string_view path) {
  if (!path.starts_with('/')) {
    return Reason("header path '" + std::string(path) + "' must start with '/'");
  }
  auto pattern = CompileHeaderPattern(path);
  if (!pattern.ok()) return std::move(pattern).error();
  return {};
}

}  // namespace rules_internal

namespace {

// Reads `_headers` line by line. A skipped path takes its header lines with it, so that they
// never land on the rule before it.
class HeadersFileParser {
 public:
  HeadersFileParser(std::string_view file, std::vector<SkippedRule>* skipped)
      : file_(file), skipped_(skipped) {}

  // Returns false once the rest of the file is to be skipped.
  bool Line(std::string_view trimmed, std::size_t n) {
    if (trimmed.starts_with('/') || IsUrl(trimmed)) return Path(trimmed, n);
    if (in_skipped_path_) return true;  // reported with its path
    const std::size_t colon = trimmed.find(':');
    if (colon == std::string_view::npos) {
      return SkipLine(n, "expected a path (starting with '/') or 'Name: value'", trimmed);
    }
    const std::string_view name = Trim(trimmed.substr(0, colon));
    if (name.empty()) return SkipLine(n, "missing header name", trimmed);
    if (rules_.empty()) {
      return SkipLine(n, "header '" + std::string(name) + "' comes before any path", trimmed);
    }
    auto added = AddHeaderValue(rules_.back().values, name, Trim(trimmed.substr(colon + 1)));
    if (!added.ok()) return SkipLine(n, std::move(added).error().message, trimmed);
    return true;
  }

  // A line the reader refused: a path line takes its headers with it.
  void Unreadable(std::string_view trimmed, std::size_t n, std::string_view reason) {
    if (trimmed.starts_with('/')) in_skipped_path_ = true;
    Skip(skipped_, file_, n, std::string(reason), "");
  }

  std::vector<HeaderRule> Finish() {
    std::erase_if(rules_, [](const HeaderRule& r) { return r.values.empty(); });
    return std::move(rules_);
  }

 private:
  bool Path(std::string_view trimmed, std::size_t n) {
    in_skipped_path_ = true;
    if (rules_.size() == kMaxRules) {
      SkipLine(n,
               "more than " + std::to_string(kMaxRules) +
                   " rules: this rule and the rest "
                   "are skipped",
               trimmed);
      return false;
    }
    if (IsUrl(trimmed)) {
      return SkipLine(n, "header rules take a path, not a URL (its headers are skipped too)",
                      trimmed);
    }
    if (auto valid = ValidateHeaderPath(trimmed); !valid.ok()) {
      return SkipLine(n, std::move(valid).error().message + " (its headers are skipped too)",
                      trimmed);
    }
    in_skipped_path_ = false;
    rules_.push_back({std::string(trimmed), {}, std::string(file_) + ":" + std::to_string(n)});
    return true;
  }

  bool SkipLine(std::size_t n, std::string reason, std::string_view trimmed) {
    Skip(skipped_, file_, n, std::move(reason), trimmed);
    return true;
  }

  std::string_view file_;
  std::vector<SkippedRule>* skipped_;
  std::vector<HeaderRule> rules_;
  bool in_skipped_path_ = false;
};

}  // namespace

Result<std::vector<HeaderRule>> ParseHeadersFile(std::string_view text, std::string_view file_name,
                                                 std::vector<SkippedRule>* skipped) {
  RD_TRY_STATUS(CheckFileSize(text, file_name));
  HeadersFileParser parser(file_name, skipped);
  LineReader reader(text);
  std::string_view line;
  std::string problem;
  while (reader.Next(line, problem)) {
    const std::string_view trimmed = Trim(line);
    if (trimmed.starts_with('#')) continue;  // a comment, whatever its bytes
    if (!problem.empty()) {
      parser.Unreadable(trimmed, reader.number(), problem);
      continue;
    }
    if (trimmed.empty()) continue;
    if (!parser.Line(trimmed, reader.number())) break;
  }
  return parser.Finish();
}

}  // namespace replideploy::edge
