// Settings of `replideploy serve` and `replideploy migrate`.
//
// Each setting has one name used three ways: a flag (--data-dir), an environment variable
// (REPLIDEPLOY_DATA_DIR) and a key of the optional TOML config file (data-dir = "..."). A flag
// beats the environment, which beats the file, which beats the default. Loading lives here;
// the command-line parser (cli/) registers flags from the same table.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.hpp"

namespace replideploy::core {

struct ServeConfig {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./data";
  std::string database;  // empty: sqlite://<data_dir>/replideploy.db
  std::string base_domain = "localhost";
  std::string admin_host;  // an extra Host name the control plane answers on
  std::string secret_key;  // 64 hex chars; empty: <data_dir>/secret.key, made on first start
  std::string log_level = "info";
  std::string log_format = "text";  // "text" or "json" (one object per line)
  // Prometheus /metrics, /healthz and /readyz on a listener of their own, HOST:PORT; empty:
  // none. Keep it on loopback or a private network: sites' visitors must not reach it.
  std::string metrics_listen;
  std::string dashboard_dir;  // empty: <binary>/../../dashboard/out when it exists
  int jwt_ttl_hours = 24;
  std::string registration = "open";  // "open", "invite" (an admin's invite code) or "closed"
  // Comma-separated CIDRs of reverse proxies whose X-Forwarded-For / Forwarded name the client.
  std::string trusted_proxies;
  // Custom domains: the edge's public addresses for apex A/AAAA records (comma-separated), and
  // the DNS resolver the domain check asks ("IP[:PORT]"; empty: /etc/resolv.conf).
  std::string edge_ipv4;
  std::string edge_ipv6;
  std::string dns_resolver;
  int io_threads = 2;
  int handler_threads = 8;  // API handlers
  int edge_threads = 8;     // sites' requests that miss the in-memory path
  int slow_threads = 8;     // work that waits on the outside world: git, GitHub, proxy rules
  int max_connections = 4096;
  int max_connections_per_client = 256;  // by socket peer; trusted proxies are exempt
  int header_timeout_seconds = 15;
  int idle_timeout_seconds = 75;
  int shutdown_grace_seconds = 10;
  // How long an edge answers a site's live deploy from memory without asking the database;
  // changes told by events (in-process, or PostgreSQL's NOTIFY) are seen at once regardless.
  int site_cache_ttl_seconds = 1;
  // How often an edge adds its site analytics counts to the database (0: never).
  int analytics_flush_seconds = 60;
  // Builds.
  int build_workers = 1;  // builds at once in `serve` (0: leave them to `replideploy worker`)
  std::string build_runner = "bubblewrap";  // or "docker"
  std::string docker_image = "node:18-bullseye";
  std::string esbuild;  // "": tools/esbuild of the source checkout (builder::FindEsbuild)
  int build_timeout_minutes = 15;
  int build_memory_mb = 2048;
  int build_disk_mb = 10240;             // the workspace's disk quota (a volume of its own)
  int build_cpu_percent = 0;             // CPU share, 100 = one core; 0: no limit
  std::string build_network = "public";  // "public" (public internet only) or "none"
  std::string build_network_allow;       // CIDRs reachable although private (a registry mirror)
  std::string build_network_deny;        // CIDRs unreachable although public
  // Function processes: "public" (the build policy's public internet, allow and deny lists
  // included) or "none".
  std::string functions_network = "public";
  // Where functions run: "local" (sandboxed Node.js processes on the edge) or "lambda" (AWS
  // Lambda; docs/functions.md "AWS Lambda runner").
  std::string functions_runner = "local";
  std::string lambda_region;    // empty: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1
  std::string lambda_endpoint;  // empty: https://lambda.<region>.amazonaws.com
  std::string lambda_role_arn;  // the functions' execution role (required with lambda)
  std::string lambda_function_prefix = "replideploy";
  // Processes started per function of a newly published deploy (the first N functions by name);
  // 0: none, each function starts on its first call.
  int functions_prewarm = 8;
  int build_lease_seconds = 60;
  int git_poll_seconds = 60;       // how often sites following a git URL are checked
  int git_allow_private_urls = 0;  // 1: git URLs may reach loopback/private hosts
  // The address users and GitHub reach the server at (webhooks, OAuth callback, statuses);
  // empty: http://<admin-host or localhost>:<port>.
  std::string public_url;
  // GitHub (or GitHub Enterprise) OAuth app.
  std::string github_client_id;
  std::string github_client_secret;
  std::string github_web_url = "https://github.com";
  std::string github_api_url = "https://api.github.com";
  // Certificates from an ACME CA (docs/certificates.md); empty acme_directory: none.
  std::string acme_directory;
  std::string acme_email;
  std::string acme_ca_bundle;
  int acme_base_wildcard = 0;
  std::string dns_update_server;  // "IP:PORT", RFC 2136 target for DNS-01
  std::string dns_update_zone;
  std::string dns_update_tsig;  // "name:hmac-sha256:base64secret"
  // DNS-01 through a DNS host's API instead (domains/dns_providers.hpp): acme-dns, cloudflare,
  // route53 ("" or rfc2136: the --dns-update-* server).
  std::string dns_provider;
  std::string dns_provider_url;        // the API's base URL (acme-dns: required)
  std::string acme_dns_accounts;       // acme-dns accounts file (lego's JSON format)
  std::string cloudflare_api_token;    // empty: CLOUDFLARE_API_TOKEN / CF_DNS_API_TOKEN
  std::string route53_hosted_zone_id;  // empty: found by name
  // Blobs: "local" (<data_dir>/store) or "s3://bucket/prefix" (docs/storage.md).
  std::string blob_store = "local";
  std::string s3_endpoint;       // empty: https://s3.<region>.amazonaws.com
  std::string s3_region;         // empty: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1
  int s3_path_style = 0;         // 1: <endpoint>/<bucket>/<key> (MinIO, most self-hosted servers)
  std::string s3_access_key_id;  // empty: AWS_ACCESS_KEY_ID
  std::string s3_secret_access_key;  // empty: AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN too)
  std::string blob_cache_dir;        // empty: <data_dir>/blob-cache
  int blob_cache_mb = 1024;          // the local disk cache of an S3 store
  // HTTPS (docs/tls.md): a second listener, HOST:PORT; empty: none.
  std::string listen_tls;
  std::string tls_cert;          // comma-separated PEM chain files, paired with tls_key in order
  std::string tls_key;           // comma-separated PEM key files
  std::string tls_dir;           // comma-separated directories of NAME.crt + NAME.key
  std::string tls_default_name;  // the certificate for clients without (or with an unknown) SNI
  int tls_reload_seconds = 60;   // how often certificates are loaded again (0: at start only)
  int tls_ticket_rotation_seconds = 3600;
  int http2 = 1;  // offer HTTP/2 by ALPN on the HTTPS listener
  // On-demand certificates (docs/tls.md): handshakes for names without one ask for one.
  int tls_on_demand = 0;
  std::string tls_on_demand_ask;    // URL asked ?domain=NAME for names not of a site
  int tls_on_demand_per_hour = 20;  // certificates asked of the CA on demand per hour
};

struct ConfigOption {
  std::string name;  // "data-dir"
  std::string help;
  std::variant<std::string*, int*> target;
};

// The table of settings, pointing into `config`.
std::vector<ConfigOption> ConfigOptions(ServeConfig& config);

// "REPLIDEPLOY_DATA_DIR" for "data-dir".
std::string EnvName(std::string_view option_name);

// Applies the keys of the TOML file at `path` to `config`, skipping those for which
// `given(name)` is true (already set by a flag or the environment). Fails with one line naming
// the file and the problem: unreadable, a syntax error (with line), an unknown key, a wrong type.
Status ApplyConfigFile(const std::string& path, ServeConfig& config,
                       const std::function<bool(std::string_view name)>& given);

struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
};
// "127.0.0.1:8080", "[::1]:8080", "localhost:0". Fails on a missing or out-of-range port.
Result<ListenAddress> ParseListenAddress(std::string_view text);

// Creates the data dir if needed and checks it is writable. One-line error otherwise. Makes it
// private: the folder 0700, secret.key and the SQLite files 0600.
Status PrepareDataDir(const std::string& dir);

// The database URL the config names (the default derives from the data dir).
std::string DatabaseUrl(const ServeConfig& config);

// The 32-byte server secret: from config.secret_key (hex), else read from
// <data_dir>/secret.key, else generated there with mode 0600.
Result<std::string> LoadOrCreateSecretKey(const ServeConfig& config);

// Checks values the types cannot (ranges, the secret's format, the log level name).
Status ValidateConfig(const ServeConfig& config);

}  // namespace replideploy::core
