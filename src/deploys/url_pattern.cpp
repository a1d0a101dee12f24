#include "deploys/url_pattern.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace replideploy::deploys {

namespace {

// Bounds on the cost of one match, which runs on the edge's I/O threads for patterns a site's
// owner writes: at most kMaxOpenParts parts that can span '/' or repeat (wildcards, custom
// regular expressions, "*" / "+" modifiers), paths up to kMaxPatternPath bytes (a longer path
// matches no pattern; literal paths are compared whatever their length), and a custom regular
// expression tried on substrings up to kMaxRegexSubject bytes.
constexpr std::size_t kMaxPatternBytes = 2048;
constexpr int kMaxOpenParts = 4;
constexpr std::size_t kMaxPatternPath = 1024;
constexpr std::size_t kMaxRegexSubject = 256;

enum class TokenType { kChar, kEscaped, kName, kRegex, kAsterisk, kModifier, kOpen, kClose };

struct Token {
  TokenType type;
  std::string value;
};

Error BadPattern(std::string_view pattern, std::string_view why) {
  return Unprocessable("invalid_path_pattern",
                       "'" + std::string(pattern.substr(0, 200)) +
                           "' is not a valid path pattern: " + std::string(why));
}

bool NameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '$';
}
bool NameChar(char c) { return NameStart(c) || std::isdigit(static_cast<unsigned char>(c)) != 0; }

Result<std::vector<Token>> Tokenize(std::string_view s) {
  std::vector<Token> out;
  for (std::size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c == '*') {
      out.push_back({TokenType::kAsterisk, "*"});
      ++i;
    } else if (c == '+' || c == '?') {
      out.push_back({TokenType::kModifier, std::string(1, c)});
      ++i;
    } else if (c == '\\') {
      if (i + 1 == s.size()) return BadPattern(s, "a '\\' at the end");
      out.push_back({TokenType::kEscaped, std::string(1, s[i + 1])});
      i += 2;
    } else if (c == '{') {
      out.push_back({TokenType::kOpen, "{"});
      ++i;
    } else if (c == '}') {
      out.push_back({TokenType::kClose, "}"});
      ++i;
    } else if (c == ':') {
      std::size_t j = i + 1;
      if (j == s.size() || !NameStart(s[j])) return BadPattern(s, "a ':' without a name");
      while (j < s.size() && NameChar(s[j])) ++j;
      out.push_back({TokenType::kName, std::string(s.substr(i + 1, j - i - 1))});
      i = j;
    } else if (c == '(') {
      int depth = 1;
      std::size_t j = i + 1;
      if (j < s.size() && s[j] == '?') return BadPattern(s, "a regular expression group '(?'");
      for (; j < s.size(); ++j) {
        if (s[j] == '\\') {
          ++j;
        } else if (s[j] == '(') {
          ++depth;
        } else if (s[j] == ')' && --depth == 0) {
          break;
        }
      }
      if (depth != 0 || j >= s.size()) return BadPattern(s, "an unbalanced '('");
      if (j == i + 1) return BadPattern(s, "an empty '()'");
      out.push_back({TokenType::kRegex, std::string(s.substr(i + 1, j - i - 1))});
      i = j + 1;
    } else {
      out.push_back({TokenType::kChar, std::string(1, c)});
      ++i;
    }
  }
  return out;
}

}  // namespace

struct UrlPattern::Part {
  enum class Kind { kFixed, kSegment, kWildcard, kRegex };
  enum class Modifier { kNone, kOptional, kZeroOrMore, kOneOrMore };
  Kind kind = Kind::kFixed;
  Modifier modifier = Modifier::kNone;
  std::string value;  // kFixed: the text
  std::string name;   // the group's name (none for kFixed)
  std::string prefix, suffix;
  std::regex regex;  // kRegex
};

Result<UrlPattern> UrlPattern::Parse(std::string_view pattern) {
  if (pattern.empty() || pattern.front() != '/')
    return BadPattern(pattern, "it must start with '/'");
  if (pattern.size() > kMaxPatternBytes) return BadPattern(pattern, "it is longer than 2048 bytes");
  RD_TRY(std::vector<Token> tokens, Tokenize(pattern));
  UrlPattern out;
  out.source_ = std::string(pattern);
  std::size_t pos = 0;
  std::string pending;
  int next_index = 0;
  std::set<std::string> names;

  auto take = [&](TokenType type) -> const Token* {
    if (pos < tokens.size() && tokens[pos].type == type) return &tokens[pos++];
    return nullptr;
  };
  auto take_text = [&] {
    std::string text;
    while (pos < tokens.size() &&
           (tokens[pos].type == TokenType::kChar || tokens[pos].type == TokenType::kEscaped)) {
      text += tokens[pos++].value;
    }
    return text;
  };
  auto take_modifier = [&]() -> Part::Modifier {
    if (pos < tokens.size()) {
      const Token& t = tokens[pos];
      if (t.type == TokenType::kAsterisk) {
        ++pos;
        return Part::Modifier::kZeroOrMore;
      }
      if (t.type == TokenType::kModifier) {
        ++pos;
        return t.value == "?" ? Part::Modifier::kOptional : Part::Modifier::kOneOrMore;
      }
    }
    return Part::Modifier::kNone;
  };
  auto flush = [&] {
    if (pending.empty()) return;
    auto part = std::make_shared<Part>();
    part->value = std::move(pending);
    pending.clear();
    out.parts_.push_back(std::move(part));
  };
  // A named or regular-expression or wildcard part; false (with `error`) on a bad one.
  Error error;
  auto add = [&](std::string prefix, const Token* name, const Token* regex_or_wildcard,
                 std::string suffix, Part::Modifier modifier) -> bool {
    auto part = std::make_shared<Part>();
    part->prefix = std::move(prefix);
    part->suffix = std::move(suffix);
    part->modifier = modifier;
    part->name = name != nullptr ? name->value : std::to_string(next_index++);
    if (!names.insert(part->name).second) {
      error = BadPattern(pattern, "the name '" + part->name + "' is used twice");
      return false;
    }
    if (regex_or_wildcard == nullptr) {
      part->kind = Part::Kind::kSegment;
    } else if (regex_or_wildcard->type == TokenType::kAsterisk) {
      part->kind = Part::Kind::kWildcard;
    } else {
      part->kind = Part::Kind::kRegex;
      try {
        part->regex = std::regex(regex_or_wildcard->value, std::regex::ECMAScript);
      } catch (const std::regex_error&) {
        error =
            BadPattern(pattern, "a bad regular expression '(" + regex_or_wildcard->value + ")'");
        return false;
      }
    }
    out.parts_.push_back(std::move(part));
    out.literal_ = false;
    return true;
  };
  auto regex_or_wildcard_after = [&](const Token* name) -> const Token* {
    const Token* t = take(TokenType::kRegex);
    if (t == nullptr && name == nullptr) t = take(TokenType::kAsterisk);
    return t;
  };

  while (pos < tokens.size()) {
    const Token* ch = take(TokenType::kChar);
    const Token* name = take(TokenType::kName);
    const Token* rw = regex_or_wildcard_after(name);
    if (name != nullptr || rw != nullptr) {
      std::string prefix = ch != nullptr ? ch->value : "";
      if (prefix != "/") {
        pending += prefix;
        prefix.clear();
      }
      flush();
      const Part::Modifier modifier = take_modifier();
      if (!add(std::move(prefix), name, rw, "", modifier)) return error;
      continue;
    }
    if (ch != nullptr) {
      pending += ch->value;
      continue;
    }
    if (const Token* escaped = take(TokenType::kEscaped)) {
      pending += escaped->value;
      continue;
    }
    if (take(TokenType::kOpen) != nullptr) {
      std::string prefix = take_text();
      const Token* group_name = take(TokenType::kName);
      const Token* group_rw = regex_or_wildcard_after(group_name);
      std::string suffix = take_text();
      if (take(TokenType::kClose) == nullptr) return BadPattern(pattern, "an unclosed '{'");
      const Part::Modifier modifier = take_modifier();
      flush();
      if (group_name == nullptr && group_rw == nullptr) {
        if (modifier == Part::Modifier::kNone) {
          pending = std::move(prefix);
          flush();
        } else {
          auto part = std::make_shared<Part>();
          part->value = std::move(prefix);
          part->modifier = modifier;
          out.parts_.push_back(std::move(part));
          out.literal_ = false;
        }
      } else if (!add(std::move(prefix), group_name, group_rw, std::move(suffix), modifier)) {
        return error;
      }
      continue;
    }
    const Token& t = tokens[pos];
    if (t.type == TokenType::kClose) return BadPattern(pattern, "a '}' without '{'");
    return BadPattern(pattern, "a '" + t.value + "' with nothing before it to repeat");
  }
  flush();
  int open_parts = 0;
  for (const auto& part : out.parts_) {
    if (part->kind == Part::Kind::kWildcard || part->kind == Part::Kind::kRegex ||
        part->modifier == Part::Modifier::kZeroOrMore ||
        part->modifier == Part::Modifier::kOneOrMore) {
      ++open_parts;
    }
  }
  if (open_parts > kMaxOpenParts) {
    return BadPattern(pattern, "more than 4 wildcards, regular expressions or repeated groups");
  }
  if (out.literal_) {
    for (const auto& part : out.parts_) out.literal_text_ += part->value;
  }
  return out;
}

// Backtracking over the parts, with the (part, position) pairs known to fail remembered, so a
// match costs at most parts x positions x positions steps.
struct UrlPattern::Matcher {
  const std::vector<std::shared_ptr<const Part>>& parts;
  std::string_view path;
  std::map<std::string, std::string>* params;
  std::vector<char> failed;

  bool At(std::size_t pos, std::string_view text) const {
    return path.substr(pos).starts_with(text);
  }

  // Where one occurrence of `part`'s own pattern starting at `pos` may end.
  std::vector<std::size_t> Ends(const Part& part, std::size_t pos) const {
    std::vector<std::size_t> ends;
    switch (part.kind) {
      case Part::Kind::kFixed:
        if (At(pos, part.value)) ends.push_back(pos + part.value.size());
        break;
      case Part::Kind::kSegment: {
        std::size_t stop = path.find('/', pos);
        if (stop == std::string_view::npos) stop = path.size();
        for (std::size_t e = stop; e > pos; --e) ends.push_back(e);
        break;
      }
      case Part::Kind::kWildcard:
        for (std::size_t e = path.size() + 1; e-- > pos;) ends.push_back(e);
        break;
      case Part::Kind::kRegex: {
        const std::size_t last = std::min(path.size(), pos + kMaxRegexSubject);
        for (std::size_t e = last + 1; e-- > pos;) {
          const std::string subject(path.substr(pos, e - pos));
          if (std::regex_match(subject, part.regex)) ends.push_back(e);
        }
        break;
      }
    }
    return ends;
  }

  bool Run(std::size_t i, std::size_t pos) {
    if (i == parts.size()) return pos == path.size();
    const std::size_t key = i * (path.size() + 1) + pos;
    if (failed[key] != 0) return false;
    const Part& part = *parts[i];
    using M = Part::Modifier;
    if (part.modifier == M::kNone || part.modifier == M::kOptional ||
        part.modifier == M::kOneOrMore || part.modifier == M::kZeroOrMore) {
      if (At(pos, part.prefix)) {
        const std::size_t start = pos + part.prefix.size();
        std::vector<std::size_t> run = Ends(part, start);
        if (part.modifier == M::kOneOrMore || part.modifier == M::kZeroOrMore) {
          // Every end of one or more occurrences joined by suffix + prefix.
          const std::string glue = part.suffix + part.prefix;
          std::set<std::size_t> seen(run.begin(), run.end());
          for (std::size_t k = 0; k < run.size(); ++k) {
            if (!At(run[k], glue)) continue;
            for (std::size_t e : Ends(part, run[k] + glue.size())) {
              if (seen.insert(e).second) run.push_back(e);
            }
          }
          std::sort(run.rbegin(), run.rend());
        }
        for (std::size_t end : run) {
          if (!At(end, part.suffix)) continue;
          if (part.kind != Part::Kind::kFixed && params != nullptr) {
            (*params)[part.name] = std::string(path.substr(start, end - start));
          }
          if (Run(i + 1, end + part.suffix.size())) return true;
          if (part.kind != Part::Kind::kFixed && params != nullptr) params->erase(part.name);
        }
      }
      if ((part.modifier == M::kOptional || part.modifier == M::kZeroOrMore) && Run(i + 1, pos)) {
        return true;
      }
    }
    failed[key] = 1;
    return false;
  }
};

bool UrlPattern::Match(std::string_view path, std::map<std::string, std::string>* params) const {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt == 1) {
      // "/foo" matches "/foo/" too.
      if (path.size() < 2 || path.back() != '/') break;
      path.remove_suffix(1);
    }
    if (literal_) {
      if (path == literal_text_) return true;
      continue;
    }
    if (path.size() > kMaxPatternPath) return false;
    std::map<std::string, std::string> found;
    Matcher matcher{parts_, path, &found, std::vector<char>(parts_.size() * (path.size() + 1))};
    if (matcher.Run(0, 0)) {
      if (params != nullptr) *params = std::move(found);
      return true;
    }
  }
  return false;
}

}  // namespace replideploy::deploys
