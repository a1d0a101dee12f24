#include "fake_github/fake_github.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

#include "core/crypto.hpp"
#include "core/subprocess.hpp"
#include "http/router.hpp"
#include "http/server.hpp"

namespace replideploy::fake_github {
namespace {

namespace json = boost::json;

constexpr std::string_view kDocs = "https://docs.github.com/rest";
constexpr std::string_view kHookDocs =
    "https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook";
constexpr std::string_view kStatusDocs =
    "https://docs.github.com/rest/commits/statuses#create-a-commit-status";
constexpr std::string_view kContentsDocs =
    "https://docs.github.com/rest/repos/contents#get-repository-content";
constexpr std::string_view kTokenErrorDocs =
    "/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/";
constexpr std::string_view kIssuedScopes = "repo,admin:repo_hook";
// GitHub inlines file contents up to 1 MB; larger files come back with encoding "none".
constexpr std::size_t kMaxInlineFileBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxStatusDescription = 140;
constexpr std::int64_t kEpoch = 1'700'000'000;  // 2023-11-14T22:13:20Z
constexpr std::string_view kGitIdentity = "Fake GitHub <fake@example.com>";
constexpr std::string_view kHttpBackend = "/usr/lib/git-core/git-http-backend";
// A fetch request lists every object the client has: large for big histories.
constexpr std::size_t kMaxGitRequestBytes = std::size_t{64} << 20;
constexpr std::chrono::seconds kGitTimeout{120};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Timestamp(std::int64_t seconds) {
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0x0F]);
    }
  }
  return out;
}

// Standard padded base64, wrapped at 60 characters with a '\n' after every line, as GitHub
// sends file contents.
std::string Base64Lines(std::string_view bytes) {
  const std::string flat = core::Base64Encode(bytes);
  std::string out;
  for (std::size_t i = 0; i < flat.size(); i += 60) {
    out += flat.substr(i, 60);
    out.push_back('\n');
  }
  return out;
}

// Git's blob id: sha1("blob <size>\0<content>").
std::string GitBlobSha(std::string_view content) {
  std::string object = fmt::format("blob {}", content.size());
  object.push_back('\0');
  object.append(content);
  return core::HexEncode(core::Sha1(object));
}

std::string RandomAlnum(std::size_t n) {
  static constexpr std::string_view kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  for (char byte : core::RandomBytes(n)) {
    out.push_back(kChars[static_cast<unsigned char>(byte) % kChars.size()]);
  }
  return out;
}

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

std::optional<long long> ParseInt(std::string_view s) {
  long long n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return n;
}

// A path in git's C-style quoting, as fast-import reads it.
std::string QuoteGitPath(std::string_view path) {
  std::string out = "\"";
  for (char c : path) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

// The token in a Basic Authorization header: the password, or the user name when the password
// is empty or "x-oauth-basic" (GitHub takes a token either way); "" when there is none.
std::string BasicToken(std::string_view header) {
  const auto credentials = http::BasicCredentials(header);
  if (!credentials) return "";
  const auto& [user, password] = *credentials;
  if (password.empty() || password == "x-oauth-basic") return user;
  return password;
}

// The environment git runs in: nothing from the system's or the user's configuration.
std::vector<std::string> GitEnv(const std::filesystem::path& root) {
  const char* path = std::getenv("PATH");
  const std::filesystem::path home = root / "home";
  return {
      std::string("PATH=") + (path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin"),
      "HOME=" + home.string(),
      "XDG_CONFIG_HOME=" + (home / ".config").string(),
      "GIT_CONFIG_NOSYSTEM=1",
      "GIT_TERMINAL_PROMPT=0",
      "LC_ALL=C",
  };
}

// Git's answers are plain text: git shows them as "remote: ..." lines.
http::Response GitUnauthorized(std::string text) {
  http::Response response = http::Response::Text(401, std::move(text));
  response.headers.Set("WWW-Authenticate", "Basic realm=\"GitHub\"");
  return response;
}

http::Response GithubJson(int status, const json::value& body) {
  http::Response response = http::Response::Json(status, json::serialize(body));
  response.headers.Set("X-GitHub-Media-Type", "github.v3; format=json");
  response.headers.Set("X-GitHub-Api-Version-Selected", "2022-11-28");
  response.headers.Set("X-RateLimit-Limit", "5000");
  response.headers.Set("X-RateLimit-Remaining", "4999");
  return response;
}

// GitHub's error body: {"message", "documentation_url", "status"}.
http::Response GithubError(int status, std::string_view message,
                           std::string_view documentation_url = kDocs) {
  return GithubJson(status, json::object{{"message", message},
                                         {"documentation_url", documentation_url},
                                         {"status", std::to_string(status)}});
}

http::Response NotFound(std::string_view documentation_url = kDocs) {
  return GithubError(404, "Not Found", documentation_url);
}

// 422 "Validation Failed" with one entry in "errors".
http::Response ValidationFailed(std::string_view resource, std::string_view field,
                                std::string_view code, std::string_view message,
                                std::string_view documentation_url) {
  json::object error{{"resource", resource}, {"code", code}};
  if (!field.empty()) error["field"] = field;
  if (!message.empty()) error["message"] = message;
  json::array errors;
  errors.emplace_back(std::move(error));
  return GithubJson(422, json::object{{"message", "Validation Failed"},
                                      {"errors", std::move(errors)},
                                      {"documentation_url", documentation_url},
                                      {"status", "422"}});
}

// A JSON object body, or nullopt (answer GitHub's 400).
std::optional<json::object> JsonBody(const http::Request& request) {
  boost::system::error_code ec;
  json::value value = json::parse(request.body, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.get_object());
}

std::string StringOr(const json::object& object, std::string_view key, std::string fallback) {
  const json::value* v = object.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::move(fallback);
}

// "repo admin:repo_hook" (or comma-separated) -> "repo,admin:repo_hook".
std::string NormalizeScopes(std::string_view scope) {
  std::string out;
  std::string current;
  for (char c : std::string(scope) + " ") {
    if (c == ' ' || c == ',') {
      if (!current.empty()) out += (out.empty() ? "" : ",") + current;
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  return out;
}

// Git's raw (20-byte) object id of an object of `type` with `body`.
std::string GitObjectId(std::string_view type, std::string_view body) {
  std::string object = fmt::format("{} {}", type, body.size());
  object.push_back('\0');
  object.append(body);
  return core::Sha1(object);
}

// Git's raw id of the tree holding the files under `prefix` ("" or "dir/"), all files mode
// 100644. Entries sort as git sorts them: a directory's name as if it ended in '/'.
std::string GitTreeId(const std::map<std::string, std::string>& files, const std::string& prefix) {
  std::vector<std::pair<std::string, std::string>> entries;  // sort key, entry bytes
  for (auto it = files.lower_bound(prefix); it != files.end() && it->first.starts_with(prefix);) {
    const std::string rest = it->first.substr(prefix.size());
    const std::size_t slash = rest.find('/');
    if (slash == std::string::npos) {
      entries.emplace_back(rest, "100644 " + rest + '\0' + GitObjectId("blob", it->second));
      ++it;
      continue;
    }
    const std::string dir = rest.substr(0, slash);
    const std::string dir_prefix = prefix + dir + "/";
    entries.emplace_back(dir + "/", "40000 " + dir + '\0' + GitTreeId(files, dir_prefix));
    while (it != files.end() && it->first.starts_with(dir_prefix)) ++it;
  }
  std::sort(entries.begin(), entries.end());
  std::string body;
  for (const auto& [key, entry] : entries) body += entry;
  return GitObjectId("tree", body);
}

// False for a file path git would refuse or store under another name.
bool IsValidGitPath(std::string_view path) {
  if (path.empty() || path.find('\0') != std::string_view::npos) return false;
  for (;;) {
    const std::size_t slash = path.find('/');
    const std::string_view segment = path.substr(0, slash);
    if (segment.empty() || segment == "." || segment == ".." || Lower(segment) == ".git") {
      return false;
    }
    if (slash == std::string_view::npos) return true;
    path.remove_prefix(slash + 1);
  }
}

// `git check-ref-format --branch`, near enough.
bool IsValidBranchName(std::string_view name) {
  if (name.empty() || name == "@" || name.front() == '-' || name.front() == '/' ||
      name.back() == '/' || name.back() == '.' || name.find("..") != std::string_view::npos ||
      name.find("//") != std::string_view::npos || name.find("@{") != std::string_view::npos ||
      name.find("/.") != std::string_view::npos || name.front() == '.' || name.ends_with(".lock") ||
      name.find(".lock/") != std::string_view::npos) {
    return false;
  }
  return std::none_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f || std::string_view(" ~^:?*[\\").find(c) != std::string_view::npos;
  });
}

struct User {
  std::int64_t id = 0;
  std::string login;
};

// A commit the fake knows (sha and files) but has not yet written to the bare repository.
struct UnwrittenCommit {
  std::string sha;
  std::string branch;
  std::string parent;                          // "" for the first commit
  std::map<std::string, std::string> changes;  // written over the parent's files
  std::string message;                         // ends with '\n'
  std::int64_t time = 0;
};

struct Repo {
  std::int64_t id = 0;
  std::string owner;  // login as added
  std::string name;
  std::string default_branch;
  bool is_private = false;
  std::int64_t created_at = 0;
  std::int64_t pushed_at = 0;
  // The bare repository, relative to the repositories root: "<owner>/<name>.git", lower case.
  std::string git_path;
  std::map<std::string, std::string> branches;  // name -> head commit sha
  // Every commit made, by full sha: its files (path -> content).
  std::map<std::string, std::map<std::string, std::string>> commits;
  // Git is run only when a client fetches: until then the bare repository may not exist
  // (git_initialized) and commits wait here, oldest first.
  bool git_initialized = false;
  std::vector<UnwrittenCommit> unwritten;

  std::string FullName() const { return owner + "/" + name; }

  // The files at `ref`: a branch (also as "refs/heads/<name>"), a commit sha or a unique prefix
  // of 7+ digits; "" is the default branch. A full sha the repository does not have reads as
  // the default branch's head (tests use made-up shas). nullptr when nothing matches.
  const std::map<std::string, std::string>* FilesAt(std::string_view ref) const {
    constexpr std::string_view kHeads = "refs/heads/";
    std::string_view branch = ref.empty() ? std::string_view(default_branch) : ref;
    if (branch.starts_with(kHeads)) branch.remove_prefix(kHeads.size());
    if (const auto head = branches.find(std::string(branch)); head != branches.end()) {
      return &commits.at(head->second);
    }
    if (ref.size() < 7 || ref.size() > 64 || !IsHex(ref)) return nullptr;
    const std::string prefix = Lower(ref);
    const std::map<std::string, std::string>* found = nullptr;
    for (auto it = commits.lower_bound(prefix);
         it != commits.end() && it->first.starts_with(prefix); ++it) {
      if (found != nullptr) return nullptr;  // ambiguous
      found = &it->second;
    }
    if (found == nullptr && (ref.size() == 40 || ref.size() == 64)) return FilesAt("");
    return found;
  }
};

struct Token {
  std::string login;
  std::string scopes;
  bool revoked = false;
};

// An authorization code waiting to be exchanged.
struct Grant {
  std::string login;
  std::string redirect_uri;
  std::string scopes;
};

// Who a request comes from: a user, anonymous (no token), or refused (`failure` is the 401).
struct Caller {
  std::string login;  // empty: anonymous
  std::string scopes;
  std::optional<http::Response> failure;
};

}  // namespace

class FakeGithub::Impl {
 public:
  explicit Impl(FakeGithubOptions options) : options_(std::move(options)) {
    core::InitCrypto();
    Route("GET", "/login/oauth/authorize", &Impl::Authorize);
    Route("POST", "/login/oauth/access_token", &Impl::AccessToken);
    Route("GET", "/user", &Impl::CurrentUser);
    Route("GET", "/user/repos", &Impl::ListRepos);
    Route("GET", "/repos/{owner}/{repo}/hooks", &Impl::ListHooks);
    Route("POST", "/repos/{owner}/{repo}/hooks", &Impl::CreateHook);
    Route("DELETE", "/repos/{owner}/{repo}/hooks/{hook_id}", &Impl::DeleteHook);
    Route("POST", "/repos/{owner}/{repo}/statuses/{sha}", &Impl::CreateStatus);
    Route("GET", "/repos/{owner}/{repo}/contents/{path...}", &Impl::GetContents);
    Route("GET", "/{owner}/{repo}/info/refs", &Impl::ServeGit);
    Route("POST", "/{owner}/{repo}/git-upload-pack", &Impl::ServeGit, {kMaxGitRequestBytes});
    Route("POST", "/{owner}/{repo}/git-receive-pack", &Impl::ServeGit, {kMaxGitRequestBytes});
  }

  ~Impl() {
    Stop();  // no git-http-backend still reads the repositories
    if (root_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
    if (ec) spdlog::warn("fake GitHub: cannot remove {}: {}", root_.string(), ec.message());
  }

  Status Start() {
    std::lock_guard lifecycle(lifecycle_mu_);
    if (server_) return {};
    http::ServerOptions server_options;
    server_options.host = "127.0.0.1";
    server_options.port = options_.port;
    server_options.io_threads = 1;
    server_options.handler_threads = 4;
    server_options.shutdown_grace = std::chrono::seconds(5);
    auto server = std::make_unique<http::Server>(
        server_options, [this](const http::Request& head) { return Resolve(head); });
    RD_TRY_STATUS(server->Listen());
    port_ = server->port();
    server->Start();
    server_ = std::move(server);
    std::lock_guard lock(mu_);
    WriteStateFileLocked();  // readers find the file (empty lists) from the start
    return {};
  }

  void Stop() {
    std::lock_guard lifecycle(lifecycle_mu_);
    if (server_) server_->Stop();
  }

  void RunUntilSignal() {
    http::Server* server = nullptr;
    {
      std::lock_guard lifecycle(lifecycle_mu_);
      server = server_.get();
    }
    if (server != nullptr) server->RunUntilSignal();
  }

  std::uint16_t port() const { return port_; }
  std::string base_url() const { return fmt::format("http://127.0.0.1:{}", port_.load()); }

  std::int64_t AddUser(std::string_view login) {
    std::lock_guard lock(mu_);
    return AddUserLocked(login).id;
  }

  void SetOAuthUser(std::string_view login) {
    std::lock_guard lock(mu_);
    AddUserLocked(login);
    oauth_login_ = Lower(login);
  }

  std::int64_t AddRepo(std::string_view owner_login, std::string_view name,
                       std::string_view default_branch, std::map<std::string, std::string> files,
                       bool is_private) {
    std::lock_guard lock(mu_);
    Repo repo;
    repo.name = std::string(name);
    repo.default_branch = std::string(default_branch);
    repo.is_private = is_private;
    repo.created_at = kEpoch + static_cast<std::int64_t>(repos_.size()) * 60;
    repo.pushed_at =
        NextPushTimeLocked(kEpoch + 86'400 + static_cast<std::int64_t>(repos_.size()) * 3600);
    repo.git_path = Lower(std::string(owner_login) + "/" + repo.name) + ".git";
    CommitLocked(repo, repo.default_branch, "", std::move(files), "Initial commit", repo.pushed_at);
    repo.owner = AddUserLocked(owner_login).login;
    repo.id = next_repo_id_++;
    const std::int64_t id = repo.id;
    repos_[Lower(repo.FullName())] = std::move(repo);
    return id;
  }

  std::string PushCommit(std::string_view owner, std::string_view name, std::string_view branch,
                         std::map<std::string, std::string> files, std::string_view message) {
    std::lock_guard lock(mu_);
    const auto it = repos_.find(Lower(std::string(owner) + "/" + std::string(name)));
    if (it == repos_.end()) {
      throw std::invalid_argument(fmt::format("fake GitHub: no repository {}/{}", owner, name));
    }
    Repo& repo = it->second;
    auto head = repo.branches.find(std::string(branch));
    if (head == repo.branches.end()) head = repo.branches.find(repo.default_branch);
    const std::string parent = head == repo.branches.end() ? "" : head->second;
    const std::int64_t time = NextPushTimeLocked(0);
    std::string sha = CommitLocked(repo, branch, parent, std::move(files), message, time);
    repo.pushed_at = time;
    return sha;
  }

  std::string HeadSha(std::string_view owner, std::string_view name,
                      std::string_view branch) const {
    std::lock_guard lock(mu_);
    const auto it = repos_.find(Lower(std::string(owner) + "/" + std::string(name)));
    if (it == repos_.end()) return "";
    const auto head = it->second.branches.find(std::string(branch));
    return head == it->second.branches.end() ? "" : head->second;
  }

  std::string IssueToken(std::string_view login) {
    std::lock_guard lock(mu_);
    const User& user = AddUserLocked(login);
    return NewTokenLocked(Lower(user.login), std::string(kIssuedScopes));
  }

  void RevokeToken(std::string_view token) {
    std::lock_guard lock(mu_);
    if (auto it = tokens_.find(std::string(token)); it != tokens_.end()) it->second.revoked = true;
  }

  void AnswerNextRequests(http::Response response, int count) {
    std::lock_guard lock(mu_);
    for (int i = 0; i < count; ++i) canned_.push_back(response);
  }

  std::vector<FakeHook> Hooks() const {
    std::lock_guard lock(mu_);
    return hooks_;
  }
  std::vector<FakeStatus> Statuses() const {
    std::lock_guard lock(mu_);
    return statuses_;
  }
  std::vector<FakeRequest> Requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  using Method = http::Response (Impl::*)(http::Request&);

  void Route(std::string method, std::string_view pattern, Method handler,
             http::RouteOptions options = {}) {
    router_.Add(
        std::move(method), pattern,
        [this, handler](http::Request& request) {
          if (std::optional<http::Response> early = Intake(request)) return *std::move(early);
          return (this->*handler)(request);
        },
        options);
  }

  // Creates the temporary directory holding the repositories, once.
  Status EnsureRootLocked() {
    if (!root_.empty()) return {};
    std::string dir = (std::filesystem::temp_directory_path() / "rd-fake-github-XXXXXX").string();
    if (::mkdtemp(dir.data()) == nullptr) {
      return MakeError(ErrorCode::kInternal,
                       fmt::format("cannot create {}: {}", dir, std::strerror(errno)));
    }
    root_ = dir;
    std::error_code ec;
    std::filesystem::create_directories(root_ / "repos", ec);
    if (!ec) std::filesystem::create_directories(root_ / "home", ec);
    if (ec) return MakeError(ErrorCode::kInternal, "cannot populate " + dir + ": " + ec.message());
    return {};
  }

  // A push date after every other (and not before `at_least`), so the newest push sorts first.
  std::int64_t NextPushTimeLocked(std::int64_t at_least) {
    last_push_time_ = std::max(at_least, last_push_time_ + 3600);
    return last_push_time_;
  }

  // Runs git (the subcommand and its arguments in `args`); its stdout.
  Result<std::string> RunGitLocked(std::vector<std::string> args, std::string input = {}) const {
    args.insert(args.begin(), "git");
    const std::string what = args.at(1);
    RD_TRY(core::ProcessResult run, core::RunProcess({.argv = std::move(args),
                                                      .env = GitEnv(root_),
                                                      .input = std::move(input),
                                                      .timeout = kGitTimeout}));
    if (!run.Succeeded()) {
      return MakeError(ErrorCode::kInternal,
                       fmt::format("git {} failed (exit {}): {}", what, run.exit_code, run.err));
    }
    return std::move(run.out);
  }

  // Commits, in memory, `changes` over the files of `parent` ("": none) on `branch`, by git's
  // rules, so the sha is the one git computes when WriteRepoLocked() writes the commit. Throws
  // std::invalid_argument for a path or branch name git would refuse.
  std::string CommitLocked(Repo& repo, std::string_view branch, const std::string& parent,
                           std::map<std::string, std::string> changes, std::string_view message,
                           std::int64_t time) {
    if (!IsValidBranchName(branch)) {
      throw std::invalid_argument(fmt::format("fake GitHub: bad branch name \"{}\"", branch));
    }
    std::map<std::string, std::string> files;
    if (!parent.empty()) files = repo.commits.at(parent);
    for (const auto& [path, content] : changes) {
      if (!IsValidGitPath(path)) {
        throw std::invalid_argument(fmt::format("fake GitHub: bad file path \"{}\"", path));
      }
      files[path] = content;
    }
    for (const auto& [path, content] : files) {
      for (std::size_t slash = path.find('/'); slash != std::string::npos;
           slash = path.find('/', slash + 1)) {
        if (files.contains(path.substr(0, slash))) {
          throw std::invalid_argument(fmt::format(
              "fake GitHub: \"{}\" is both a file and a directory", path.substr(0, slash)));
        }
      }
    }
    std::string text(message);
    if (text.empty() || text.back() != '\n') text.push_back('\n');
    const std::string signature = fmt::format("{} {} +0000", kGitIdentity, time);
    std::string body = "tree " + core::HexEncode(GitTreeId(files, "")) + "\n";
    if (!parent.empty()) body += "parent " + parent + "\n";
    body += fmt::format("author {}\ncommitter {}\n\n{}", signature, signature, text);
    std::string sha = core::HexEncode(GitObjectId("commit", body));
    repo.unwritten.push_back(UnwrittenCommit{sha, std::string(branch), parent, std::move(changes),
                                             std::move(text), time});
    repo.branches[std::string(branch)] = sha;
    repo.commits[sha] = std::move(files);
    return sha;
  }

  // Creates the bare repository if needed and writes its unwritten commits with one git
  // fast-import; fails if git computed other shas than the fake handed out.
  Status WriteRepoLocked(Repo& repo) {
    if (repo.git_initialized && repo.unwritten.empty()) return {};
    RD_TRY_STATUS(EnsureRootLocked());
    const std::filesystem::path git_dir = root_ / "repos" / repo.git_path;
    if (!repo.git_initialized) {
      std::error_code ec;
      std::filesystem::remove_all(git_dir, ec);  // a repository added again starts afresh
      RD_TRY_STATUS(RunGitLocked({"init", "--quiet", "--bare", "--object-format=sha1",
                                  "--initial-branch=" + repo.default_branch, git_dir.string()}));
      // Fetching any commit by sha, as GitHub allows; never a push.
      std::ofstream config(git_dir / "config", std::ios::app);
      config << "[uploadpack]\n\tallowReachableSHA1InWant = true\n\tallowAnySHA1InWant = true\n"
             << "[http]\n\treceivepack = false\n";
      if (!config) return MakeError(ErrorCode::kInternal, "cannot write " + git_dir.string());
      repo.git_initialized = true;
    }
    std::string stream;
    std::string expected;
    std::map<std::string, std::size_t> marks;  // sha -> mark, for parents written in this stream
    for (std::size_t i = 0; i < repo.unwritten.size(); ++i) {
      const UnwrittenCommit& commit = repo.unwritten[i];
      const std::string signature = fmt::format("{} {} +0000", kGitIdentity, commit.time);
      stream += fmt::format("commit refs/heads/{}\nmark :{}\nauthor {}\ncommitter {}\ndata {}\n{}",
                            commit.branch, i + 1, signature, signature, commit.message.size(),
                            commit.message);
      if (const auto mark = marks.find(commit.parent); mark != marks.end()) {
        stream += fmt::format("from :{}\n", mark->second);
      } else if (!commit.parent.empty()) {
        stream += "from " + commit.parent + "\n";
      }
      for (const auto& [path, content] : commit.changes) {
        stream += fmt::format("M 100644 inline {}\ndata {}\n", QuoteGitPath(path), content.size());
        stream += content;
        stream += "\n";
      }
      stream += "\n";
      marks[commit.sha] = i + 1;
      expected += commit.sha + "\n";
    }
    for (std::size_t i = 0; i < repo.unwritten.size(); ++i) {
      stream += fmt::format("get-mark :{}\n", i + 1);
    }
    RD_TRY(std::string written, RunGitLocked({"--git-dir=" + git_dir.string(), "fast-import",
                                              "--quiet", "--date-format=raw"},
                                             std::move(stream)));
    if (written != expected) {
      return MakeError(
          ErrorCode::kInternal,
          fmt::format("git wrote commits {} where the fake expected {}", written, expected));
    }
    repo.unwritten.clear();
    return {};
  }

  http::Dispatch Resolve(const http::Request& head) {
    http::RouteMatch match = router_.Match(head.method, head.path);
    http::Dispatch dispatch;
    if (match.kind == http::RouteMatch::Kind::kFound) {
      dispatch.handler = *match.handler;
      dispatch.body_limit = match.options.body_limit;
      dispatch.path_params = std::move(match.params);
      return dispatch;
    }
    dispatch.handler = [this](http::Request& request) {
      if (std::optional<http::Response> early = Intake(request)) return *std::move(early);
      return NotFound();
    };
    return dispatch;
  }

  // Logs the request; answers it early with a canned response or for a missing User-Agent.
  std::optional<http::Response> Intake(const http::Request& request) {
    std::lock_guard lock(mu_);
    FakeRequest logged;
    logged.method = request.method;
    logged.path = request.path;
    if (const std::size_t q = request.target.find('?'); q != std::string::npos) {
      logged.query = request.target.substr(q + 1);
    }
    logged.headers = request.headers;
    requests_.push_back(std::move(logged));
    if (!canned_.empty()) {
      http::Response response = std::move(canned_.front());
      canned_.pop_front();
      return response;
    }
    if (request.Header("User-Agent").empty()) {
      return http::Response::Text(
          403,
          "Request forbidden by administrative rules. Please make sure your request has a "
          "User-Agent header (https://docs.github.com/en/rest/overview/"
          "resources-in-the-rest-api#user-agent-required). Check https://developer.github.com "
          "for other possible causes.\n");
    }
    const std::string_view version = request.Header("X-GitHub-Api-Version");
    if (!version.empty() && version != "2022-11-28" && version != "2026-03-10") {
      return GithubError(400, fmt::format("API version {} is not supported.", version));
    }
    return std::nullopt;
  }

  const User& AddUserLocked(std::string_view login) {
    auto [it, inserted] = users_.try_emplace(Lower(login));
    if (inserted) {
      it->second.id = next_user_id_++;
      it->second.login = std::string(login);
      if (oauth_login_.empty()) oauth_login_ = it->first;
    }
    return it->second;
  }

  std::string NewTokenLocked(std::string login_key, std::string scopes) {
    std::string token = "gho_" + RandomAlnum(36);
    tokens_[token] = Token{std::move(login_key), std::move(scopes), false};
    return token;
  }

  // "http://<Host>" so links work under whatever name the client used; base_url() otherwise.
  std::string Origin(const http::Request& request) const {
    const std::string_view host = request.Header("Host");
    const bool plain = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == ':' || c == '-' ||
             c == '[' || c == ']';
    });
    return plain ? "http://" + std::string(host) : base_url();
  }

  Caller Authenticate(const http::Request& request, bool required) const {
    Caller caller;
    std::string_view header = request.Header("Authorization");
    if (header.empty()) {
      if (required) caller.failure = GithubError(401, "Requires authentication");
      return caller;
    }
    std::string token;
    for (std::string_view scheme : {"bearer ", "token "}) {
      if (Lower(header.substr(0, scheme.size())) == scheme) {
        token = std::string(header.substr(scheme.size()));
      }
    }
    const auto it = tokens_.find(token);
    if (token.empty() || it == tokens_.end() || it->second.revoked) {
      caller.failure = GithubError(401, "Bad credentials");
      return caller;
    }
    caller.login = it->second.login;
    caller.scopes = it->second.scopes;
    return caller;
  }

  // The repository in the path, if `caller` may see it (public, or owned by the caller).
  Repo* VisibleRepo(const http::Request& request, const Caller& caller) {
    const auto it =
        repos_.find(Lower(request.path_params.at("owner") + "/" + request.path_params.at("repo")));
    if (it == repos_.end()) return nullptr;
    if (it->second.is_private && Lower(it->second.owner) != caller.login) return nullptr;
    return &it->second;
  }

  bool IsOwner(const Repo& repo, const Caller& caller) const {
    return !caller.login.empty() && Lower(repo.owner) == caller.login;
  }

  json::object UserJson(const User& user, const std::string& origin) const {
    std::int64_t public_repos = 0;
    for (const auto& [key, repo] : repos_) {
      if (!repo.is_private && Lower(repo.owner) == Lower(user.login)) ++public_repos;
    }
    return json::object{
        {"login", user.login},
        {"id", user.id},
        {"node_id", "MDQ6VXNlcj" + std::to_string(user.id)},
        {"avatar_url", fmt::format("{}/avatars/{}", origin, user.login)},
        {"url", fmt::format("{}/users/{}", origin, user.login)},
        {"html_url", fmt::format("{}/{}", origin, user.login)},
        {"repos_url", fmt::format("{}/users/{}/repos", origin, user.login)},
        {"type", "User"},
        {"site_admin", false},
        {"name", "The " + user.login},
        {"company", nullptr},
        {"blog", ""},
        {"location", nullptr},
        {"email", nullptr},
        {"bio", nullptr},
        {"public_repos", public_repos},
        {"followers", 0},
        {"following", 0},
        {"created_at", Timestamp(kEpoch - 86'400)},
        {"updated_at", Timestamp(kEpoch)},
    };
  }

  json::object RepoJson(const Repo& repo, const std::string& origin, const Caller& caller) const {
    const User& owner = users_.at(Lower(repo.owner));
    const std::string api = fmt::format("{}/repos/{}", origin, repo.FullName());
    const bool admin = IsOwner(repo, caller);
    return json::object{
        {"id", repo.id},
        {"node_id", "MDEwOlJlcG9zaXRvcnk" + std::to_string(repo.id)},
        {"name", repo.name},
        {"full_name", repo.FullName()},
        {"private", repo.is_private},
        {"owner", json::object{{"login", owner.login},
                               {"id", owner.id},
                               {"avatar_url", fmt::format("{}/avatars/{}", origin, owner.login)},
                               {"html_url", fmt::format("{}/{}", origin, owner.login)},
                               {"type", "User"},
                               {"site_admin", false}}},
        {"html_url", fmt::format("{}/{}", origin, repo.FullName())},
        {"description", repo.FilesAt("") == nullptr || repo.FilesAt("")->empty()
                            ? json::value(nullptr)
                            : json::value("Fake repository " + repo.name)},
        {"fork", false},
        {"url", api},
        {"hooks_url", api + "/hooks"},
        {"statuses_url", api + "/statuses/{sha}"},
        {"contents_url", api + "/contents/{+path}"},
        {"clone_url", fmt::format("{}/{}.git", origin, repo.FullName())},
        {"created_at", Timestamp(repo.created_at)},
        {"updated_at", Timestamp(repo.pushed_at)},
        {"pushed_at", Timestamp(repo.pushed_at)},
        {"default_branch", repo.default_branch},
        {"visibility", repo.is_private ? "private" : "public"},
        {"archived", false},
        {"disabled", false},
        {"permissions", json::object{{"admin", admin},
                                     {"maintain", admin},
                                     {"push", admin},
                                     {"triage", admin},
                                     {"pull", true}}},
    };
  }

  json::object HookJson(const FakeHook& hook, const std::string& origin) const {
    const std::string url = fmt::format("{}/repos/{}/hooks/{}", origin, hook.repo, hook.id);
    json::object config{
        {"content_type", hook.content_type}, {"insecure_ssl", "0"}, {"url", hook.url}};
    if (!hook.secret.empty()) config["secret"] = "********";
    json::array events;
    for (const std::string& e : hook.events) events.emplace_back(e);
    return json::object{
        {"type", "Repository"},
        {"id", hook.id},
        {"name", "web"},
        {"active", hook.active},
        {"events", std::move(events)},
        {"config", std::move(config)},
        {"updated_at", Timestamp(kEpoch + 7 * 86'400)},
        {"created_at", Timestamp(kEpoch + 7 * 86'400)},
        {"url", url},
        {"test_url", url + "/test"},
        {"ping_url", url + "/pings"},
        {"deliveries_url", url + "/deliveries"},
        {"last_response",
         json::object{{"code", nullptr}, {"status", "unused"}, {"message", nullptr}}},
    };
  }

  void WriteStateFileLocked() const {
    if (options_.state_file.empty()) return;
    json::array hooks;
    for (const FakeHook& hook : hooks_) {
      json::array events;
      for (const std::string& e : hook.events) events.emplace_back(e);
      hooks.push_back(json::object{{"repo", hook.repo},
                                   {"id", hook.id},
                                   {"url", hook.url},
                                   {"secret", hook.secret},
                                   {"events", std::move(events)},
                                   {"content_type", hook.content_type},
                                   {"active", hook.active}});
    }
    json::array statuses;
    for (const FakeStatus& s : statuses_) {
      statuses.push_back(json::object{{"repo", s.repo},
                                      {"sha", s.sha},
                                      {"state", s.state},
                                      {"target_url", s.target_url},
                                      {"description", s.description},
                                      {"context", s.context}});
    }
    // Readers never see a half-written file: write aside, then rename over.
    const std::string temp = options_.state_file + ".tmp";
    {
      std::ofstream out(temp, std::ios::binary | std::ios::trunc);
      out << json::serialize(
                 json::object{{"hooks", std::move(hooks)}, {"statuses", std::move(statuses)}})
          << "\n";
      if (!out) {
        spdlog::error("fake GitHub: cannot write {}", temp);
        return;
      }
    }
    std::error_code ec;
    std::filesystem::rename(temp, options_.state_file, ec);
    if (ec) spdlog::error("fake GitHub: cannot rename {}: {}", temp, ec.message());
  }

  // GET /login/oauth/authorize: no login page; the OAuth user approves at once.
  http::Response Authorize(http::Request& request) {
    std::lock_guard lock(mu_);
    const std::string client_id = request.QueryParam("client_id").value_or("");
    if (client_id != options_.client_id) {
      return http::Response::Text(404,
                                  "<!DOCTYPE html><html><body><h1>404</h1>Not Found</body>"
                                  "</html>\n",
                                  "text/html; charset=utf-8");
    }
    const std::string redirect_uri = request.QueryParam("redirect_uri").value_or("");
    if (redirect_uri.empty() || redirect_uri.find('#') != std::string::npos) {
      return http::Response::Text(400, "redirect_uri is required by the fake GitHub\n");
    }
    if (oauth_login_.empty()) {
      return http::Response::Text(500, "the fake GitHub has no user to sign in\n");
    }
    std::string code = core::HexEncode(core::RandomBytes(10));
    codes_[code] = Grant{oauth_login_, redirect_uri,
                         NormalizeScopes(request.QueryParam("scope").value_or(""))};
    std::string location = redirect_uri;
    location += redirect_uri.find('?') == std::string::npos ? '?' : '&';
    location += "code=" + code;
    if (std::optional<std::string> state = request.QueryParam("state")) {
      location += "&state=" + UrlEncode(*state);
    }
    http::Response response;
    response.status = 302;
    response.headers.Set("Location", location);
    response.headers.Set("Content-Type", "text/html; charset=utf-8");
    response.body =
        "<html><body>You are being <a href=\"" + location + "\">redirected</a>.</body></html>";
    return response;
  }

  // POST /login/oauth/access_token: parameters as a form, JSON, or in the query string.
  http::Response AccessToken(http::Request& request) {
    std::lock_guard lock(mu_);
    std::map<std::string, std::string> params;
    for (const auto& [k, v] : request.query) params[k] = v;
    if (request.Header("Content-Type").starts_with("application/json")) {
      if (std::optional<json::object> body = JsonBody(request)) {
        for (const auto& [k, v] : *body) {
          if (v.is_string()) params[std::string(k)] = std::string(v.get_string());
        }
      }
    } else {
      for (auto& [k, v] : http::ParseQuery(request.body)) params[k] = v;
    }
    const bool wants_json = request.Header("Accept").find("json") != std::string_view::npos;
    const auto answer = [&](json::object fields) {
      if (wants_json) return GithubJson(200, fields);
      std::string form;
      for (const auto& [k, v] : fields) {
        if (!form.empty()) form += "&";
        form += std::string(k) + "=" +
                UrlEncode(v.is_string() ? std::string_view(v.get_string()) : std::string_view());
      }
      return http::Response::Text(200, form, "application/x-www-form-urlencoded; charset=utf-8");
    };
    const auto error = [&](std::string_view code, std::string_view description,
                           std::string_view anchor) {
      return answer(
          json::object{{"error", code},
                       {"error_description", description},
                       {"error_uri", std::string(kTokenErrorDocs) + std::string(anchor)}});
    };
    if (params["client_id"] != options_.client_id ||
        params["client_secret"] != options_.client_secret) {
      return error("incorrect_client_credentials",
                   "The client_id and/or client_secret passed are incorrect.",
                   "#incorrect-client-credentials");
    }
    const auto grant = codes_.find(params["code"]);
    if (grant == codes_.end()) {
      return error("bad_verification_code", "The code passed is incorrect or expired.",
                   "#bad-verification-code");
    }
    if (!params["redirect_uri"].empty() && params["redirect_uri"] != grant->second.redirect_uri) {
      return error("redirect_uri_mismatch",
                   "The redirect_uri MUST match the registered callback URL for this application.",
                   "#redirect-uri-mismatch2");
    }
    Grant used = std::move(grant->second);
    codes_.erase(grant);  // one use only
    const std::string token = NewTokenLocked(used.login, used.scopes);
    return answer(
        json::object{{"access_token", token}, {"token_type", "bearer"}, {"scope", used.scopes}});
  }

  http::Response CurrentUser(http::Request& request) {
    std::lock_guard lock(mu_);
    Caller caller = Authenticate(request, /*required=*/true);
    if (caller.failure) return *std::move(caller.failure);
    http::Response response = GithubJson(200, UserJson(users_.at(caller.login), Origin(request)));
    response.headers.Set("X-OAuth-Scopes", caller.scopes);
    return response;
  }

  // GET /user/repos: the caller's own repositories (the fake has no collaborators or orgs).
  http::Response ListRepos(http::Request& request) {
    std::lock_guard lock(mu_);
    Caller caller = Authenticate(request, /*required=*/true);
    if (caller.failure) return *std::move(caller.failure);
    const long long per_page = std::clamp(
        ParseInt(request.QueryParam("per_page").value_or("30")).value_or(30), 1LL, 100LL);
    const long long page =
        std::max(ParseInt(request.QueryParam("page").value_or("1")).value_or(1), 1LL);
    const std::string sort = request.QueryParam("sort").value_or("full_name");
    const std::string direction =
        request.QueryParam("direction").value_or(sort == "full_name" ? "asc" : "desc");
    const std::string affiliation =
        request.QueryParam("affiliation").value_or("owner,collaborator,organization_member");
    const std::string visibility = request.QueryParam("visibility").value_or("all");

    std::vector<const Repo*> repos;
    if (affiliation.find("owner") != std::string::npos) {
      for (const auto& [key, repo] : repos_) {
        if (Lower(repo.owner) != caller.login) continue;
        if (visibility == "public" && repo.is_private) continue;
        if (visibility == "private" && !repo.is_private) continue;
        repos.push_back(&repo);
      }
    }
    std::stable_sort(repos.begin(), repos.end(), [&](const Repo* a, const Repo* b) {
      if (sort == "created") return a->created_at < b->created_at;
      if (sort == "pushed" || sort == "updated") return a->pushed_at < b->pushed_at;
      return Lower(a->FullName()) < Lower(b->FullName());
    });
    if (direction == "desc") std::reverse(repos.begin(), repos.end());

    const std::string origin = Origin(request);
    json::array items;
    const long long first = (page - 1) * per_page;
    for (long long i = first; i < first + per_page && i < static_cast<long long>(repos.size());
         ++i) {
      items.push_back(RepoJson(*repos[static_cast<std::size_t>(i)], origin, caller));
    }
    http::Response response = GithubJson(200, items);
    const long long last =
        std::max(1LL, (static_cast<long long>(repos.size()) + per_page - 1) / per_page);
    const auto page_url = [&](long long n) {
      std::string query;
      bool has_page = false;
      for (const auto& [k, v] : request.query) {
        query += query.empty() ? "" : "&";
        if (k == "page") {
          query += "page=" + std::to_string(n);
          has_page = true;
        } else {
          query += UrlEncode(k) + "=" + UrlEncode(v);
        }
      }
      if (!has_page) query += (query.empty() ? "page=" : "&page=") + std::to_string(n);
      return fmt::format("<{}/user/repos?{}>", origin, query);
    };
    std::vector<std::string> links;
    if (page > 1) links.push_back(page_url(page - 1) + "; rel=\"prev\"");
    if (page < last) {
      links.push_back(page_url(page + 1) + "; rel=\"next\"");
      links.push_back(page_url(last) + "; rel=\"last\"");
    }
    if (page > 1) links.push_back(page_url(1) + "; rel=\"first\"");
    std::string link;
    for (const std::string& l : links) link += (link.empty() ? "" : ", ") + l;
    if (!link.empty()) response.headers.Set("Link", link);
    return response;
  }

  http::Response ListHooks(http::Request& request) {
    std::lock_guard lock(mu_);
    Caller caller = Authenticate(request, /*required=*/true);
    if (caller.failure) return *std::move(caller.failure);
    Repo* repo = VisibleRepo(request, caller);
    if (repo == nullptr || !IsOwner(*repo, caller)) return NotFound(kHookDocs);
    json::array items;
    for (const FakeHook& hook : hooks_) {
      if (hook.repo == repo->FullName()) items.push_back(HookJson(hook, Origin(request)));
    }
    return GithubJson(200, items);
  }

  http::Response CreateHook(http::Request& request) {
    std::lock_guard lock(mu_);
    Caller caller = Authenticate(request, /*required=*/true);
    if (caller.failure) return *std::move(caller.failure);
    Repo* repo = VisibleRepo(request, caller);
    // GitHub hides hooks of repositories the caller does not administer behind a 404.
    if (repo == nullptr || !IsOwner(*repo, caller)) return NotFound(kHookDocs);
    std::optional<json::object> body = JsonBody(request);
    if (!body) return GithubError(400, "Problems parsing JSON", kHookDocs);
    if (StringOr(*body, "name", "web") != "web") {
      return ValidationFailed("Hook", "name", "invalid", "", kHookDocs);
    }
    const json::value* config_value = body->if_contains("config");
    if (config_value == nullptr || !config_value->is_object()) {
      return ValidationFailed("Hook", "config", "missing_field", "", kHookDocs);
    }
    const json::object& config = config_value->get_object();
    FakeHook hook;
    hook.repo = repo->FullName();
    hook.url = StringOr(config, "url", "");
    hook.secret = StringOr(config, "secret", "");
    hook.content_type = StringOr(config, "content_type", "form");
    if (hook.url.empty()) {
      return ValidationFailed("Hook", "url", "custom", "url cannot be blank", kHookDocs);
    }
    if (hook.content_type != "json" && hook.content_type != "form") {
      return ValidationFailed("Hook", "content_type", "invalid", "", kHookDocs);
    }
    if (const json::value* events = body->if_contains("events"); events && events->is_array()) {
      for (const json::value& e : events->get_array()) {
        if (e.is_string()) hook.events.emplace_back(e.get_string());
      }
    } else {
      hook.events = {"push"};
    }
    if (const json::value* active = body->if_contains("active"); active && active->is_bool()) {
      hook.active = active->get_bool();
    }
    for (const FakeHook& existing : hooks_) {
      if (existing.repo == hook.repo && existing.url == hook.url) {
        return ValidationFailed("Hook", "", "custom", "Hook already exists on this repository",
                                kHookDocs);
      }
    }
    hook.id = next_hook_id_++;
    hooks_.push_back(hook);
    WriteStateFileLocked();
    http::Response response = GithubJson(201, HookJson(hook, Origin(request)));
    response.headers.Set("Location",
                         fmt::format("{}/repos/{}/hooks/{}", Origin(request), hook.repo, hook.id));
    return response;
  }

  http::Response DeleteHook(http::Request& request) {
    std::lock_guard lock(mu_);
    Caller caller = Authenticate(request, /*required=*/true);
    if (caller.failure) return *std::move(caller.failure);
    Repo* repo = VisibleRepo(request, caller);
    if (repo == nullptr || !IsOwner(*repo, caller)) return NotFound(kHookDocs);
    const std::optional<long long> id = ParseInt(request.path_params.at("hook_id"));
    const auto it = std::find_if(hooks_.begin(), hooks_.end(), [&](const FakeHook& hook) {
      return id && hook.id == *id && hook.repo == repo->FullName();
    });
    if (it == hooks_.end()) return NotFound(kHookDocs);
    hooks_.erase(it);
    WriteStateFileLocked();
    http::Response response;
    response.status = 204;
    return response;
  }

  http::Response CreateStatus(http::Request& request) {
    std::lock_guard lock(mu_);
    Caller caller = Authenticate(request, /*required=*/true);
    if (caller.failure) return *std::move(caller.failure);
    Repo* repo = VisibleRepo(request, caller);
    if (repo == nullptr || !IsOwner(*repo, caller)) return NotFound(kStatusDocs);
    const std::string& sha = request.path_params.at("sha");
    std::optional<json::object> body = JsonBody(request);
    if (!body) return GithubError(400, "Problems parsing JSON", kStatusDocs);
    if ((sha.size() != 40 && sha.size() != 64) || !IsHex(sha)) {
      return GithubError(422, "No commit found for SHA: " + sha, kStatusDocs);
    }
    FakeStatus status;
    status.repo = repo->FullName();
    status.sha = Lower(sha);
    status.state = StringOr(*body, "state", "");
    status.target_url = StringOr(*body, "target_url", "");
    status.description = StringOr(*body, "description", "");
    status.context = StringOr(*body, "context", "default");
    if (status.state != "pending" && status.state != "success" && status.state != "failure" &&
        status.state != "error") {
      return ValidationFailed("Status", "state", "custom", "state is not included in the list",
                              kStatusDocs);
    }
    std::size_t chars = 0;
    for (char c : status.description) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (chars > kMaxStatusDescription) {
      return ValidationFailed("Status", "description", "custom",
                              "description is too long (maximum is 140 characters)", kStatusDocs);
    }
    statuses_.push_back(status);
    const std::int64_t id = next_status_id_++;
    WriteStateFileLocked();
    const std::string origin = Origin(request);
    const User& creator = users_.at(caller.login);
    return GithubJson(
        201, json::object{
                 {"url", fmt::format("{}/repos/{}/statuses/{}", origin, status.repo, status.sha)},
                 {"avatar_url", fmt::format("{}/avatars/{}", origin, creator.login)},
                 {"id", id},
                 {"node_id", "MDY6U3RhdHVz" + std::to_string(id)},
                 {"state", status.state},
                 {"description", status.description},
                 {"target_url", status.target_url.empty() ? json::value(nullptr)
                                                          : json::value(status.target_url)},
                 {"context", status.context},
                 {"created_at", Timestamp(kEpoch + 30 * 86'400 + id)},
                 {"updated_at", Timestamp(kEpoch + 30 * 86'400 + id)},
                 {"creator", UserJson(creator, origin)},
             });
  }

  http::Response GetContents(http::Request& request) {
    std::lock_guard lock(mu_);
    Caller caller = Authenticate(request, /*required=*/false);
    if (caller.failure) return *std::move(caller.failure);
    Repo* repo = VisibleRepo(request, caller);
    if (repo == nullptr) return NotFound(kContentsDocs);
    const std::string ref = request.QueryParam("ref").value_or("");
    const std::map<std::string, std::string>* files = repo->FilesAt(ref);
    if (files == nullptr) {
      return GithubError(404, "No commit found for the ref " + ref, kContentsDocs);
    }
    const std::string& path = request.path_params.at("path");
    const std::string origin = Origin(request);
    const std::string branch = ref.empty() ? repo->default_branch : ref;
    const auto entry = [&](std::string_view entry_path, std::string_view type,
                           std::string_view content) {
      const std::string sha = type == "file" ? GitBlobSha(content) : GitBlobSha(entry_path);
      const std::string self = fmt::format("{}/repos/{}/contents/{}?ref={}", origin,
                                           repo->FullName(), entry_path, UrlEncode(branch));
      const std::string html = fmt::format("{}/{}/{}/{}/{}", origin, repo->FullName(),
                                           type == "file" ? "blob" : "tree", branch, entry_path);
      const std::string git = fmt::format("{}/repos/{}/git/{}/{}", origin, repo->FullName(),
                                          type == "file" ? "blobs" : "trees", sha);
      const std::size_t slash = entry_path.rfind('/');
      return json::object{
          {"type", type},
          {"name", entry_path.substr(slash == std::string_view::npos ? 0 : slash + 1)},
          {"path", entry_path},
          {"sha", sha},
          {"size", type == "file" ? content.size() : 0},
          {"url", self},
          {"html_url", html},
          {"git_url", git},
          {"download_url", type == "file"
                               ? json::value(fmt::format("{}/raw/{}/{}/{}", origin,
                                                         repo->FullName(), branch, entry_path))
                               : json::value(nullptr)},
          {"_links", json::object{{"self", self}, {"git", git}, {"html", html}}},
      };
    };
    if (const auto file = files->find(path); file != files->end()) {
      json::object item = entry(file->first, "file", file->second);
      if (file->second.size() > kMaxInlineFileBytes) {
        item["encoding"] = "none";
        item["content"] = "";
      } else {
        item["encoding"] = "base64";
        item["content"] = Base64Lines(file->second);
      }
      return GithubJson(200, item);
    }
    // A directory: its direct children.
    const std::string prefix = path + "/";
    json::array children;
    std::string last_dir;
    for (const auto& [file_path, content] : *files) {
      if (!file_path.starts_with(prefix)) continue;
      const std::string rest = file_path.substr(prefix.size());
      const std::size_t slash = rest.find('/');
      if (slash == std::string::npos) {
        children.push_back(entry(file_path, "file", content));
      } else if (rest.substr(0, slash) != last_dir) {
        last_dir = rest.substr(0, slash);
        children.push_back(entry(prefix + last_dir, "dir", ""));
      }
    }
    if (children.empty()) return NotFound(kContentsDocs);
    return GithubJson(200, children);
  }

  // Git's smart HTTP protocol, read only: GET info/refs and POST git-upload-pack run
  // git-http-backend as CGI; git-receive-pack is refused.
  http::Response ServeGit(http::Request& request) {
    std::string name = request.path_params.at("repo");
    if (name.ends_with(".git")) name.resize(name.size() - 4);
    const bool advertisement = request.path.ends_with("/info/refs");
    const std::string service = advertisement ? request.QueryParam("service").value_or("")
                                              : request.path.substr(request.path.rfind('/') + 1);
    std::filesystem::path root;
    std::string git_path;
    std::string login;
    {
      std::lock_guard lock(mu_);
      const auto it = repos_.find(Lower(request.path_params.at("owner") + "/" + name));
      if (it == repos_.end()) return http::Response::Text(404, "Repository not found.\n");
      Repo& repo = it->second;
      if (const std::string_view header = request.Header("Authorization"); !header.empty()) {
        const auto token = tokens_.find(BasicToken(header));
        if (token == tokens_.end() || token->second.revoked) {
          return GitUnauthorized(
              "Invalid username or token. Password authentication is not supported for Git "
              "operations.\n");
        }
        login = token->second.login;
      }
      if (repo.is_private && login.empty()) return GitUnauthorized("Authentication required.\n");
      if (repo.is_private && login != Lower(repo.owner)) {
        return http::Response::Text(404, "Repository not found.\n");
      }
      if (service == "git-receive-pack") {
        return http::Response::Text(403, "Write access to repository not granted.\n");
      }
      if (service != "git-upload-pack") {
        return http::Response::Text(403,
                                    "The fake GitHub serves git's smart HTTP protocol only.\n");
      }
      if (Status written = WriteRepoLocked(repo); !written.ok()) {
        spdlog::error("fake GitHub: cannot write {}: {}", repo.FullName(), written.error().message);
        return http::Response::Text(500, "The fake GitHub could not write the repository.\n");
      }
      root = root_;
      git_path = repo.git_path;
    }

    const std::size_t query = request.target.find('?');
    std::vector<std::string> env = GitEnv(root);
    env.insert(
        env.end(),
        {
            "GIT_PROJECT_ROOT=" + (root / "repos").string(),
            "GIT_HTTP_EXPORT_ALL=1",
            "PATH_INFO=/" + git_path + (advertisement ? "/info/refs" : "/git-upload-pack"),
            "REQUEST_METHOD=" + request.method,
            "QUERY_STRING=" +
                (query == std::string::npos ? std::string() : request.target.substr(query + 1)),
            "CONTENT_TYPE=" + std::string(request.Header("Content-Type")),
            "CONTENT_LENGTH=" + std::to_string(request.body.size()),
            "REMOTE_ADDR=" + request.remote_address,
        });
    if (!login.empty()) env.push_back("REMOTE_USER=" + login);
    if (const std::string_view protocol = request.Header("Git-Protocol"); !protocol.empty()) {
      env.push_back("GIT_PROTOCOL=" + std::string(protocol));
    }
    if (const std::string_view encoding = request.Header("Content-Encoding"); !encoding.empty()) {
      env.push_back("HTTP_CONTENT_ENCODING=" + std::string(encoding));
    }
    Result<core::ProcessResult> run = core::RunProcess({.argv = {std::string(kHttpBackend)},
                                                        .env = std::move(env),
                                                        .input = std::move(request.body),
                                                        .timeout = kGitTimeout});
    if (!run.ok()) {
      spdlog::error("fake GitHub: cannot run git-http-backend: {}", run.error().message);
      return http::Response::Text(500, "git-http-backend did not run\n");
    }
    std::optional<http::Response> response =
        run->timed_out ? std::nullopt : http::ParseCgiOutput(run->out);
    if (!response) {
      spdlog::error("fake GitHub: git-http-backend failed (exit {}): {}", run->exit_code, run->err);
      return http::Response::Text(500, "git-http-backend failed\n");
    }
    return *std::move(response);
  }

  const FakeGithubOptions options_;
  http::Router router_;  // built in the constructor, read-only afterwards

  std::mutex lifecycle_mu_;
  std::unique_ptr<http::Server> server_;
  std::atomic<std::uint16_t> port_{0};

  mutable std::mutex mu_;              // everything below
  std::map<std::string, User> users_;  // by lower-case login
  std::string oauth_login_;            // lower-case
  std::map<std::string, Repo> repos_;  // by lower-case "owner/name"
  std::map<std::string, Token> tokens_;
  std::map<std::string, Grant> codes_;
  std::vector<FakeHook> hooks_;
  std::vector<FakeStatus> statuses_;
  std::vector<FakeRequest> requests_;
  std::deque<http::Response> canned_;
  std::int64_t next_user_id_ = 583231;
  std::int64_t next_repo_id_ = 1296269;
  std::int64_t next_hook_id_ = 12345678;
  std::int64_t next_status_id_ = 1;
  std::int64_t last_push_time_ = 0;
  // The temporary directory (created with the first repository, removed with the fake):
  // repos/<owner>/<name>.git are the bare repositories, home/ is git's HOME.
  std::filesystem::path root_;
};

FakeGithub::FakeGithub(FakeGithubOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
FakeGithub::~FakeGithub() { impl_->Stop(); }

Status FakeGithub::Start() { return impl_->Start(); }
void FakeGithub::Stop() { impl_->Stop(); }
void FakeGithub::RunUntilSignal() { impl_->RunUntilSignal(); }
std::uint16_t FakeGithub::port() const { return impl_->port(); }
std::string FakeGithub::base_url() const { return impl_->base_url(); }

std::int64_t FakeGithub::AddUser(std::string_view login) { return impl_->AddUser(login); }
void FakeGithub::SetOAuthUser(std::string_view login) { impl_->SetOAuthUser(login); }
std::int64_t FakeGithub::AddRepo(std::string_view owner_login, std::string_view name,
                                 std::string_view default_branch,
                                 std::map<std::string, std::string> files, bool is_private) {
  return impl_->AddRepo(owner_login, name, default_branch, std::move(files), is_private);
}
std::string FakeGithub::PushCommit(std::string_view owner, std::string_view name,
                                   std::string_view branch,
                                   std::map<std::string, std::string> files,
                                   std::string_view message) {
  return impl_->PushCommit(owner, name, branch, std::move(files), message);
}
std::string FakeGithub::HeadSha(std::string_view owner, std::string_view name,
                                std::string_view branch) const {
  return impl_->HeadSha(owner, name, branch);
}
std::string FakeGithub::IssueToken(std::string_view login) { return impl_->IssueToken(login); }
void FakeGithub::RevokeToken(std::string_view token) { impl_->RevokeToken(token); }
void FakeGithub::AnswerNextRequestsForTest(http::Response response, int count) {
  impl_->AnswerNextRequests(std::move(response), count);
}

std::vector<FakeHook> FakeGithub::Hooks() const { return impl_->Hooks(); }
std::vector<FakeStatus> FakeGithub::Statuses() const { return impl_->Statuses(); }
std::vector<FakeRequest> FakeGithub::Requests() const { return impl_->Requests(); }

}  // namespace replideploy::fake_github
