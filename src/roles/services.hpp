// The services every role shares, built over one database and one blob store. Building them
// starts no thread; the roles (src/roles/roles.hpp) start what they run.
#pragma once

#include "api/app.hpp"
#include "auth/login_throttle.hpp"
#include "auth/users.hpp"
#include "builder/build_logs.hpp"
#include "builder/build_trigger.hpp"
#include "builder/queue.hpp"
#include "core/clock.hpp"
#include "db/database.hpp"
#include "deploys/analytics.hpp"
#include "deploys/deploys.hpp"
#include "deploys/env_vars.hpp"
#include "deploys/function_logs.hpp"
#include "deploys/function_stats.hpp"
#include "deploys/sites.hpp"
#include "domains/dns_resolver.hpp"
#include "domains/domains.hpp"
#include "git/github_connections.hpp"
#include "git/pull_requests.hpp"
#include "git/webhook_deliveries.hpp"
#include "roles/options.hpp"
#include "store/blob_store.hpp"

namespace replideploy::roles {

struct Services {
  Services(db::Database& db, store::BlobStore& blobs, const core::Clock& clock,
           const PlatformOptions& options);
  Services(const Services&) = delete;
  Services& operator=(const Services&) = delete;

  // What the API's handlers call.
  api::ApiServices ForApi();

  db::Database& db;
  store::BlobStore& blobs;
  const core::Clock& clock;
  audit::AuditLog audit;
  auth::UserService users;
  auth::LoginThrottle login_throttle;
  deploys::SiteService sites;
  deploys::DeployService deploys;
  deploys::EnvVarService env_vars;
  git::GithubConnections github;
  git::WebhookDeliveries deliveries;
  git::ClosedPullRequests closed_prs;
  builder::BuildQueue queue;
  builder::BuildLogStore build_logs;
  builder::BuildTrigger builds;
  std::unique_ptr<domains::DnsResolver> dns_resolver;
  domains::DomainService domains;
  deploys::AnalyticsService analytics;
  deploys::FunctionLogStore function_logs;
  deploys::FunctionStatsService function_stats;
};

}  // namespace replideploy::roles
