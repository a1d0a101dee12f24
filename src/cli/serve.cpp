#include "cli/serve.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>

#include "cli/ops_server.hpp"
#include "core/clock.hpp"
#include "core/crypto.hpp"
#include "core/log.hpp"
#include "db/database.hpp"
#include "db/migrate.hpp"
#include "domains/dns_resolver.hpp"
#include "domains/dns_update.hpp"
#include "domains/domains.hpp"
#include "functions/lambda_runner.hpp"
#include "http/client_address.hpp"
#include "http/server.hpp"
#include "http/tls.hpp"
#include "roles/on_demand_tls.hpp"
#include "roles/roles.hpp"
#include "roles/tls_ticket_keys.hpp"
#include "sandbox/egress.hpp"
#include "store/blob_store.hpp"
#include "store/s3_blob_store.hpp"

namespace replideploy::cli {

namespace {

int Fail(std::string_view message) {
  fmt::print(stderr, "replideploy: {}\n", message);
  return 1;
}

// Logging, data dir, database, migrations: what both commands need. Null on failure (printed).
std::unique_ptr<db::Database> OpenAndMigrate(const core::ServeConfig& config,
                                             std::string_view role) {
  if (Status st = core::InitLogging(config.log_level, config.log_format, role); !st.ok()) {
    Fail(st.error().message);
    return nullptr;
  }
  if (Status st = core::PrepareDataDir(config.data_dir); !st.ok()) {
    Fail(st.error().message);
    return nullptr;
  }
  db::OpenOptions open_options;
  // Every handler pool may want a connection at once.
  open_options.pool_size = config.handler_threads + config.edge_threads + config.slow_threads;
  auto db = db::Open(core::DatabaseUrl(config), open_options);
  if (!db.ok()) {
    Fail(db.error().message);
    return nullptr;
  }
  auto applied = db::Migrate(**db);
  if (!applied.ok()) {
    Fail("migrations failed: " + applied.error().message);
    return nullptr;
  }
  if (*applied > 0) spdlog::info("applied {} database migration(s)", *applied);
  return std::move(db).value();
}

// The operator's build network policy, checked before anything starts.
Result<sandbox::EgressPolicy> BuildNetworkPolicy(const core::ServeConfig& config) {
  sandbox::EgressPolicy policy;
  policy.mode =
      config.build_network == "none" ? sandbox::NetworkMode::kNone : sandbox::NetworkMode::kPublic;
  RD_TRY(policy.allowed, http::ParseCidrList(config.build_network_allow, "build-network-allow"));
  RD_TRY(policy.denied, http::ParseCidrList(config.build_network_deny, "build-network-deny"));
  if (Status valid = sandbox::ValidateEgressPolicy(policy); !valid.ok()) {
    return MakeError(ErrorCode::kBadRequest, "build-network-allow: " + valid.error().message);
  }
  return policy;
}

// The roles' options from the config.
roles::PlatformOptions OptionsFrom(const core::ServeConfig& config, const std::string& secret) {
  roles::PlatformOptions app_options;
  app_options.base_domain = config.base_domain;
  app_options.admin_host = config.admin_host;
  // Keys are derived, so the same secret can key other uses without reuse.
  app_options.users.jwt_key = core::HmacSha256(secret, "replideploy jwt v1");
  app_options.env_key = core::HmacSha256(secret, "replideploy env v1");
  app_options.github_key = core::HmacSha256(secret, "replideploy github v1");
  app_options.users.jwt_ttl_seconds = static_cast<std::int64_t>(config.jwt_ttl_hours) * 3600;
  // ValidateConfig has checked the name; closed is the safe reading of anything else.
  const auto registration = auth::ParseRegistrationMode(config.registration);
  app_options.users.registration =
      registration.ok() ? *registration : auth::RegistrationMode::kClosed;
  app_options.dashboard_dir = config.dashboard_dir;
  app_options.repos_dir = (std::filesystem::absolute(config.data_dir) / "repos").string();
  app_options.builds_dir = (std::filesystem::absolute(config.data_dir) / "builds").string();
  app_options.cache_dir = (std::filesystem::absolute(config.data_dir) / "cache").string();
  app_options.build_workers = config.build_workers;
  app_options.build_runner = config.build_runner;
  app_options.docker.image = config.docker_image;
  app_options.esbuild = config.esbuild;
  app_options.build_limits.wall_time = std::chrono::minutes(config.build_timeout_minutes);
  app_options.build_limits.memory_bytes = std::int64_t{config.build_memory_mb} << 20;
  app_options.build_limits.cpus = config.build_cpu_percent / 100.0;
  app_options.build_disk.bytes = std::int64_t{config.build_disk_mb} << 20;
  // One inode per 8 KiB, at most a million: a small quota still gets a usable file system.
  app_options.build_disk.inodes =
      std::clamp<std::int64_t>(app_options.build_disk.bytes / 8192, 16384, 1'000'000);
  app_options.volumes_dir = (std::filesystem::absolute(config.data_dir) / "volumes").string();
  app_options.functions_dir = (std::filesystem::absolute(config.data_dir) / "functions").string();
  app_options.functions.network = config.functions_network == "public";
  app_options.functions_prewarm.max_per_deploy = config.functions_prewarm;
  app_options.bubblewrap.egress.mode =
      config.build_network == "none" ? sandbox::NetworkMode::kNone : sandbox::NetworkMode::kPublic;
  app_options.queue.lease_millis = std::int64_t{config.build_lease_seconds} * 1000;
  // Heartbeats well inside the lease, so one late beat does not lose it.
  app_options.heartbeat_every =
      std::chrono::milliseconds(std::max(500, config.build_lease_seconds * 1000 / 4));
  app_options.git_poll_interval = std::chrono::seconds(config.git_poll_seconds);
  app_options.edge.site_cache_ttl = std::chrono::seconds(config.site_cache_ttl_seconds);
  app_options.analytics_flush_interval = std::chrono::seconds(config.analytics_flush_seconds);
  app_options.allow_private_git = config.git_allow_private_urls != 0;
  app_options.public_url = config.public_url;
  app_options.github.client_id = config.github_client_id;
  app_options.github.client_secret = config.github_client_secret;
  app_options.github.web_url = config.github_web_url;
  app_options.github.api_url = config.github_api_url;
  roles::CertificateSettings& certs = app_options.certificates;
  certs.acme_directory = config.acme_directory;
  certs.acme_email = config.acme_email;
  certs.acme_ca_bundle = config.acme_ca_bundle;
  certs.base_domain_wildcard = config.acme_base_wildcard != 0;
  certs.dns_update_server = config.dns_update_server;
  certs.dns_update_zone = config.dns_update_zone;
  certs.dns_update_tsig = config.dns_update_tsig;
  certs.dns_provider = config.dns_provider;
  certs.dns_provider_url = config.dns_provider_url;
  certs.acme_dns_accounts = config.acme_dns_accounts;
  certs.cloudflare_api_token = config.cloudflare_api_token;
  certs.route53_hosted_zone_id = config.route53_hosted_zone_id;
  certs.key = core::HmacSha256(secret, "replideploy certificates v1");
  certs.on_demand = config.tls_on_demand != 0;
  certs.on_demand_ask = config.tls_on_demand_ask;
  certs.on_demand_per_hour = config.tls_on_demand_per_hour;
  return app_options;
}

// The first of `configured` and the environment variables `env_names` that is not empty.
std::string SettingOrEnv(const std::string& configured,
                         std::initializer_list<const char*> env_names) {
  if (!configured.empty()) return configured;
  for (const char* name : env_names) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return value;
  }
  return {};
}

// The blob store the config names: local under the data dir, or an S3-compatible bucket with
// a local disk cache (store/s3_blob_store.hpp).
Result<std::unique_ptr<store::BlobStore>> OpenBlobStore(const core::ServeConfig& config) {
  if (config.blob_store == "local") {
    RD_TRY(auto local, store::LocalBlobStore::Open(config.data_dir + "/store"));
    return std::unique_ptr<store::BlobStore>(std::move(local));
  }
  RD_TRY(auto bucket_and_prefix, store::ParseS3Url(config.blob_store));
  store::S3BlobStoreOptions options;
  options.client.bucket = bucket_and_prefix.first;
  options.prefix = bucket_and_prefix.second;
  options.client.region = SettingOrEnv(config.s3_region, {"AWS_REGION", "AWS_DEFAULT_REGION"});
  if (options.client.region.empty()) options.client.region = "us-east-1";
  options.client.endpoint = config.s3_endpoint.empty()
                                ? "https://s3." + options.client.region + ".amazonaws.com"
                                : config.s3_endpoint;
  options.client.path_style = config.s3_path_style != 0;
  options.client.credentials.access_key_id =
      SettingOrEnv(config.s3_access_key_id, {"AWS_ACCESS_KEY_ID"});
  options.client.credentials.secret_access_key =
      SettingOrEnv(config.s3_secret_access_key, {"AWS_SECRET_ACCESS_KEY"});
  // A session token belongs to the environment's key pair only.
  if (config.s3_access_key_id.empty()) {
    options.client.credentials.session_token = SettingOrEnv({}, {"AWS_SESSION_TOKEN"});
  }
  if (options.client.credentials.access_key_id.empty() ||
      options.client.credentials.secret_access_key.empty()) {
    return MakeError(ErrorCode::kBadRequest,
                     "blob-store s3:// needs s3-access-key-id and s3-secret-access-key (or "
                     "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
  }
  options.cache_dir =
      config.blob_cache_dir.empty() ? config.data_dir + "/blob-cache" : config.blob_cache_dir;
  options.cache_bytes = std::uint64_t(config.blob_cache_mb) << 20;
  RD_TRY(auto s3, store::S3BlobStore::Open(std::move(options)));
  spdlog::info("blob store: s3://{}/{} at {}", bucket_and_prefix.first, bucket_and_prefix.second,
               config.s3_endpoint.empty() ? "AWS" : config.s3_endpoint);
  return std::unique_ptr<store::BlobStore>(std::move(s3));
}

// What every role needs: database (migrated), secret key, blob store, options.
struct Base {
  std::unique_ptr<db::Database> db;
  std::unique_ptr<store::BlobStore> blobs;
  roles::PlatformOptions options;
};

std::optional<Base> OpenBase(const core::ServeConfig& config, std::string_view role) {
  Base base;
  base.db = OpenAndMigrate(config, role);
  if (!base.db) return std::nullopt;
  auto secret = core::LoadOrCreateSecretKey(config);
  if (!secret.ok()) {
    Fail(secret.error().message);
    return std::nullopt;
  }
  auto blobs = OpenBlobStore(config);
  if (!blobs.ok()) {
    Fail("blob store: " + blobs.error().message);
    return std::nullopt;
  }
  base.blobs = std::move(blobs).value();
  base.options = OptionsFrom(config, *secret);
  const roles::CertificateSettings& certs = base.options.certificates;
  if (!certs.dns_update_server.empty() || !certs.dns_update_zone.empty() ||
      !certs.dns_update_tsig.empty()) {
    auto dns = domains::ParseDnsUpdateOptions(certs.dns_update_server, certs.dns_update_zone,
                                              certs.dns_update_tsig);
    if (!dns.ok()) {
      Fail(dns.error().message);
      return std::nullopt;
    }
  }
  if (certs.base_domain_wildcard && certs.dns_update_server.empty()) {
    Fail("acme-base-wildcard needs dns-update-server, dns-update-zone and dns-update-tsig");
    return std::nullopt;
  }
  auto network_policy = BuildNetworkPolicy(config);
  if (!network_policy.ok()) {
    Fail(network_policy.error().message);
    return std::nullopt;
  }
  base.options.bubblewrap.egress = *network_policy;
  base.options.functions_runner = config.functions_runner;
  if (config.functions_runner == "lambda") {
    functions::LambdaOptions& lambda = base.options.lambda;
    lambda.region = SettingOrEnv(config.lambda_region, {"AWS_REGION", "AWS_DEFAULT_REGION"});
    if (lambda.region.empty()) lambda.region = "us-east-1";
    lambda.endpoint = config.lambda_endpoint;
    lambda.role_arn = config.lambda_role_arn;
    lambda.function_prefix = config.lambda_function_prefix;
    lambda.credentials.access_key_id = SettingOrEnv({}, {"AWS_ACCESS_KEY_ID"});
    lambda.credentials.secret_access_key = SettingOrEnv({}, {"AWS_SECRET_ACCESS_KEY"});
    lambda.credentials.session_token = SettingOrEnv({}, {"AWS_SESSION_TOKEN"});
    // The runner's own checks (role, credentials, endpoint, prefix), before anything starts.
    if (auto checked = functions::LambdaRunner::Create(*base.blobs, lambda); !checked.ok()) {
      Fail(checked.error().message);
      return std::nullopt;
    }
  }
  auto trusted_proxies = http::ParseCidrList(config.trusted_proxies, "trusted-proxies");
  if (!trusted_proxies.ok()) {
    Fail(trusted_proxies.error().message);
    return std::nullopt;
  }
  base.options.trusted_proxies = *trusted_proxies;
  auto ipv4 = domains::ParseAddressList(config.edge_ipv4, /*ipv6=*/false, "edge-ipv4");
  auto ipv6 = domains::ParseAddressList(config.edge_ipv6, /*ipv6=*/true, "edge-ipv6");
  auto resolver = domains::MakeDnsResolver(config.dns_resolver, std::chrono::seconds(2));
  for (const Error* e : {ipv4.ok() ? nullptr : &ipv4.error(), ipv6.ok() ? nullptr : &ipv6.error(),
                         resolver.ok() ? nullptr : &resolver.error()}) {
    if (e != nullptr) {
      Fail(e->message);
      return std::nullopt;
    }
  }
  base.options.domains.edge_ipv4 = *ipv4;
  base.options.domains.edge_ipv6 = *ipv6;
  base.options.dns_resolver = config.dns_resolver;
  return base;
}

// Lifts the soft limit on open descriptors to the hard one (each connection holds one, a large
// file being sent another); warns when max-connections cannot fit under it.
void RaiseDescriptorLimit(int max_connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &limit);
    (void)::getrlimit(RLIMIT_NOFILE, &limit);
  }
  // Two descriptors per connection at most, and room for the database, blobs and builds.
  const auto wanted = static_cast<rlim_t>(max_connections) * 2 + 256;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    spdlog::warn(
        "max-connections {} may not fit in the limit of {} open files (ulimit -n); raise it or "
        "lower max-connections",
        max_connections, static_cast<unsigned long long>(limit.rlim_cur));
  }
}

std::vector<std::string> SplitList(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size() && !list.empty()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    if (comma > start) out.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// The HTTPS listener's certificates (--listen-tls): loaded from files at start and again every
// tls-reload-seconds, so that replaced files are served without a restart.
struct Tls {
  // Session-ticket keys shared with every other process (before `store`, which uses them).
  std::unique_ptr<roles::DatabaseTicketKeys> ticket_keys;
  std::shared_ptr<http::CertificateStore> store;
  std::unique_ptr<http::FileCertificateSource> files;
  // The certificates the certs role issued (any process), beside the files.
  std::unique_ptr<roles::DatabaseCertificateSource> database;
  std::unique_ptr<roles::CombinedCertificateSource> source;
  // --tls-on-demand: names of handshakes without a certificate, for the certs role.
  std::unique_ptr<roles::OnDemandTlsRequests> on_demand;
  std::atomic<std::uint16_t> port{0};  // once listening

  // For the edge: the HTTPS port when a certificate covers `host`.
  std::function<std::optional<std::uint16_t>(std::string_view)> PortFor() {
    return [this](std::string_view host) -> std::optional<std::uint16_t> {
      const std::uint16_t bound = port.load();
      if (bound == 0 || !store->Covers(host)) return std::nullopt;
      return bound;
    };
  }
};

// Null without --listen-tls, or (printed) when no certificate can be loaded.
std::unique_ptr<Tls> LoadTls(const core::ServeConfig& config, Base& base, const core::Clock& clock,
                             bool& failed) {
  failed = false;
  if (config.listen_tls.empty()) return nullptr;
  auto tls = std::make_unique<Tls>();
  http::TlsOptions options;
  options.default_name = config.tls_default_name;
  options.ticket_key_rotation = std::chrono::seconds(config.tls_ticket_rotation_seconds);
  tls->ticket_keys = std::make_unique<roles::DatabaseTicketKeys>(
      *base.db, clock, base.options.certificates.key, options.ticket_key_rotation);
  options.ticket_keys = tls->ticket_keys->Source();
  // Other processes' new keys are seen within a fraction of a rotation.
  options.ticket_key_refresh = std::clamp<std::chrono::milliseconds>(
      std::chrono::duration_cast<std::chrono::milliseconds>(options.ticket_key_rotation) / 4,
      std::chrono::seconds(1), std::chrono::seconds(60));
  options.http2 = config.http2 != 0;
  if (config.tls_on_demand != 0) {
    tls->on_demand = std::make_unique<roles::OnDemandTlsRequests>(*base.db, clock);
    options.on_unknown_name = [requests = tls->on_demand.get()](std::string_view name) {
      requests->Note(name);
    };
  }
  tls->store = std::make_shared<http::CertificateStore>(options);
  std::vector<http::FileCertificateSource::Pair> pairs;
  const auto certs = SplitList(config.tls_cert);
  const auto keys = SplitList(config.tls_key);
  for (std::size_t i = 0; i < certs.size() && i < keys.size(); ++i) {
    pairs.push_back({certs[i], keys[i]});
  }
  tls->files =
      std::make_unique<http::FileCertificateSource>(std::move(pairs), SplitList(config.tls_dir));
  tls->database = std::make_unique<roles::DatabaseCertificateSource>(*base.db, clock,
                                                                     base.options.certificates.key);
  tls->source = std::make_unique<roles::CombinedCertificateSource>(
      std::vector<http::CertificateSource*>{tls->files.get(), tls->database.get()});
  const Status loaded = tls->store->Reload(*tls->source);
  // With an ACME CA the listener may start empty: issued certificates are loaded as they come.
  const bool may_start_empty = !config.acme_directory.empty();
  if (!loaded.ok()) {
    if (tls->store->size() == 0 && !may_start_empty) {
      failed = true;
      Fail("TLS certificates: " + loaded.error().message);
      return nullptr;
    }
    spdlog::warn("TLS certificates: {}", loaded.error().message);
  }
  // A certificate issued in this process is served at once, and so is one issued elsewhere when
  // its change event arrives (PostgreSQL; else at the periodic reload).
  base.options.certificates.on_changed = [t = tls.get()] {
    const Status reloaded = t->store->Reload(*t->source);
    if (!reloaded.ok()) spdlog::warn("TLS certificates: {}", reloaded.error().message);
  };
  return tls;
}

// Loads the certificates again every `every` until stopped; a failed load keeps the ones
// served.
void ReloadCertificates(std::stop_token stop, Tls& tls, std::chrono::seconds every) {
  std::mutex mu;
  std::condition_variable_any wake;
  std::unique_lock lock(mu);
  while (!wake.wait_for(lock, stop, every, [] { return false; })) {
    if (stop.stop_requested()) return;
    const Status reloaded = tls.store->Reload(*tls.source);
    if (!reloaded.ok()) spdlog::warn("TLS certificates: {}", reloaded.error().message);
  }
}

// Serves `resolver` on the configured address until SIGINT/SIGTERM. `on_listening` gets the
// port before the first request; `before_stop` runs once the server stops taking requests.
int ServeHttp(const core::ServeConfig& config, const std::vector<core::Cidr>& trusted_proxies,
              http::Resolver resolver, const std::function<void(std::uint16_t)>& on_listening,
              const std::function<void()>& before_stop = {}, Tls* tls = nullptr) {
  const core::ListenAddress listen = core::ParseListenAddress(config.listen).value();
  http::ServerOptions server_options;
  server_options.host = listen.host;
  server_options.port = listen.port;
  server_options.io_threads = config.io_threads;
  server_options.handler_threads = config.handler_threads;
  server_options.edge_threads = config.edge_threads;
  server_options.slow_threads = config.slow_threads;
  server_options.max_connections = static_cast<std::size_t>(config.max_connections);
  server_options.max_connections_per_client =
      static_cast<std::size_t>(config.max_connections_per_client);
  // A proxy carries many clients: it counts only towards the total.
  server_options.connection_limit_exempt = trusted_proxies;
  server_options.header_timeout = std::chrono::seconds(config.header_timeout_seconds);
  server_options.idle_timeout = std::chrono::seconds(config.idle_timeout_seconds);
  server_options.shutdown_grace = std::chrono::seconds(config.shutdown_grace_seconds);
  if (tls != nullptr) {
    const core::ListenAddress tls_listen = core::ParseListenAddress(config.listen_tls).value();
    server_options.tls = http::TlsListenerOptions{};
    server_options.tls->host = tls_listen.host;
    server_options.tls->port = tls_listen.port;
    server_options.tls->certificates = tls->store;
  }
  RaiseDescriptorLimit(config.max_connections);
  http::Server server(server_options, std::move(resolver));
  if (Status st = server.Listen(); !st.ok()) return Fail(st.error().message);
  on_listening(server.port());
  std::jthread reloader;
  if (tls != nullptr) {
    tls->port = server.tls_port();
    fmt::print("HTTPS on port {} ({} certificate(s))\n", server.tls_port(), tls->store->size());
    if (config.tls_reload_seconds > 0) {
      reloader = std::jthread(ReloadCertificates, std::ref(*tls),
                              std::chrono::seconds(config.tls_reload_seconds));
    }
  }
  std::fflush(stdout);
  server.Start();
  server.RunUntilSignal();
  if (reloader.joinable()) {
    reloader.request_stop();
    reloader.join();
  }
  if (before_stop) before_stop();
  spdlog::info("stopped");
  return 0;
}

std::string HostForUrl(const core::ServeConfig& config) {
  const core::ListenAddress listen = core::ParseListenAddress(config.listen).value();
  return listen.host.find(':') != std::string::npos ? "[" + listen.host + "]" : listen.host;
}

const char* EngineName(const db::Database& db) {
  return db.engine() == db::Engine::kSqlite ? "SQLite" : "PostgreSQL";
}

// Run from a checkout (build/<preset>/replideploy): the dashboard built next to it.
void FindDashboard(roles::PlatformOptions& options) {
  if (options.dashboard_dir.empty()) {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    const auto guess = exe.parent_path().parent_path().parent_path() / "dashboard" / "out";
    if (!ec && std::filesystem::is_directory(guess, ec)) options.dashboard_dir = guess.string();
  }
  if (!options.dashboard_dir.empty()) spdlog::info("dashboard from {}", options.dashboard_dir);
}

// The --metrics-listen listener, or null without one. `failed` is set (and the reason printed)
// when it cannot listen.
std::unique_ptr<OpsServer> StartOps(const core::ServeConfig& config, Base& base,
                                    builder::BuildQueue* queue, bool& failed) {
  failed = false;
  if (config.metrics_listen.empty()) return nullptr;
  auto ops = OpsServer::Start(config.metrics_listen, *base.db, *base.blobs, queue);
  if (!ops.ok()) {
    failed = true;
    Fail("metrics-listen: " + ops.error().message);
    return nullptr;
  }
  const core::ListenAddress at = core::ParseListenAddress(config.metrics_listen).value();
  fmt::print("metrics, healthz and readyz on {}:{}\n", at.host, (*ops)->port());
  return std::move(ops).value();
}

}  // namespace

int RunMigrate(const core::ServeConfig& config) {
  auto db = OpenAndMigrate(config, "migrate");
  if (!db) return 1;
  fmt::print("database is up to date ({} migrations known)\n", db::BuiltinMigrations().size());
  return 0;
}

int RunServe(const core::ServeConfig& config) {
  auto base = OpenBase(config, "serve");
  if (!base) return 1;
  bool tls_failed = false;
  core::SystemClock clock;
  auto tls = LoadTls(config, *base, clock, tls_failed);
  if (tls_failed) return 1;
  if (tls) base->options.edge.https_port_for = tls->PortFor();
  FindDashboard(base->options);
  roles::Platform platform(*base->db, *base->blobs, clock, base->options);
  spdlog::info("database {}", EngineName(*base->db));
  bool ops_failed = false;
  auto ops = StartOps(config, *base, &platform.services().queue, ops_failed);
  if (ops_failed) return 1;
  return ServeHttp(
      config, base->options.trusted_proxies, platform.Resolver(),
      [&](std::uint16_t port) {
        platform.SetPublicPort(port);
        fmt::print("RepliDeploy is running: dashboard and API at {}  (listening on {}:{})\n",
                   platform.app().PublicUrl("/"), HostForUrl(config), port);
      },
      // Live-log viewers hold sockets of the server's I/O context: let go of them before it goes.
      [&] { platform.app().ShutdownLogStreams(); }, tls.get());
}

int RunApi(const core::ServeConfig& config) {
  auto base = OpenBase(config, "api");
  if (!base) return 1;
  bool tls_failed = false;
  core::SystemClock clock;
  auto tls = LoadTls(config, *base, clock, tls_failed);
  if (tls_failed) return 1;
  FindDashboard(base->options);
  roles::Services services(*base->db, *base->blobs, clock, base->options);
  roles::ProcessorRole processor(services, base->options);
  roles::ApiRole api(services, base->options);
  bool ops_failed = false;
  auto ops = StartOps(config, *base, &services.queue, ops_failed);
  if (ops_failed) return 1;
  return ServeHttp(
      config, base->options.trusted_proxies, api.Resolver(),
      [&](std::uint16_t port) {
        api.app().SetPublicPort(port);
        fmt::print(
            "RepliDeploy API is running: dashboard and API at {}  (listening on {}:{}), "
            "database {}\n",
            api.app().PublicUrl("/"), HostForUrl(config), port, EngineName(*base->db));
      },
      [&] { api.app().ShutdownLogStreams(); }, tls.get());
}

int RunEdge(const core::ServeConfig& config) {
  auto base = OpenBase(config, "edge");
  if (!base) return 1;
  bool tls_failed = false;
  core::SystemClock clock;
  auto tls = LoadTls(config, *base, clock, tls_failed);
  if (tls_failed) return 1;
  if (tls) base->options.edge.https_port_for = tls->PortFor();
  roles::Services services(*base->db, *base->blobs, clock, base->options);
  roles::EdgeRole edge(services, base->options);
  bool ops_failed = false;
  auto ops = StartOps(config, *base, nullptr, ops_failed);
  if (ops_failed) return 1;
  return ServeHttp(
      config, base->options.trusted_proxies, edge.Resolver(),
      [&](std::uint16_t port) {
        fmt::print(
            "RepliDeploy edge is running: sites at http://<site>.{}:{}  (listening on {}:{}), "
            "database {}\n",
            base->options.base_domain, port, HostForUrl(config), port, EngineName(*base->db));
      },
      {}, tls.get());
}

int RunWorker(const core::ServeConfig& config) {
  if (config.build_workers < 1) return Fail("a worker needs --build-workers of at least 1");
  auto base = OpenBase(config, "worker");
  if (!base) return 1;
  // Block the signals before any thread starts, then wait for one here.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  core::SystemClock clock;
  {
    roles::Services services(*base->db, *base->blobs, clock, base->options);
    roles::ProcessorRole processor(services, base->options);
    const roles::PlatformOptions& o = base->options;
    roles::WorkerHooks hooks;
    // Links in GitHub statuses: the configured public addresses (no port is known here).
    hooks.site_url = [&o](std::string_view label) {
      return "http://" + std::string(label) + "." + o.base_domain;
    };
    hooks.public_url = [&o](std::string_view path) {
      std::string url = o.public_url.empty()
                            ? "http://" + (o.admin_host.empty() ? "localhost" : o.admin_host)
                            : o.public_url;
      while (!url.empty() && url.back() == '/') url.pop_back();
      return url + std::string(path);
    };
    roles::WorkerRole workers(services, base->options, std::move(hooks));
    bool ops_failed = false;
    auto ops = StartOps(config, *base, &services.queue, ops_failed);
    if (ops_failed) return 1;
    fmt::print("RepliDeploy worker is running: {} build(s) at once, database {}\n",
               config.build_workers, EngineName(*base->db));
    std::fflush(stdout);
    int received = 0;
    sigwait(&signals, &received);
    spdlog::info(
        "received signal {}, stopping the worker (the current build is given up and "
        "retried elsewhere)",
        received);
  }
  spdlog::info("stopped");
  return 0;
}

}  // namespace replideploy::cli
