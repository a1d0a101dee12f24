#include "core/config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/crypto.hpp"

namespace replideploy::core {

namespace fs = std::filesystem;

std::vector<ConfigOption> ConfigOptions(ServeConfig& c) {
  return {
      {"listen", "address to listen on, HOST:PORT (port 0 picks a free one)", &c.listen},
      {"data-dir", "directory for the SQLite database, blobs and the secret key", &c.data_dir},
      {"database", "database URL: sqlite://PATH or postgres://... (default: SQLite in data-dir)",
       &c.database},
      {"base-domain", "sites are served at <name>.<base-domain>", &c.base_domain},
      {"admin-host", "an extra Host name the API and dashboard answer on", &c.admin_host},
      {"secret-key", "64 hex chars for JWTs and encryption at rest (default: data-dir/secret.key)",
       &c.secret_key},
      {"log-level", "trace, debug, info, warn, error or off", &c.log_level},
      {"log-format", "text, or json: one object per line (ts, level, msg, role)", &c.log_format},
      {"metrics-listen",
       "HOST:PORT of a separate listener for /metrics (Prometheus), /healthz and /readyz; empty: "
       "none. Keep it private",
       &c.metrics_listen},
      {"dashboard-dir", "the dashboard's exported files (default: dashboard/out of the checkout)",
       &c.dashboard_dir},
      {"jwt-ttl-hours", "lifetime of login tokens in hours", &c.jwt_ttl_hours},
      {"registration",
       "who may register: open, invite (with an invite code from the admin) or closed; the "
       "first account (the admin) always may",
       &c.registration},
      {"trusted-proxies",
       "comma-separated CIDRs of reverse proxies whose X-Forwarded-For/Forwarded name the client",
       &c.trusted_proxies},
      {"edge-ipv4",
       "comma-separated public IPv4 addresses of the edge: the A records custom apex domains "
       "need",
       &c.edge_ipv4},
      {"edge-ipv6", "comma-separated public IPv6 addresses of the edge (AAAA records)",
       &c.edge_ipv6},
      {"dns-resolver",
       "the DNS resolver custom domains are checked through, IP[:PORT] (default: resolv.conf)",
       &c.dns_resolver},
      {"io-threads", "threads serving network I/O", &c.io_threads},
      {"handler-threads", "threads running API handlers (database work)", &c.handler_threads},
      {"edge-threads", "threads serving sites' requests that are not answered from memory",
       &c.edge_threads},
      {"slow-threads",
       "threads for requests that wait on other servers (git at site creation, GitHub, proxy "
       "rules), apart from the API's and the edge's",
       &c.slow_threads},
      {"max-connections",
       "connections open at once; one more is answered 503 (Retry-After) and closed",
       &c.max_connections},
      {"max-connections-per-client",
       "connections open at once from one address (the socket's peer; trusted proxies count "
       "only in max-connections); one more is answered 429 and closed",
       &c.max_connections_per_client},
      {"header-timeout-seconds",
       "time a client has to send a request's head (slow senders get 408 and are closed)",
       &c.header_timeout_seconds},
      {"idle-timeout-seconds", "how long an idle keep-alive connection is kept open",
       &c.idle_timeout_seconds},
      {"shutdown-grace-seconds", "how long SIGTERM waits for in-flight requests",
       &c.shutdown_grace_seconds},
      {"site-cache-ttl-seconds",
       "how long an edge serves a site's live deploy from memory without asking the database "
       "(change events are applied at once regardless)",
       &c.site_cache_ttl_seconds},
      {"analytics-flush-seconds",
       "how often an edge adds the site analytics it counted to the database (0: never)",
       &c.analytics_flush_seconds},
      {"build-workers", "builds run at once by this process (0: only `replideploy worker`s)",
       &c.build_workers},
      {"build-runner", "where builds run: bubblewrap or docker", &c.build_runner},
      {"docker-image", "the image builds run in with --build-runner docker", &c.docker_image},
      {"esbuild",
       "the esbuild binary that bundles functions in builds (default: "
       "tools/esbuild/node_modules/@esbuild/linux-x64/bin/esbuild above the program)",
       &c.esbuild},
      {"build-timeout-minutes", "wall-time limit of a build", &c.build_timeout_minutes},
      {"build-memory-mb", "memory limit of a build", &c.build_memory_mb},
      {"build-disk-mb", "disk quota of a build's workspace", &c.build_disk_mb},
      {"build-cpu-percent", "CPU share of a build (100 = one core; 0: no limit)",
       &c.build_cpu_percent},
      {"build-network",
       "public: builds reach the public internet only (never this host, private or link-local "
       "addresses); none: no network",
       &c.build_network},
      {"build-network-allow",
       "comma-separated CIDRs builds may reach although private (e.g. a registry mirror)",
       &c.build_network_allow},
      {"build-network-deny", "comma-separated CIDRs builds may not reach although public",
       &c.build_network_deny},
      {"functions-network",
       "public: function processes reach the public internet only, as builds do (the same "
       "build-network-allow and -deny); none: no network",
       &c.functions_network},
      {"functions-runner",
       "local: functions run in sandboxed Node.js processes here; lambda: on AWS Lambda "
       "(credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)",
       &c.functions_runner},
      {"lambda-region", "the Lambda functions' region (default: AWS_REGION, else us-east-1)",
       &c.lambda_region},
      {"lambda-endpoint", "the Lambda API's URL (default: https://lambda.<region>.amazonaws.com)",
       &c.lambda_endpoint},
      {"lambda-role-arn", "the execution role of the Lambda functions (required with lambda)",
       &c.lambda_role_arn},
      {"lambda-function-prefix", "the names of the Lambda functions start with this",
       &c.lambda_function_prefix},
      {"functions-prewarm",
       "at a publish, start a process for each of the first N functions of the new deploy (0: off)",
       &c.functions_prewarm},
      {"build-lease-seconds", "a build whose worker is silent this long is retried",
       &c.build_lease_seconds},
      {"git-poll-seconds", "how often sites following a git URL are checked for new commits",
       &c.git_poll_seconds},
      {"git-allow-private-urls", "1: git URLs may point at loopback or private addresses",
       &c.git_allow_private_urls},
      {"public-url", "the URL users and GitHub reach this server at (webhooks, OAuth)",
       &c.public_url},
      {"github-client-id", "GitHub OAuth app client id", &c.github_client_id},
      {"github-client-secret", "GitHub OAuth app client secret", &c.github_client_secret},
      {"github-web-url", "GitHub's web address (GitHub Enterprise: https://HOST)",
       &c.github_web_url},
      {"github-api-url", "GitHub's API address (GitHub Enterprise: https://HOST/api/v3)",
       &c.github_api_url},
      {"acme-directory",
       "ACME directory URL to get certificates from (e.g. Let's Encrypt's); empty: none",
       &c.acme_directory},
      {"acme-email", "contact address of the ACME account", &c.acme_email},
      {"acme-ca-bundle", "PEM file trusted for the ACME server's own HTTPS (default: the system's)",
       &c.acme_ca_bundle},
      {"acme-base-wildcard", "1: keep a *.<base-domain> certificate, by DNS-01",
       &c.acme_base_wildcard},
      {"dns-update-server", "RFC 2136 server for DNS-01 challenges, IP:PORT", &c.dns_update_server},
      {"dns-update-zone", "the zone DNS-01 records are added to", &c.dns_update_zone},
      {"dns-update-tsig", "TSIG key for DNS updates, name:hmac-sha256:base64secret",
       &c.dns_update_tsig},
      {"dns-provider",
       "DNS-01 through a DNS host's API: acme-dns, cloudflare or route53 (default: rfc2136, the "
       "--dns-update-server)",
       &c.dns_provider},
      {"dns-provider-url",
       "the DNS API's base URL (acme-dns: required; others: the provider's public API)",
       &c.dns_provider_url},
      {"acme-dns-accounts",
       "acme-dns accounts, a JSON file {name: {username, password, "
       "subdomain, fulldomain}}",
       &c.acme_dns_accounts},
      {"cloudflare-api-token",
       "Cloudflare API token with Zone.DNS edit (default: CLOUDFLARE_API_TOKEN)",
       &c.cloudflare_api_token},
      {"route53-hosted-zone-id",
       "Route 53 hosted zone of the DNS-01 names (default: found by name; credentials from "
       "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)",
       &c.route53_hosted_zone_id},
      {"blob-store",
       "where blobs live: local (data-dir/store) or s3://BUCKET/PREFIX (an S3-compatible "
       "bucket)",
       &c.blob_store},
      {"s3-endpoint",
       "the S3 endpoint URL, e.g. http://127.0.0.1:9000 for MinIO (default: AWS for the region)",
       &c.s3_endpoint},
      {"s3-region", "the bucket's region (default: AWS_REGION, else us-east-1)", &c.s3_region},
      {"s3-path-style", "1: path-style URLs (endpoint/bucket/key), as MinIO wants",
       &c.s3_path_style},
      {"s3-access-key-id", "S3 access key id (default: AWS_ACCESS_KEY_ID)", &c.s3_access_key_id},
      {"s3-secret-access-key", "S3 secret access key (default: AWS_SECRET_ACCESS_KEY)",
       &c.s3_secret_access_key},
      {"blob-cache-dir", "local disk cache of an S3 blob store (default: data-dir/blob-cache)",
       &c.blob_cache_dir},
      {"blob-cache-mb", "size cap of that cache; least recently used blobs go first",
       &c.blob_cache_mb},
      {"listen-tls", "HTTPS listener address, HOST:PORT (empty: no HTTPS)", &c.listen_tls},
      {"tls-cert", "comma-separated certificate chain files (PEM), paired in order with tls-key",
       &c.tls_cert},
      {"tls-key", "comma-separated private key files (PEM)", &c.tls_key},
      {"tls-dir", "comma-separated directories of NAME.crt (or .pem) beside NAME.key", &c.tls_dir},
      {"tls-default-name",
       "host name whose certificate answers clients without SNI or with an unknown name",
       &c.tls_default_name},
      {"tls-reload-seconds", "how often certificates are loaded again (0: only at start)",
       &c.tls_reload_seconds},
      {"tls-ticket-rotation-seconds", "how often the TLS session ticket key is replaced",
       &c.tls_ticket_rotation_seconds},
      {"http2", "1: offer HTTP/2 (ALPN h2) on the HTTPS listener; 0: HTTP/1.1 only", &c.http2},
      {"tls-on-demand",
       "1: a handshake for a name without a certificate asks for one (custom domains and site "
       "hosts; others per tls-on-demand-ask)",
       &c.tls_on_demand},
      {"tls-on-demand-ask",
       "URL asked GET ?domain=NAME before a certificate is issued on demand for a name that is "
       "not a site's; 2xx allows",
       &c.tls_on_demand_ask},
      {"tls-on-demand-per-hour", "certificates asked of the CA on demand per hour, at most",
       &c.tls_on_demand_per_hour},
  };
}

std::string EnvName(std::string_view option_name) {
  std::string out = "REPLIDEPLOY_";
  for (char ch : option_name) {
    out.push_back(ch == '-' ? '_'
                            : static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  }
  return out;
}

Status ApplyConfigFile(const std::string& path, ServeConfig& config,
                       const std::function<bool(std::string_view name)>& given) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "config file " << path;
    if (e.source().begin.line > 0) msg << " line " << e.source().begin.line;
    msg << ": " << e.description();
    return MakeError(ErrorCode::kBadRequest, msg.str());
  }
  auto options = ConfigOptions(config);
  for (auto&& [key, node] : table) {
    const std::string name(key.str());
    auto it = std::find_if(options.begin(), options.end(),
                           [&](const ConfigOption& o) { return o.name == name; });
    if (it == options.end()) {
      return MakeError(ErrorCode::kBadRequest,
                       "config file " + path + ": unknown key '" + name + "'");
    }
    if (given(name)) continue;
    if (auto* s = std::get_if<std::string*>(&it->target)) {
      auto v = node.value<std::string>();
      if (!v || !node.is_string()) {
        return MakeError(ErrorCode::kBadRequest,
                         "config file " + path + ": key '" + name + "' must be a string");
      }
      **s = *v;
    } else {
      auto v = node.value<std::int64_t>();
      if (!v || !node.is_integer() || *v < INT32_MIN || *v > INT32_MAX) {
        return MakeError(ErrorCode::kBadRequest,
                         "config file " + path + ": key '" + name + "' must be an integer");
      }
      *std::get<int*>(it->target) = static_cast<int>(*v);
    }
  }
  return {};
}

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorCode::kBadRequest,
                     "invalid listen address '" + std::string(text) + "': " + std::string(why));
  };
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("expected [IPv6]:PORT");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("expected HOST:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty()) return bad("missing host");
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535) {
    return bad("port must be a number from 0 to 65535");
  }
  return ListenAddress{std::string(host), static_cast<std::uint16_t>(value)};
}

Status PrepareDataDir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return MakeError(ErrorCode::kBadRequest, "cannot create data dir " + dir + ": " + ec.message());
  if (!fs::is_directory(dir, ec)) {
    return MakeError(ErrorCode::kBadRequest, "data dir " + dir + " is not a directory");
  }
  // access(W_OK) is wrong for root on read-only mounts; try the real thing.
  const std::string probe = dir + "/.write-test-" + HexEncode(RandomBytes(4));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return MakeError(ErrorCode::kBadRequest,
                     "data dir " + dir + " is not writable: " + std::strerror(errno));
  }
  ::close(fd);
  ::unlink(probe.c_str());
  // Ours alone: the folder 0700 (the build worker adds the search bit for the sandbox's user,
  // never read), the key and the SQLite files 0600 (a new database is made 0600 by db/).
  const auto mode = fs::status(dir, ec).permissions();
  if (!ec && (mode & (fs::perms::group_all | fs::perms::others_all)) != fs::perms::none) {
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  for (const char* name : {"secret.key", "replideploy.db", "replideploy.db-wal",
                           "replideploy.db-shm", "replideploy.db-journal"}) {
    const std::string path = dir + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) {
      ::chmod(path.c_str(), 0600);
    }
  }
  return {};
}

std::string DatabaseUrl(const ServeConfig& config) {
  if (!config.database.empty()) return config.database;
  std::error_code ec;
  fs::path abs = fs::absolute(config.data_dir, ec);
  if (ec) abs = config.data_dir;
  return "sqlite://" + (abs.lexically_normal() / "replideploy.db").string();
}

namespace {
constexpr std::size_t kSecretBytes = 32;

Result<std::string> DecodeSecret(std::string_view hex, std::string_view origin) {
  auto raw = HexDecode(hex);
  if (!raw.ok() || raw->size() != kSecretBytes) {
    return MakeError(ErrorCode::kBadRequest,
                     std::string(origin) + " must be 64 hex characters (32 bytes)");
  }
  return std::move(raw).value();
}
}  // namespace

Result<std::string> LoadOrCreateSecretKey(const ServeConfig& config) {
  if (!config.secret_key.empty()) return DecodeSecret(config.secret_key, "secret-key");
  const std::string path = (fs::path(config.data_dir) / "secret.key").string();
  std::ifstream in(path);
  if (in) {
    std::string text;
    std::getline(in, text);
    return DecodeSecret(text, path);
  }
  // O_EXCL: two processes starting at once must not overwrite each other's key.
  const std::string hex = HexEncode(RandomBytes(kSecretBytes));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return LoadOrCreateSecretKey(config);
    return MakeError(ErrorCode::kBadRequest, "cannot create " + path + ": " + std::strerror(errno));
  }
  const std::string line = hex + "\n";
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  if (!written) {
    ::unlink(path.c_str());
    return MakeError(ErrorCode::kBadRequest, "cannot write " + path + ": " + std::strerror(errno));
  }
  return DecodeSecret(hex, path);
}

Status ValidateConfig(const ServeConfig& config) {
  auto range = [](std::string_view name, int value, int lo, int hi) -> Status {
    if (value < lo || value > hi) {
      return MakeError(ErrorCode::kBadRequest, std::string(name) + " must be between " +
                                                   std::to_string(lo) + " and " +
                                                   std::to_string(hi));
    }
    return {};
  };
  RD_TRY_STATUS(ParseListenAddress(config.listen));
  if (!config.metrics_listen.empty()) RD_TRY_STATUS(ParseListenAddress(config.metrics_listen));
  if (config.log_format != "text" && config.log_format != "json") {
    return MakeError(ErrorCode::kBadRequest, "log-format must be text or json");
  }
  RD_TRY_STATUS(range("jwt-ttl-hours", config.jwt_ttl_hours, 1, 24 * 365));
  RD_TRY_STATUS(range("io-threads", config.io_threads, 1, 256));
  RD_TRY_STATUS(range("functions-prewarm", config.functions_prewarm, 0, 64));
  RD_TRY_STATUS(range("handler-threads", config.handler_threads, 1, 1024));
  RD_TRY_STATUS(range("edge-threads", config.edge_threads, 1, 1024));
  RD_TRY_STATUS(range("slow-threads", config.slow_threads, 1, 1024));
  RD_TRY_STATUS(range("max-connections", config.max_connections, 1, 1'000'000));
  RD_TRY_STATUS(
      range("max-connections-per-client", config.max_connections_per_client, 1, 1'000'000));
  RD_TRY_STATUS(range("header-timeout-seconds", config.header_timeout_seconds, 1, 3600));
  RD_TRY_STATUS(range("idle-timeout-seconds", config.idle_timeout_seconds, 1, 24 * 3600));
  RD_TRY_STATUS(range("shutdown-grace-seconds", config.shutdown_grace_seconds, 0, 3600));
  RD_TRY_STATUS(range("site-cache-ttl-seconds", config.site_cache_ttl_seconds, 0, 24 * 3600));
  RD_TRY_STATUS(range("analytics-flush-seconds", config.analytics_flush_seconds, 0, 3600));
  RD_TRY_STATUS(range("build-workers", config.build_workers, 0, 64));
  RD_TRY_STATUS(range("build-timeout-minutes", config.build_timeout_minutes, 1, 24 * 60));
  RD_TRY_STATUS(range("build-memory-mb", config.build_memory_mb, 64, 1024 * 1024));
  RD_TRY_STATUS(range("build-disk-mb", config.build_disk_mb, 64, 16 * 1024 * 1024));
  RD_TRY_STATUS(range("build-cpu-percent", config.build_cpu_percent, 0, 100 * 1024));
  if (config.build_network != "public" && config.build_network != "none") {
    return MakeError(ErrorCode::kBadRequest, "build-network must be public or none");
  }
  if (config.functions_network != "public" && config.functions_network != "none") {
    return MakeError(ErrorCode::kBadRequest, "functions-network must be public or none");
  }
  if (config.functions_runner != "local" && config.functions_runner != "lambda") {
    return MakeError(ErrorCode::kBadRequest, "functions-runner must be local or lambda");
  }
  if (config.functions_runner == "lambda" && config.lambda_role_arn.empty()) {
    return MakeError(ErrorCode::kBadRequest,
                     "functions-runner lambda needs lambda-role-arn (the functions' execution "
                     "role)");
  }
  RD_TRY_STATUS(range("build-lease-seconds", config.build_lease_seconds, 2, 3600));
  RD_TRY_STATUS(range("git-poll-seconds", config.git_poll_seconds, 1, 24 * 3600));
  RD_TRY_STATUS(range("git-allow-private-urls", config.git_allow_private_urls, 0, 1));
  if (config.registration != "open" && config.registration != "invite" &&
      config.registration != "closed") {
    return MakeError(ErrorCode::kBadRequest, "registration must be open, invite or closed");
  }
  if (config.build_runner != "bubblewrap" && config.build_runner != "docker") {
    return MakeError(ErrorCode::kBadRequest, "build-runner must be bubblewrap or docker");
  }
  if (config.base_domain.empty()) return MakeError(ErrorCode::kBadRequest, "base-domain is empty");
  if (config.blob_store != "local" &&
      (!config.blob_store.starts_with("s3://") || config.blob_store.size() <= 5 ||
       config.blob_store[5] == '/')) {
    return MakeError(ErrorCode::kBadRequest, "blob-store must be local or s3://BUCKET/PREFIX");
  }
  RD_TRY_STATUS(range("s3-path-style", config.s3_path_style, 0, 1));
  RD_TRY_STATUS(range("blob-cache-mb", config.blob_cache_mb, 1, 1024 * 1024 * 1024));
  if (!config.listen_tls.empty()) {
    RD_TRY_STATUS(ParseListenAddress(config.listen_tls));
    if (config.tls_cert.empty() && config.tls_dir.empty() && config.acme_directory.empty()) {
      return MakeError(ErrorCode::kBadRequest, "listen-tls needs tls-cert and tls-key, or tls-dir");
    }
  }
  if (std::count(config.tls_cert.begin(), config.tls_cert.end(), ',') !=
          std::count(config.tls_key.begin(), config.tls_key.end(), ',') ||
      config.tls_cert.empty() != config.tls_key.empty()) {
    return MakeError(ErrorCode::kBadRequest, "tls-cert and tls-key must name as many files");
  }
  RD_TRY_STATUS(range("tls-reload-seconds", config.tls_reload_seconds, 0, 24 * 3600));
  RD_TRY_STATUS(
      range("tls-ticket-rotation-seconds", config.tls_ticket_rotation_seconds, 0, 7 * 24 * 3600));
  RD_TRY_STATUS(range("http2", config.http2, 0, 1));
  RD_TRY_STATUS(range("tls-on-demand", config.tls_on_demand, 0, 1));
  RD_TRY_STATUS(range("tls-on-demand-per-hour", config.tls_on_demand_per_hour, 1, 10000));
  if (!config.tls_on_demand_ask.empty()) {
    if (!config.tls_on_demand_ask.starts_with("http://") &&
        !config.tls_on_demand_ask.starts_with("https://")) {
      return MakeError(ErrorCode::kBadRequest,
                       "tls-on-demand-ask must start with http:// or https://");
    }
    if (config.tls_on_demand == 0) {
      return MakeError(ErrorCode::kBadRequest, "tls-on-demand-ask needs tls-on-demand = 1");
    }
  }
  if (!config.s3_endpoint.empty() && !config.s3_endpoint.starts_with("http://") &&
      !config.s3_endpoint.starts_with("https://")) {
    return MakeError(ErrorCode::kBadRequest, "s3-endpoint must start with http:// or https://");
  }
  if (!config.public_url.empty() && !config.public_url.starts_with("http://") &&
      !config.public_url.starts_with("https://")) {
    return MakeError(ErrorCode::kBadRequest, "public-url must start with http:// or https://");
  }
  if (config.github_client_id.empty() != config.github_client_secret.empty()) {
    return MakeError(ErrorCode::kBadRequest,
                     "github-client-id and github-client-secret must be set together");
  }
  if (!config.secret_key.empty()) RD_TRY_STATUS(DecodeSecret(config.secret_key, "secret-key"));
  return {};
}

}  // namespace replideploy::core
