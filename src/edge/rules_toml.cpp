// The rule tables of `netlify.toml` ([[redirects]], [[headers]]), read with the line parsers'
// checks (rules_parse.cpp, shared through rules_internal.hpp): a rule here means what the same
// rule means in `_redirects` or `_headers`.
#include <toml++/toml.h>

#include <string>
#include <string_view>
#include <vector>

#include "edge/rules.hpp"
#include "edge/rules_internal.hpp"

namespace replideploy::edge {

using namespace rules_internal;  // NOLINT(google-build-using-namespace)

namespace {

std::size_t LineOf(const toml::node& node) { return node.source().begin.line; }

std::string SourceOf(std::string_view file, const toml::node& node) {
  return std::string(file) + ":" + std::to_string(LineOf(node));
}

// Reads one table at a time. A failure's message is "<what>: <reason>"; error_line() is the
// line of the value at fault.
class TomlReader {
 public:
  explicit TomlReader(std::string_view file) : file_(file) {}

  Error At(const toml::node& node, std::string_view what, std::string reason) const {
    error_line_ = LineOf(node);
    return MakeError(ErrorCode::kUnprocessable, std::string(what) + ": " + std::move(reason));
  }

  std::size_t error_line() const { return error_line_; }

  // The first of `names` present in `table`.
  static const toml::node* Field(const toml::table& table,
                                 std::initializer_list<std::string_view> names) {
    for (auto name : names) {
      if (const toml::node* node = table.get(name)) return node;
    }
    return nullptr;
  }

  Result<std::string> String(const toml::node& node, std::string_view what) const {
    if (!node.is_string()) return At(node, what, "must be a string");
    return std::string(node.as_string()->get());
  }

  Result<RedirectRule> Redirect(const toml::table& t, std::string_view what) const {
    RedirectRule rule;
    const toml::node* from = Field(t, {"from", "origin"});
    if (from == nullptr) return At(t, what, "missing \"from\"");
    RD_TRY(std::string from_text, String(*from, "from"));
    if (auto s = ParseFrom(from_text, rule); !s.ok()) return At(*from, what, s.error().message);

    if (const toml::node* status = t.get("status")) {
      std::string token;
      if (status->is_integer()) {
        token = std::to_string(status->as_integer()->get());
      } else if (status->is_string()) {
        token = status->as_string()->get();
      } else {
        return At(*status, what, "\"status\" must be an integer");
      }
      bool ignored_force = false;
      auto parsed = ParseStatus(token, rule.status, ignored_force);
      if (!parsed.ok()) return At(*status, what, parsed.error().message);
      if (!*parsed || token.ends_with('!')) {
        return At(*status, what, "'" + token + "' is not a valid status code (200-599)");
      }
    }
    if (const toml::node* force = t.get("force")) {
      if (!force->is_boolean()) return At(*force, what, "\"force\" must be true or false");
      rule.force = force->as_boolean()->get();
    }
    if (const toml::node* to = Field(t, {"to", "destination"})) {
      RD_TRY(rule.to, String(*to, "to"));
      if (auto s = ValidateDestination(rule.to); !s.ok()) return At(*to, what, s.error().message);
    } else if (auto s = SetForwardTarget(rule); !s.ok()) {
      return At(t, what, s.error().message);
    }
    if (const toml::node* query = Field(t, {"query", "params", "parameters"})) {
      const toml::table* q = query->as_table();
      if (q == nullptr) return At(*query, what, "\"query\" must be a table");
      for (auto&& [key, value] : *q) {
        if (!value.is_string()) return At(value, what, "query values must be strings");
        auto s = AddQueryCondition(rule, key.str(), value.as_string()->get());
        if (!s.ok()) return At(value, what, s.error().message);
      }
    }
    if (const toml::node* conditions = t.get("conditions")) {
      const toml::table* c = conditions->as_table();
      if (c == nullptr) return At(*conditions, what, "\"conditions\" must be a table");
      for (auto&& [key, value] : *c) {
        std::vector<std::string> items;
        if (const toml::array* list = value.as_array()) {
          for (const toml::node& item : *list) {
            if (!item.is_string()) return At(item, what, "condition values must be strings");
            items.emplace_back(Trim(item.as_string()->get()));
          }
        } else if (value.is_string()) {
          auto split = SplitList(key.str(), value.as_string()->get());
          if (!split.ok()) return At(value, what, split.error().message);
          items = std::move(split).value();
        } else {
          return At(value, what, "conditions must be strings or arrays of strings");
        }
        auto s = AddCondition(rule, key.str(), std::move(items));
        if (!s.ok()) return At(value, what, s.error().message);
      }
      // A TOML table has no order; check Role last, so that a visitor is only refused where
      // every other condition holds.
      std::stable_partition(
          rule.conditions.begin(), rule.conditions.end(),
          [](const auto& condition) { return condition.kind != RedirectCondition::Kind::kRole; });
    }
    if (const toml::node* headers = t.get("headers")) {
      const toml::table* h = headers->as_table();
      if (h == nullptr) return At(*headers, what, "\"headers\" must be a table");
      for (auto&& [key, value] : *h) {
        if (!value.is_string()) return At(value, what, "header values must be strings");
        const std::string v(Trim(value.as_string()->get()));
        if (!IsHeaderName(key.str()) || !IsHeaderValue(v)) {
          return At(value, what, "invalid proxy header '" + std::string(key.str()) + "'");
        }
        rule.proxy_headers.emplace_back(std::string(key.str()), v);
      }
    }
    if (const toml::node* sign = Field(t, {"signed", "signing", "sign"})) {
      RD_TRY(rule.signed_env, String(*sign, "signed"));
    }
    rule.source = SourceOf(file_, t);
    return rule;
  }

  // Netlify's multi-line values: "a,\n  b" -> "a, b".
  static std::string JoinCommaList(std::string_view value) {
    std::string out;
    std::size_t start = 0;
    while (true) {
      std::size_t end = value.find(',', start);
      const bool last = end == std::string_view::npos;
      if (last) end = value.size();
      if (!out.empty() || start > 0) out += ", ";
      out += Trim(value.substr(start, end - start));
      if (last) break;
      start = end + 1;
    }
    return out;
  }

  Result<HeaderRule> Headers(const toml::table& t, std::string_view what) const {
    HeaderRule rule;
    const toml::node* for_node = t.get("for");
    if (for_node == nullptr) return At(t, what, "missing \"for\"");
    RD_TRY(std::string path, String(*for_node, "for"));
    rule.path = std::string(Trim(path));
    if (auto s = ValidateHeaderPath(rule.path); !s.ok()) {
      return At(*for_node, what, s.error().message);
    }
    if (const toml::node* values = t.get("values")) {
      const toml::table* v = values->as_table();
      if (v == nullptr) return At(*values, what, "\"values\" must be a table");
      for (auto&& [key, value] : *v) {
        std::string joined;
        if (value.is_string()) {
          joined = JoinCommaList(Trim(value.as_string()->get()));
        } else if (const toml::array* list = value.as_array()) {
          for (const toml::node& item : *list) {
            if (!item.is_string()) return At(item, what, "header values must be strings");
            if (!joined.empty()) joined += ", ";
            joined += Trim(item.as_string()->get());
          }
        } else {
          return At(value, what, "header values must be strings or arrays of strings");
        }
        auto s = AddHeaderValue(rule.values, Trim(key.str()), joined);
        if (!s.ok()) return At(value, what, s.error().message);
      }
    }
    rule.source = SourceOf(file_, t);
    return rule;
  }

 private:
  std::string_view file_;
  mutable std::size_t error_line_ = 0;  // set by At()
};

// Reads `root[key]`, an array of tables, skipping (into `skipped`) what does not parse.
template <typename Rule, typename ReadOne>
void ReadArrayOfTables(const toml::table& root, std::string_view key, std::string_view file,
                       const TomlReader& reader, std::vector<Rule>& out,
                       std::vector<SkippedRule>* skipped, ReadOne read_one) {
  const toml::node* node = root.get(key);
  if (node == nullptr) return;
  const toml::array* array = node->as_array();
  const std::string title = "[[" + std::string(key) + "]]";
  if (array == nullptr) {
    Skip(skipped, file, LineOf(*node),
         "\"" + std::string(key) + "\" must be an array of tables (" + title + ")", "");
    return;
  }
  std::size_t number = 0;
  for (const toml::node& element : *array) {
    ++number;
    const std::string what = title + " #" + std::to_string(number);
    if (out.size() == kMaxRules) {
      Skip(skipped, file, LineOf(element),
           what + ": more than " + std::to_string(kMaxRules) + " " + title +
               " rules: this one and the rest are skipped",
           "");
      return;
    }
    const toml::table* table = element.as_table();
    if (table == nullptr) {
      Skip(skipped, file, LineOf(element), what + ": must be a table", "");
      continue;
    }
    auto rule = read_one(*table, what);
    if (!rule.ok()) {
      Skip(skipped, file, reader.error_line(), std::move(rule).error().message, "");
      continue;
    }
    out.push_back(std::move(rule).value());
  }
}

}  // namespace

Result<NetlifyTomlRules> ParseNetlifyToml(std::string_view text, std::string_view file_name,
                                          std::vector<SkippedRule>* skipped) {
  RD_TRY_STATUS(CheckFileSize(text, file_name));
  if (text.find('\0') != std::string_view::npos) {
    return MakeError(ErrorCode::kUnprocessable, std::string(file_name) + ": NUL byte");
  }
  toml::table root;
  try {
    root = toml::parse(text, file_name);
  } catch (const toml::parse_error& e) {
    return LineError(file_name, e.source().begin.line, std::string(e.description()));
  }
  NetlifyTomlRules rules;
  TomlReader reader(file_name);
  ReadArrayOfTables(
      root, "redirects", file_name, reader, rules.redirects, skipped,
      [&](const toml::table& t, std::string_view what) { return reader.Redirect(t, what); });
  ReadArrayOfTables(
      root, "headers", file_name, reader, rules.headers, skipped,
      [&](const toml::table& t, std::string_view what) { return reader.Headers(t, what); });
  std::erase_if(rules.headers, [](const HeaderRule& r) { return r.values.empty(); });
  return rules;
}

}  // namespace replideploy::edge
