// A deploy's rules, read from its _redirects, _headers and netlify.toml and compiled once per
// deploy. Immutable after Load; thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "deploys/manifest.hpp"
#include "edge/rules.hpp"
#include "http/message.hpp"
#include "store/blob_store.hpp"

namespace replideploy::edge {

struct RuleDecision {
  enum class Kind {
    kNone,      // no rule applies
    kRedirect,  // 301/302/303/307/308 to `target`
    kRewrite,   // 200: serve the deploy's `target` path
    kProxy,     // 200 to an absolute URL
    kStatus,    // 404/410/451 (or another status): serve `target` with `status`
  };
  Kind kind = Kind::kNone;
  int status = 0;
  std::string target;  // path or URL, placeholders substituted, query string decided
  std::vector<std::pair<std::string, std::string>> proxy_headers;
};

class DeployRules {
 public:
  // Parses the rule files of `manifest`; the rules that do not parse are left out, as Netlify
  // leaves them out, and appended to `skipped` (when not null). kUnprocessable
  // "<file>:<line>: <reason>" only for what fails a whole file (see rules.hpp): a netlify.toml
  // that is not TOML, a file over the size limit.
  static Result<std::shared_ptr<const DeployRules>> Load(
      const deploys::DeployManifest& manifest, store::BlobStore& blobs,
      std::vector<SkippedRule>* skipped = nullptr);

  // The same from the files' contents (nullopt: the deploy has no such file); what Load does
  // once it has read them.
  static Result<std::shared_ptr<const DeployRules>> FromFiles(
      const std::optional<std::string>& redirects_file,
      const std::optional<std::string>& headers_file, const std::optional<std::string>& toml_file,
      std::vector<SkippedRule>* skipped = nullptr);

  // `path` is the normalised request path; `has_static_file` whether a file answers it (a
  // rule that is not forced never shadows an existing file); `roles` the visitor's verified
  // roles. With `trace`, one verdict per redirect rule (RedirectMatcher::Match).
  RuleDecision Match(const http::Request& request, std::string_view path, bool has_static_file,
                     std::span<const std::string> roles = {},
                     std::vector<RedirectVerdict>* trace = nullptr) const;

  // The headers of every matching header rule, in order.
  std::vector<std::pair<std::string, std::string>> HeadersFor(std::string_view path) const;
  // Netlify's `Basic-Auth: user:pass user2:pass2` header rules matching `path`: the
  // credentials ("user:pass") any one of which a request needs. Empty when no rule protects the
  // path; a protecting rule with no well-formed credential yields {""}, which nothing matches
  // (closed, not open). Basic-Auth is never sent as a response header (HeadersFor leaves it out).
  struct BasicAuth {
    std::vector<std::string> credentials;
    std::string source;  // the first protecting rule ("_headers:3")
  };
  BasicAuth BasicAuthFor(std::string_view path) const;

  // The indexes (in header_rules()) of the header rules matching `path`, in order.
  std::vector<std::size_t> MatchingHeaderRules(std::string_view path) const;

  const std::vector<RedirectRule>& redirect_rules() const;
  const std::vector<HeaderRule>& header_rules() const;

  bool empty() const;

  ~DeployRules();
  DeployRules();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace replideploy::edge
