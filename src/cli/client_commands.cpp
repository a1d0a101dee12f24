#include "cli/client_commands.hpp"

#include <fmt/format.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "builder/build_config.hpp"
#include "builder/functions_bundle.hpp"
#include "cli/api_client.hpp"
#include "cli/deploy_cache.hpp"
#include "cli/deploy_scan.hpp"
#include "cli/deploy_upload.hpp"
#include "core/crypto.hpp"
#include "edge/deploy_rules.hpp"
#include "edge/explain.hpp"
#include "http/client.hpp"
#include "store/blob_store.hpp"

namespace replideploy::cli {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

struct Common {
  std::string api_url;
  std::string token;
  ClientSettings Settings() const { return ResolveClientSettings(api_url, token); }
};

void AddCommonOptions(CLI::App& cmd, Common& common) {
  cmd.add_option("--api-url", common.api_url, "API address (env REPLIDEPLOY_API_URL)");
  cmd.add_option("--auth-token", common.token, "API token (env REPLIDEPLOY_AUTH_TOKEN)");
}

int Fail(const std::string& message) {
  fmt::print(stderr, "replideploy: {}\n", message);
  return 1;
}

std::string Str(const json::value& v, std::string_view key) {
  if (!v.is_object()) return "";
  const json::value* f = v.as_object().if_contains(key);
  return (f != nullptr && f->is_string()) ? std::string(f->as_string()) : std::string();
}

// Text from the server for a terminal: control characters become '?'.
std::string Printable(std::string text) {
  for (char& c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return text;
}

// The deploy summary's messages (Netlify's `summary.messages`), one line each, on stderr.
void PrintSummaryMessages(const json::value& deploy) {
  if (!deploy.is_object()) return;
  const json::value* summary = deploy.as_object().if_contains("summary");
  if (summary == nullptr || !summary->is_object()) return;
  const json::value* messages = summary->as_object().if_contains("messages");
  if (messages == nullptr || !messages->is_array()) return;
  for (const json::value& m : messages->as_array()) {
    const std::string type = Str(m, "type");
    fmt::print(stderr, "{}: {}\n", type == "warning" ? "Warning" : Printable(type),
               Printable(Str(m, "description")));
  }
}

ApiClient RequireClient(const Common& common) { return ApiClient(common.Settings()); }

std::string ReadSecret(const std::string& prompt) {
  fmt::print(stderr, "{}", prompt);
  termios old{};
  const bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    fmt::print(stderr, "\n");
  }
  return line;
}

// ---- login -------------------------------------------------------------------------------

int Login(const Common& common, std::string email, bool password_stdin,
          const std::string& given_token) {
  ClientSettings settings = common.Settings();
  if (!given_token.empty()) {
    settings.token = given_token;
  } else {
    if (email.empty()) {
      fmt::print(stderr, "Email: ");
      std::getline(std::cin, email);
    }
    std::string password;
    if (password_stdin) {
      std::getline(std::cin, password);
    } else {
      password = ReadSecret("Password: ");
    }
    ApiClient anonymous(ClientSettings{settings.api_url, ""});
    json::value body = json::object{{"email", email}, {"password", password}};
    auto session = anonymous.Call("POST", "/auth/login", &body);
    if (!session.ok()) return Fail("login failed: " + session.error().message);
    ApiClient with_session(ClientSettings{settings.api_url, Str(*session, "token")});
    char host[256] = "cli";
    gethostname(host, sizeof host - 1);
    json::value token_body = json::object{{"name", std::string("replideploy cli on ") + host}};
    auto token = with_session.Call("POST", "/api/v1/tokens", &token_body);
    // The login session was only needed to make the token: end it rather than leave it live.
    (void)with_session.Call("POST", "/auth/logout");
    if (!token.ok()) return Fail("cannot create an API token: " + token.error().message);
    settings.token = Str(*token, "token");
  }
  ApiClient client(settings);
  auto user = client.Call("GET", "/api/v1/user");
  if (!user.ok()) return Fail("the token does not work: " + user.error().message);
  if (Status st = SaveClientSettings(settings); !st.ok()) return Fail(st.error().message);
  fmt::print("Logged in to {} as {}. Token saved in {}\n", settings.api_url, Str(*user, "email"),
             ClientSettingsPath());
  return 0;
}

// ---- sites -------------------------------------------------------------------------------

int SitesCreate(const Common& common, const std::string& name) {
  ApiClient client = RequireClient(common);
  json::value body =
      name.empty() ? json::value(json::object{}) : json::value(json::object{{"name", name}});
  auto site = client.Call("POST", "/api/v1/sites", &body);
  if (!site.ok()) return Fail(site.error().message);
  fmt::print("Site created: {}\n  URL:   {}\n  ID:    {}\n  Admin: {}\n", Str(*site, "name"),
             Str(*site, "url"), Str(*site, "id"), Str(*site, "admin_url"));
  return 0;
}

int SitesList(const Common& common) {
  ApiClient client = RequireClient(common);
  auto sites = client.Call("GET", "/api/v1/sites");
  if (!sites.ok()) return Fail(sites.error().message);
  if (!sites->is_array() || sites->as_array().empty()) {
    fmt::print("No sites yet. Create one with: replideploy sites create NAME\n");
    return 0;
  }
  for (const auto& s : sites->as_array()) {
    fmt::print("{:<30} {}\n", Str(s, "name"), Str(s, "url"));
  }
  return 0;
}

// ---- deploy ------------------------------------------------------------------------------

// The functions folder: --functions, else the one netlify.toml in the current folder (a
// project's root) names; "" for none.
Result<std::string> FunctionsFolder(const std::string& flag, bool prod) {
  if (!flag.empty()) {
    std::error_code ec;
    if (!fs::is_directory(flag, ec)) {
      return MakeError(ErrorCode::kBadRequest, "--functions " + flag + " is not a folder");
    }
    return flag;
  }
  std::ifstream in("netlify.toml", std::ios::binary);
  if (!in) return std::string();
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto config = builder::ReadBuildConfig(text, prod ? "production" : "deploy-preview");
  if (!config.ok())
    return MakeError(ErrorCode::kBadRequest, "netlify.toml: " + config.error().message);
  if (!config->functions || config->functions->empty()) return std::string();
  std::error_code ec;
  // Named but absent: nothing to bundle (netlify-cli says nothing either).
  return fs::is_directory(*config->functions, ec) ? *config->functions : std::string();
}

int Deploy(const Common& common, const std::string& dir, const std::string& site, bool prod,
           const std::string& alias, const std::string& message, const std::string& functions_flag,
           bool use_cache) {
  if (site.empty()) return Fail("--site NAME is required");
  ApiClient client = RequireClient(common);
  const auto started = std::chrono::steady_clock::now();
  // What the last deploy from this folder left (deploy_cache.hpp); --no-cache starts afresh.
  std::error_code ec;
  const std::string real_dir = fs::weakly_canonical(dir, ec).string();
  const std::string cache_root = use_cache && !ec ? DefaultCacheRoot() : std::string();
  const std::string cache_file = cache_root.empty() ? "" : CacheFileFor(cache_root, real_dir);
  DeployCache cache = cache_file.empty() ? DeployCache{} : LoadDeployCache(cache_file, real_dir);
  const std::string base_key = BaseKey(client.settings().api_url, site);
  auto folder = ScanDirectory(dir, cache);
  if (!folder.ok()) return Fail(folder.error().message);
  const std::vector<LocalFile>* scanned = &folder->files;
  if (scanned->empty()) return Fail(dir + " holds no files to deploy");
  for (const std::string& left_out : folder->unreadable_folders) {
    fmt::print(stderr, "Warning: left out {}: the folder cannot be read (permission denied)\n",
               left_out);
  }
  fmt::print(stderr, "Hashed {} files in {} ({} unchanged since the last deploy)\n",
             scanned->size(), dir, scanned->size() - folder->hashed);
  // Functions, bundled here with esbuild (the same bundler as builds, without a sandbox: this
  // is the user's own code on the user's machine).
  auto functions_dir = FunctionsFolder(functions_flag, prod);
  if (!functions_dir.ok()) return Fail(functions_dir.error().message);
  std::vector<builder::FunctionBundle> functions;
  if (!functions_dir->empty()) {
    auto bundled = builder::BundleFunctions(*functions_dir, builder::FindEsbuild());
    if (!bundled.ok()) return Fail(bundled.error().message);
    functions = std::move(*bundled);
    // netlify.toml's [functions."name"] schedule, as in builds.
    if (std::ifstream in("netlify.toml", std::ios::binary); in) {
      const std::string text((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
      if (auto config = builder::ReadBuildConfig(text, prod ? "production" : "deploy-preview");
          config.ok()) {
        builder::ApplyTomlSchedules(config->function_schedules, functions);
      }
    }
    fmt::print(stderr, "Bundled {} function{} from {}\n", functions.size(),
               functions.size() == 1 ? "" : "s", *functions_dir);
  }

  json::object create{{"draft", !prod}, {"deploy_source", "cli"}};
  if (!alias.empty()) create["branch"] = alias;
  if (!message.empty()) create["title"] = message;
  json::value create_body = create;
  const std::string site_path = "/api/v1/sites/" + EncodePath(site);
  auto deploy = client.Call("POST", site_path + "/deploys", &create_body);
  if (!deploy.ok()) return Fail(deploy.error().message);
  const std::string deploy_id = Str(*deploy, "id");

  json::object function_digests;
  json::object function_configs;  // routes, as netlify-cli's functions_config
  std::map<std::string, const builder::FunctionBundle*> function_by_sha;
  for (const auto& f : functions) {
    const std::string sha = core::HexEncode(core::Sha256(f.zip));
    function_digests[f.name] = sha;
    function_by_sha[sha] = &f;
    if (!f.config.empty()) function_configs[f.name] = json::parse(f.config);
  }
  json::object functions_body{{"functions", function_digests}};
  if (!function_configs.empty()) functions_body["functions_config"] = function_configs;
  const auto base = cache.bases.find(base_key);
  bool relative = false;
  auto prepared =
      SendFileList(client, site_path, deploy_id, *scanned,
                   base == cache.bases.end() ? nullptr : &base->second, functions_body, relative);
  if (!prepared.ok()) return Fail(prepared.error().message);
  if (relative) {
    fmt::print(stderr, "Sent the changes since deploy {}\n", base->second.deploy_id);
  }
  // Functions the server lacks, before the files: the last file upload may end the deploy's
  // uploads.
  if (const auto* required = prepared->as_object().if_contains("required_functions");
      required && required->is_array()) {
    for (const auto& sha : required->as_array()) {
      if (!sha.is_string()) continue;
      auto it = function_by_sha.find(std::string(sha.as_string()));
      if (it == function_by_sha.end()) continue;
      const builder::FunctionBundle& f = *it->second;
      auto up = client.Upload("/api/v1/deploys/" + deploy_id + "/functions/" + EncodePath(f.name) +
                                  "?runtime=" + f.runtime,
                              f.zip);
      if (!up.ok()) {
        (void)client.Call("POST", "/api/v1/deploys/" + deploy_id + "/cancel");
        return Fail("upload of function " + f.name + " failed: " + up.error().message);
      }
    }
  }

  std::vector<const LocalFile*> uploads;
  std::uint64_t upload_bytes = 0;
  if (const auto* required = prepared->as_object().if_contains("required");
      required && required->is_array() && !required->as_array().empty()) {
    std::unordered_map<std::string_view, const LocalFile*> by_sha;  // one copy per content
    by_sha.reserve(scanned->size());
    for (const auto& f : *scanned) by_sha.emplace(f.sha1, &f);
    for (const auto& sha : required->as_array()) {
      if (!sha.is_string()) continue;
      auto it = by_sha.find(std::string_view(sha.as_string()));
      if (it == by_sha.end()) continue;
      uploads.push_back(it->second);
      upload_bytes += it->second->size;
    }
  }
  fmt::print(stderr, "Uploading {} of {} files ({}); the rest are already stored\n", uploads.size(),
             scanned->size(), HumanBytes(static_cast<double>(upload_bytes)));
  if (std::string error = UploadDeployFiles(client, deploy_id, uploads); !error.empty()) {
    (void)client.Call("POST", "/api/v1/deploys/" + deploy_id + "/cancel");
    return Fail("upload failed: " + error);
  }

  // The cache's next text is made while the server processes the deploy; written once it is
  // ready (a base the server would refuse is never kept).
  std::future<std::string> cache_text;
  if (!cache_file.empty()) {
    cache_text =
        std::async(std::launch::async, [&cache, &base_key, &deploy_id, scanned, &real_dir] {
          BaseDeploy& next = cache.bases[base_key];
          next.deploy_id = deploy_id;
          next.files.clear();
          next.files.reserve(scanned->size());
          for (const LocalFile& f : *scanned) next.files.emplace(f.path, f.sha1);
          return FormatDeployCache(real_dir, cache, base_key);
        });
  }
  std::string state;
  json::value final_deploy;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  // Polled every 10 ms at first (a small deploy is ready within milliseconds), then less often,
  // but at least every 50 ms: a poll is one cheap GET on a kept-alive connection, and a longer
  // wait would be time the user waits after the deploy is ready.
  auto poll_wait = std::chrono::milliseconds(10);
  http::ClientConnection poll_connection;
  while (std::chrono::steady_clock::now() < deadline) {
    auto got = client.Get(site_path + "/deploys/" + deploy_id, &poll_connection);
    if (!got.ok()) return Fail(got.error().message);
    state = Str(*got, "state");
    final_deploy = *got;
    if (state == "ready" || state == "error" || state == "canceled") break;
    std::this_thread::sleep_for(poll_wait);
    poll_wait = std::min(poll_wait * 3 / 2, std::chrono::milliseconds(50));
  }
  if (state != "ready") {
    const std::string why = Str(final_deploy, "error_message");
    return Fail("deploy " + deploy_id + " ended " + (state.empty() ? "in a timeout" : state) +
                (why.empty() ? "" : ": " + why));
  }
  if (cache_text.valid()) {
    if (Status saved = WriteDeployCache(cache_file, cache_text.get()); !saved.ok()) {
      fmt::print(stderr, "replideploy: note: {}\n", saved.error().message);  // only a cache
    }
  }
  PrintSummaryMessages(final_deploy);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print("Deploy is live ({:.1f} s).\n", seconds);
  fmt::print("  Deploy URL: {}\n", Str(final_deploy, "deploy_url"));
  if (!alias.empty() && !prod) {
    if (auto* links = final_deploy.as_object().if_contains("links"); links && links->is_object()) {
      fmt::print("  Alias URL:  {}\n", Str(*links, "alias"));
    }
  }
  if (prod) {
    fmt::print("  Live URL:   {}\n", Str(final_deploy, "url"));
  } else {
    fmt::print("  (a draft; publish with --prod, or: replideploy rollback --site {} {})\n", site,
               deploy_id);
  }
  return 0;
}

int DeploysList(const Common& common, const std::string& site) {
  if (site.empty()) return Fail("--site NAME is required");
  ApiClient client = RequireClient(common);
  auto list = client.Call("GET", "/api/v1/sites/" + EncodePath(site) + "/deploys");
  if (!list.ok()) return Fail(list.error().message);
  for (const auto& d : list->as_array()) {
    const bool live = d.is_object() && d.as_object().contains("published") &&
                      d.at("published").is_bool() && d.at("published").as_bool();
    fmt::print("{} {:<10} {:<14} {} {}\n", Str(d, "id"), Str(d, "state"), Str(d, "context"),
               Str(d, "created_at"), live ? "(live)" : "");
  }
  return 0;
}

int Rollback(const Common& common, const std::string& site, const std::string& deploy_id) {
  if (site.empty()) return Fail("--site NAME is required");
  ApiClient client = RequireClient(common);
  auto restored = client.Call("POST", "/api/v1/sites/" + EncodePath(site) + "/deploys/" +
                                          EncodePath(deploy_id) + "/restore");
  if (!restored.ok()) return Fail(restored.error().message);
  fmt::print("Published deploy {} at {}\n", deploy_id, Str(*restored, "url"));
  return 0;
}

// ---- rules test ---------------------------------------------------------------------------

struct RulesTestOptions {
  std::string url;
  std::string site;
  std::string deploy_id;
  std::string dir;
  std::string method = "GET";
  std::vector<std::string> headers;  // "Name: value"
  std::string country, language, cookie;
  std::vector<std::string> roles;
  bool json = false;
};

Result<std::optional<std::string>> ReadOptionalFile(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<std::string>();
  if (!fs::is_regular_file(path, ec)) {
    return MakeError(ErrorCode::kBadRequest, path.string() + " is not a regular file");
  }
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof())
    return MakeError(ErrorCode::kBadRequest, "cannot read " + path.string());
  return std::optional<std::string>(std::move(text));
}

// The explanation of a request for a local folder: its files, its _redirects and _headers, and
// its netlify.toml (else the one in the current directory, the project's root).
Result<std::string> ExplainLocal(const RulesTestOptions& o, const edge::ExplainInput& input) {
  DeployCache no_cache;  // every file hashed; nothing kept
  RD_TRY(ScannedFolder folder, ScanDirectory(o.dir, no_cache));
  const std::vector<LocalFile>& files = folder.files;
  deploys::DeployManifest manifest;
  manifest.deploy_id = "local folder " + o.dir;
  // Explaining reads no blob: the files need their paths only (a placeholder digest).
  const std::string no_digest(64, '0');
  for (const LocalFile& f : files) {
    manifest.files.Insert(f.path, no_digest, static_cast<std::int64_t>(f.size), "");
  }
  const fs::path dir(o.dir);
  RD_TRY(auto redirects, ReadOptionalFile(dir / "_redirects"));
  RD_TRY(auto headers, ReadOptionalFile(dir / "_headers"));
  RD_TRY(auto toml, ReadOptionalFile(dir / "netlify.toml"));
  if (!toml) {
    std::error_code ec;
    if (!fs::equivalent(dir, fs::current_path(), ec)) {
      RD_TRY(toml, ReadOptionalFile("netlify.toml"));
      if (toml) fmt::print(stderr, "Using ./netlify.toml\n");
    }
  }
  std::vector<edge::SkippedRule> skipped;
  RD_TRY(auto rules, edge::DeployRules::FromFiles(redirects, headers, toml, &skipped));
  for (const auto& rule : skipped) fmt::print(stderr, "warning: {}\n", edge::Describe(rule));
  const std::string host = o.site.empty() ? "localhost" : o.site + ".localhost";
  RD_TRY(http::Request request, edge::BuildExplainRequest(input, host));
  return edge::ExplainJson(manifest, *rules, request, input.roles);
}

int RulesTest(const Common& common, const RulesTestOptions& o) {
  edge::ExplainInput input;
  input.url = o.url;
  input.method = o.method;
  for (const std::string& h : o.headers) {
    const auto colon = h.find(':');
    if (colon == std::string::npos)
      return Fail("--header \"" + h + "\": write it as \"Name: value\"");
    std::string value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    input.headers.emplace_back(h.substr(0, colon), value);
  }
  input.country = o.country;
  input.language = o.language;
  input.cookie = o.cookie;
  input.roles = o.roles;

  std::string explanation;
  if (!o.dir.empty()) {
    auto local = ExplainLocal(o, input);
    if (!local.ok()) return Fail(local.error().message);
    explanation = std::move(local).value();
  } else {
    if (o.site.empty())
      return Fail("--site NAME is required (or --dir FOLDER to test a local folder)");
    ApiClient client = RequireClient(common);
    json::object body{{"url", input.url}, {"method", input.method}};
    json::object header_object;
    for (const auto& [name, value] : input.headers) header_object[name] = value;
    if (!header_object.empty()) body["headers"] = std::move(header_object);
    if (!o.deploy_id.empty()) body["deploy_id"] = o.deploy_id;
    if (!o.country.empty()) body["country"] = o.country;
    if (!o.language.empty()) body["language"] = o.language;
    if (!o.cookie.empty()) body["cookie"] = o.cookie;
    if (!o.roles.empty()) {
      json::array roles;
      for (const auto& r : o.roles) roles.push_back(json::string(r));
      body["roles"] = std::move(roles);
    }
    json::value request_body = std::move(body);
    auto answer =
        client.Call("POST", "/api/v1/sites/" + EncodePath(o.site) + "/rules/test", &request_body);
    if (!answer.ok()) return Fail(answer.error().message);
    explanation = json::serialize(*answer);
  }
  if (o.json) {
    fmt::print("{}\n", explanation);
    return 0;
  }
  auto text = edge::FormatExplanation(explanation);
  if (!text.ok()) return Fail(text.error().message);
  fmt::print("{}", *text);
  return 0;
}

}  // namespace

void AddClientCommands(CLI::App& app, int& exit_code) {
  // Options live as long as the App: keep them in statics owned by this registration.
  static Common common;
  static std::string email, token, site, dir, alias, message, deploy_id, name;
  static bool password_stdin = false, prod = false, no_cache = false;

  CLI::App* login =
      app.add_subcommand("login", "log in and save an API token for the other commands");
  AddCommonOptions(*login, common);
  login->add_option("--email", email, "account email (asked when absent)");
  login->add_flag("--password-stdin", password_stdin, "read the password from standard input");
  login->add_option("--token", token, "save this API token instead of logging in");
  login->callback([&] { exit_code = Login(common, email, password_stdin, token); });

  CLI::App* sites = app.add_subcommand("sites", "manage sites");
  sites->require_subcommand(1);
  CLI::App* create = sites->add_subcommand("create", "create a site");
  AddCommonOptions(*create, common);
  create->add_option("name", name, "site name (a DNS label; random when absent)");
  create->callback([&] { exit_code = SitesCreate(common, name); });
  CLI::App* list = sites->add_subcommand("list", "list your sites");
  AddCommonOptions(*list, common);
  list->callback([&] { exit_code = SitesList(common); });

  CLI::App* deploy = app.add_subcommand("deploy", "deploy a folder");
  AddCommonOptions(*deploy, common);
  deploy->add_option("dir", dir, "folder to publish")->required();
  deploy->add_option("--site", site, "site name or id")->required();
  deploy->add_flag("--prod", prod, "publish to production (default: a draft deploy)");
  deploy->add_option("--alias", alias, "a name for the draft's URL: <alias>--<site>");
  deploy->add_option("--message,-m", message, "a title for the deploy");
  static std::string functions;
  deploy->add_option("--functions", functions,
                     "functions folder, bundled with esbuild (default: netlify.toml's [functions] "
                     "directory in the current folder)");
  deploy->add_flag("--no-cache", no_cache,
                   "hash every file and send the whole file list (no cache of the last deploy)");
  deploy->callback(
      [&] { exit_code = Deploy(common, dir, site, prod, alias, message, functions, !no_cache); });

  CLI::App* deploys = app.add_subcommand("deploys", "list a site's deploys");
  deploys->require_subcommand(1);
  CLI::App* deploys_list = deploys->add_subcommand("list", "list deploys, newest first");
  AddCommonOptions(*deploys_list, common);
  deploys_list->add_option("--site", site, "site name or id")->required();
  deploys_list->callback([&] { exit_code = DeploysList(common, site); });

  CLI::App* rollback = app.add_subcommand("rollback", "publish an earlier deploy");
  AddCommonOptions(*rollback, common);
  rollback->add_option("--site", site, "site name or id")->required();
  rollback->add_option("deploy_id", deploy_id, "the deploy to publish")->required();
  rollback->callback([&] { exit_code = Rollback(common, site, deploy_id); });

  static RulesTestOptions rules_test;
  CLI::App* rules = app.add_subcommand("rules", "check a site's redirect and header rules");
  rules->require_subcommand(1);
  CLI::App* test =
      rules->add_subcommand("test", "say what the edge answers a URL, and why, rule by rule");
  AddCommonOptions(*test, common);
  test->add_option("url", rules_test.url, "a path (/old?page=2) or a URL (https://host/old)")
      ->required();
  test->add_option("--site", rules_test.site, "site name or id (its published deploy)");
  test->add_option("--deploy", rules_test.deploy_id, "a deploy of the site instead");
  test->add_option("--dir", rules_test.dir,
                   "test a local folder instead (its _redirects, _headers, netlify.toml)");
  test->add_option("--method,-X", rules_test.method, "request method (GET)");
  test->add_option("--header,-H", rules_test.headers, "a request header, \"Name: value\"");
  test->add_option("--country", rules_test.country, "the visitor's country code (us)");
  test->add_option("--language", rules_test.language, "Accept-Language (de-AT,en;q=0.5)");
  test->add_option("--cookie", rules_test.cookie, "Cookie header (a=1; b=2)");
  test->add_option("--role", rules_test.roles, "a role of the visitor (repeatable)");
  test->add_flag("--json", rules_test.json, "print the explanation as JSON");
  test->callback([&] { exit_code = RulesTest(common, rules_test); });
}

}  // namespace replideploy::cli
