#include "builder/build_config.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

namespace replideploy::builder {

namespace {

// Applies one table's keys ([build] or [context.x]) over `config`.
Status Apply(const toml::table& table, std::string_view where, BuildConfig& config) {
  for (auto [key, field] : {std::pair{std::string_view("base"), &config.base},
                            {"command", &config.command},
                            {"publish", &config.publish},
                            {"functions", &config.functions}}) {
    const toml::node* node = table.get(key);
    if (node == nullptr) continue;
    if (!node->is_string()) {
      return Unprocessable("invalid_netlify_toml",
                           fmt::format("netlify.toml: {}.{} must be a string", where, key));
    }
    *field = node->value_or(std::string());
  }
  if (const toml::node* env = table.get("environment")) {
    const toml::table* vars = env->as_table();
    if (vars == nullptr) {
      return Unprocessable("invalid_netlify_toml",
                           fmt::format("netlify.toml: {}.environment must be a table", where));
    }
    for (const auto& [name, value] : *vars) {
      std::string text;
      if (value.is_string()) {
        text = value.value_or(std::string());
      } else if (value.is_integer()) {
        text = std::to_string(value.value_or(std::int64_t{0}));
      } else if (value.is_boolean()) {
        text = value.value_or(false) ? "true" : "false";
      } else {
        return Unprocessable(
            "invalid_netlify_toml",
            fmt::format("netlify.toml: {}.environment.{} must be a string", where, name.str()));
      }
      config.environment[std::string(name.str())] = std::move(text);
    }
  }
  return {};
}

// `<where>.included_files`: an array of strings (a single string is taken as one pattern).
Status ReadIncludedFiles(const toml::table& table, const std::string& where,
                         std::vector<std::string>& out) {
  const toml::node* node = table.get("included_files");
  if (node == nullptr) return {};
  auto wrong = [&] {
    return Unprocessable("invalid_netlify_toml",
                         "netlify.toml: " + where + ".included_files must be an array of strings");
  };
  if (node->is_string()) {
    out.push_back(node->value_or(std::string()));
    return {};
  }
  const toml::array* list = node->as_array();
  if (list == nullptr) return wrong();
  for (const toml::node& item : *list) {
    if (!item.is_string()) return wrong();
    out.push_back(item.value_or(std::string()));
  }
  return {};
}

}  // namespace

Result<BuildConfig> ReadBuildConfig(const std::string& toml_text, std::string_view context,
                                    std::string_view branch) {
  toml::table table;
  try {
    table = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    return MakeError(ErrorCode::kUnprocessable,
                     fmt::format("netlify.toml:{}: {}", e.source().begin.line, e.description()));
  }
  BuildConfig config;
  if (const toml::node* build = table.get("build")) {
    if (!build->is_table()) {
      return Unprocessable("invalid_netlify_toml", "netlify.toml: build must be a table");
    }
    RD_TRY_STATUS(Apply(*build->as_table(), "build", config));
  }
  if (const toml::table* functions = table["functions"].as_table()) {
    if (const toml::node* dir = functions->get("directory"); dir != nullptr && dir->is_string()) {
      config.functions = dir->value_or(std::string());
    }
    RD_TRY_STATUS(ReadIncludedFiles(*functions, "functions", config.included_files));
    for (const auto& [name, section] : *functions) {
      const toml::table* fn = section.as_table();
      if (fn == nullptr) continue;
      if (fn->contains("included_files")) {
        RD_TRY_STATUS(ReadIncludedFiles(*fn, "functions." + std::string(name.str()),
                                        config.function_included_files[std::string(name.str())]));
      }
      if (const toml::node* schedule = fn->get("schedule")) {
        if (!schedule->is_string()) {
          return Unprocessable(
              "invalid_netlify_toml",
              "netlify.toml: functions." + std::string(name.str()) + ".schedule must be a string");
        }
        config.function_schedules[std::string(name.str())] = schedule->value_or(std::string());
      }
    }
  }
  if (const toml::node* contexts = table.get("context")) {
    if (!contexts->is_table()) {
      return Unprocessable("invalid_netlify_toml", "netlify.toml: context must be a table");
    }
    // The deploy context first, then the branch, which is more specific.
    for (std::string_view name : {context, branch}) {
      if (name.empty()) continue;
      const toml::node* section = contexts->as_table()->get(name);
      if (section == nullptr) continue;
      if (!section->is_table()) {
        return Unprocessable("invalid_netlify_toml",
                             fmt::format("netlify.toml: context.{} must be a table", name));
      }
      RD_TRY_STATUS(Apply(*section->as_table(), fmt::format("context.{}", name), config));
    }
  }
  return config;
}

}  // namespace replideploy::builder
