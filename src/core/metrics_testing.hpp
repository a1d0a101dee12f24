// Test support: a checker of the Prometheus text exposition format (version 0.0.4), for tests
// that read /metrics (promtool is not a Debian package). Header-only; not linked into the binary.
//
// It checks what a Prometheus server's parser and `promtool check metrics` reject: line syntax
// (names, label names, escapes in label values, numbers), HELP and TYPE at most once per family
// and TYPE before the family's samples, a family's lines together, no series twice, and for
// histograms: `le` on every bucket, bounds rising, counts not falling, a +Inf bucket equal to
// _count, and _sum and _count present.
#pragma once

#include <cerrno>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace replideploy::core::metrics::testing {

namespace exposition_detail {

inline bool IsNameStart(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}
inline bool IsNameChar(char c, bool colon) {
  return IsNameStart(c, colon) || (c >= '0' && c <= '9');
}

// Reads a metric name (colon true) or a label name at `pos`; "" when there is none.
inline std::string ReadName(std::string_view line, std::size_t& pos, bool colon) {
  const std::size_t start = pos;
  if (pos >= line.size() || !IsNameStart(line[pos], colon)) return "";
  while (pos < line.size() && IsNameChar(line[pos], colon)) ++pos;
  return std::string(line.substr(start, pos - start));
}

// A sample value or a bucket bound as Go's strconv.ParseFloat (as Prometheus) takes it.
inline std::optional<double> ParseNumber(std::string_view text) {
  if (text == "+Inf" || text == "Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text.empty()) return std::nullopt;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) {
      return std::nullopt;
    }
  }
  const std::string s(text);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE) return std::nullopt;
  return v;
}

struct Sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // in the order written, unescaped
  double value = 0;
};

// Parses a sample line; "" on success, else what is wrong.
inline std::string ParseSample(std::string_view line, Sample& out) {
  std::size_t pos = 0;
  out.name = ReadName(line, pos, true);
  if (out.name.empty()) return "no metric name";
  if (pos < line.size() && line[pos] == '{') {
    ++pos;
    std::set<std::string> seen;
    while (pos < line.size() && line[pos] != '}') {
      std::string label = ReadName(line, pos, false);
      if (label.empty()) return "bad label name";
      if (label.starts_with("__")) return "reserved label name " + label;
      if (!seen.insert(label).second) return "label " + label + " twice";
      if (pos + 1 >= line.size() || line[pos] != '=' || line[pos + 1] != '"') {
        return "label " + label + " without =\"";
      }
      pos += 2;
      std::string value;
      for (;;) {
        if (pos >= line.size()) return "unterminated label value";
        const char c = line[pos++];
        if (c == '"') break;
        if (c == '\\') {
          if (pos >= line.size()) return "unterminated escape";
          const char e = line[pos++];
          if (e == 'n') {
            value += '\n';
          } else if (e == '\\' || e == '"') {
            value += e;
          } else {
            return std::string("bad escape \\") + e;
          }
        } else {
          value += c;
        }
      }
      out.labels.emplace_back(std::move(label), std::move(value));
      if (pos < line.size() && line[pos] == ',') ++pos;
    }
    if (pos >= line.size()) return "unterminated label set";
    ++pos;  // }
  }
  if (pos >= line.size() || (line[pos] != ' ' && line[pos] != '\t')) return "no value";
  while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
  std::size_t end = line.find_first_of(" \t", pos);
  const std::string_view value_text =
      line.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
  const auto value = ParseNumber(value_text);
  if (!value) return "bad value '" + std::string(value_text) + "'";
  out.value = *value;
  if (end != std::string_view::npos) {
    while (end < line.size() && (line[end] == ' ' || line[end] == '\t')) ++end;
    const std::string_view ts = line.substr(end);
    if (!ts.empty()) {
      for (std::size_t i = 0; i < ts.size(); ++i) {
        if (!((ts[i] >= '0' && ts[i] <= '9') || (i == 0 && ts[i] == '-'))) {
          return "bad timestamp";
        }
      }
    }
  }
  return "";
}

}  // namespace exposition_detail

// "" when `text` is valid exposition text, else the first problem and its line.
inline std::string CheckExposition(std::string_view text) {
  using namespace exposition_detail;
  if (!text.empty() && text.back() != '\n') return "the last line has no newline";
  std::map<std::string, std::string> types;  // family -> type
  std::set<std::string> helps;
  std::set<std::string> finished;  // families whose lines are over
  std::string current;             // the family of the lines just read
  std::set<std::string> series;    // name + labels, seen once each
  std::set<std::string> sampled;   // families with a sample read
  struct Histo {
    std::vector<std::pair<double, double>> buckets;  // (le, count) in order
    std::optional<double> sum, count;
  };
  std::map<std::string, Histo> histograms;  // family + labels without le
  const auto enter = [&](const std::string& family) -> std::string {
    if (family == current) return "";
    if (finished.contains(family)) return "the lines of " + family + " are not together";
    if (!current.empty()) finished.insert(current);
    current = family;
    return "";
  };
  std::size_t line_no = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    const std::string_view line = text.substr(start, nl - start);
    start = nl + 1;
    ++line_no;
    const auto fail = [&](const std::string& why) {
      return "line " + std::to_string(line_no) + ": " + why + ": " + std::string(line);
    };
    if (line.empty()) continue;
    if (line.starts_with("#")) {
      std::size_t pos = 1;
      while (pos < line.size() && line[pos] == ' ') ++pos;
      const bool help = line.substr(pos).starts_with("HELP ");
      const bool type = line.substr(pos).starts_with("TYPE ");
      if (!help && !type) continue;  // a comment
      pos += 5;
      while (pos < line.size() && line[pos] == ' ') ++pos;
      const std::string name = ReadName(line, pos, true);
      if (name.empty()) return fail("no metric name");
      if (pos < line.size() && line[pos] != ' ') return fail("bad metric name");
      if (std::string why = enter(name); !why.empty()) return fail(why);
      if (help) {
        if (!helps.insert(name).second) return fail("a second HELP");
        const std::string_view doc = pos < line.size() ? line.substr(pos + 1) : "";
        for (std::size_t i = 0; i < doc.size(); ++i) {
          if (doc[i] == '\\') {
            if (i + 1 >= doc.size() || (doc[i + 1] != '\\' && doc[i + 1] != 'n')) {
              return fail("bad escape in HELP");
            }
            ++i;
          }
        }
      } else {
        if (types.contains(name)) return fail("a second TYPE");
        if (sampled.contains(name)) return fail("TYPE after the family's samples");
        const std::string_view t = pos < line.size() ? line.substr(pos + 1) : "";
        if (t != "counter" && t != "gauge" && t != "histogram" && t != "summary" &&
            t != "untyped") {
          return fail("unknown type");
        }
        types[name] = std::string(t);
      }
      continue;
    }
    Sample sample;
    if (std::string why = ParseSample(line, sample); !why.empty()) return fail(why);
    // The family: a histogram's _bucket, _sum and _count belong to it.
    std::string family = sample.name;
    std::string suffix;
    for (std::string_view s : {"_bucket", "_sum", "_count"}) {
      if (sample.name.ends_with(s)) {
        const std::string base = sample.name.substr(0, sample.name.size() - s.size());
        auto it = types.find(base);
        if (it != types.end() && (it->second == "histogram" || it->second == "summary")) {
          family = base;
          suffix = std::string(s);
        }
      }
    }
    if (std::string why = enter(family); !why.empty()) return fail(why);
    sampled.insert(family);
    auto type = types.find(family);
    if (type != types.end() && type->second == "counter" && !(sample.value >= 0)) {
      return fail("a counter below zero");
    }
    std::string key = sample.name + "{";
    std::string key_without_le = family + "{";
    std::optional<double> le;
    for (const auto& [label, value] : sample.labels) {
      key += label + "=" + value + ",";
      if (label == "le") {
        le = ParseNumber(value);
        if (!le) return fail("bad le");
      } else {
        key_without_le += label + "=" + value + ",";
      }
    }
    if (!series.insert(key).second) return fail("the same series twice");
    if (type != types.end() && type->second == "histogram") {
      Histo& h = histograms[key_without_le];
      if (suffix == "_bucket") {
        if (!le) return fail("a bucket without le");
        if (!h.buckets.empty() && !(*le > h.buckets.back().first)) return fail("le not rising");
        if (!h.buckets.empty() && sample.value < h.buckets.back().second) {
          return fail("bucket counts falling");
        }
        h.buckets.emplace_back(*le, sample.value);
      } else if (suffix == "_sum") {
        h.sum = sample.value;
      } else if (suffix == "_count") {
        h.count = sample.value;
      } else {
        return fail("a histogram sample that is no _bucket, _sum or _count");
      }
    }
  }
  for (const auto& [key, h] : histograms) {
    if (h.buckets.empty() || h.buckets.back().first != std::numeric_limits<double>::infinity()) {
      return "histogram " + key + "}: no le=\"+Inf\" bucket";
    }
    if (!h.sum || !h.count) return "histogram " + key + "}: no _sum or _count";
    if (*h.count != h.buckets.back().second) {
      return "histogram " + key + "}: _count is not the +Inf bucket";
    }
  }
  return "";
}

}  // namespace replideploy::core::metrics::testing
