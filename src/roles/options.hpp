// What the role assemblies are configured with: one struct for every role, filled from the
// command line (src/cli/serve.cpp) or by tests.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "auth/users.hpp"
#include "builder/queue.hpp"
#include "core/net.hpp"
#include "deploys/analytics.hpp"
#include "deploys/deploys.hpp"
#include "domains/domains.hpp"
#include "edge/edge.hpp"
#include "functions/background.hpp"
#include "functions/lambda_runner.hpp"
#include "functions/prewarm.hpp"
#include "functions/runtime.hpp"
#include "git/github_client.hpp"
#include "sandbox/docker_runner.hpp"
#include "sandbox/runner.hpp"
#include "sandbox/volume.hpp"

namespace replideploy::roles {

// Certificates from an ACME CA (docs/certificates.md). Empty acme_directory: none are issued
// (the edge still answers HTTP-01 challenges stored by another process).
struct CertificateSettings {
  std::string acme_directory;  // --acme-directory
  std::string acme_email;      // --acme-email
  std::string acme_ca_bundle;  // --acme-ca-bundle: trusted for the CA's own HTTPS
  // DNS-01 by RFC 2136 + TSIG; all three or none (--dns-update-server/-zone/-tsig).
  std::string dns_update_server;
  std::string dns_update_zone;
  std::string dns_update_tsig;
  // Or DNS-01 through a DNS host's API (--dns-provider acme-dns|cloudflare|route53 and its
  // settings; AWS credentials and the Cloudflare token may come from the environment).
  std::string dns_provider;
  std::string dns_provider_url;
  std::string acme_dns_accounts;
  std::string cloudflare_api_token;
  std::string route53_hosted_zone_id;
  bool base_domain_wildcard = false;  // --acme-base-wildcard: *.<base-domain> by dns-01
  std::string key;                    // 32 bytes encrypting private keys at rest
  std::chrono::milliseconds renew_interval{60 * 60 * 1000};
  // Domains whose DNS check passed (dns_ok), and failed ones whose back-off has come, are
  // looked for this often (--acme-issue-seconds), so that a new domain gets its certificate soon.
  std::chrono::milliseconds issue_interval{5000};
  // Called (on the certs thread) after a certificate was issued or renewed in this process: the
  // HTTPS listener loads its certificates again (cli/serve.cpp).
  std::function<void()> on_changed;
  // On-demand TLS (--tls-on-demand): the certs role decides on the names that handshakes
  // without a certificate noted (roles/on_demand_tls.hpp).
  bool on_demand = false;
  std::string on_demand_ask;  // --tls-on-demand-ask
  int on_demand_per_hour = 20;
};

struct PlatformOptions {
  std::string base_domain = "localhost";
  std::string admin_host;  // an extra control-plane Host name
  auth::UserServiceOptions users;
  deploys::DeployServiceOptions deploys;
  edge::EdgeOptions edge;
  std::chrono::milliseconds processor_interval{5000};
  std::string dashboard_dir;  // the dashboard's exported files; empty: none
  std::string repos_dir;      // the platform's git repositories (<data-dir>/repos)
  std::string builds_dir;     // build workspaces (<data-dir>/builds)
  std::string cache_dir;      // per-site build caches (<data-dir>/cache)
  sandbox::SandboxLimits build_limits;
  // The bubblewrap runner's settings (network policy, ...).
  sandbox::BubblewrapOptions bubblewrap;
  // Per-build workspace volumes (disk quota): images under volumes_dir; "" disables them.
  std::string volumes_dir;
  sandbox::VolumeLimits build_disk;
  std::string env_key;     // 32 bytes encrypting environment variables at rest
  std::string github_key;  // 32 bytes encrypting GitHub tokens, webhook secrets; signing states
  git::GithubOptions github;
  // Builds run at once in this process (0: none; `replideploy worker` processes build).
  int build_workers = 1;
  std::string build_runner = "bubblewrap";  // or "docker"
  // The esbuild binary bundling functions in builds; "": builder::FindEsbuild's search.
  std::string esbuild;
  sandbox::DockerOptions docker;
  builder::QueueOptions queue;
  std::chrono::milliseconds heartbeat_every{5000};
  // Sites following a git URL are checked this often; 0 disables the poller.
  std::chrono::milliseconds git_poll_interval{60'000};
  bool allow_private_git = false;  // git URLs may reach loopback/private addresses (tests)
  // The address users and GitHub reach us at ("https://deploy.example.com"); empty: ControlUrl.
  std::string public_url;
  std::chrono::milliseconds log_stream_poll{500};
  // Functions run in this process's edge when set (<data-dir>/functions: unpacked bundles,
  // sockets); empty: function routes answer 404. root_dir is taken from here.
  std::string functions_dir;
  functions::RuntimeOptions functions;
  // "local" (FunctionRuntime: sandboxed Node.js processes here) or "lambda" (LambdaRunner: AWS
  // Lambda, with `lambda`; its environment, on_log and on_call are set by the edge role).
  std::string functions_runner = "local";
  functions::LambdaOptions lambda;
  // Pre-warming on publish (max_per_deploy 0: off).
  functions::PrewarmOptions functions_prewarm;
  // Background functions and the runs of scheduled functions (docs/functions.md).
  functions::BackgroundOptions background_functions;
  // A scheduled function's run may take this long (Netlify's 30 s).
  std::chrono::milliseconds scheduled_function_timeout{30'000};
  // Reverse proxies whose X-Forwarded-For / Forwarded name the client (--trusted-proxies).
  std::vector<core::Cidr> trusted_proxies;
  CertificateSettings certificates;
  // Custom domains (docs/domains.md): edge addresses for apex records (--edge-ipv4/-ipv6) and
  // back-off; base_domain is taken from above.
  domains::DomainOptions domains;
  std::string dns_resolver;  // "IP[:PORT]" (--dns-resolver); "": the system's resolv.conf
  std::chrono::milliseconds dns_timeout{2000};
  // Pending domains' DNS is rechecked by a loop this often (when due); 0 disables it.
  std::chrono::milliseconds domain_check_interval{15'000};
  // Site analytics (docs/analytics.md): each edge adds what it counted to the database this
  // often (--analytics-flush-seconds), and rolls old periods up every roll-up interval.
  std::chrono::milliseconds analytics_flush_interval{60'000};
  std::chrono::milliseconds analytics_rollup_interval{10 * 60'000};
  deploys::AnalyticsOptions analytics;
};

}  // namespace replideploy::roles
