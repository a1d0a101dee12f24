#include "roles/services.hpp"

#include "edge/edge.hpp"

namespace replideploy::roles {

Services::Services(db::Database& database, store::BlobStore& blob_store, const core::Clock& time,
                   const PlatformOptions& options)
    : db(database),
      blobs(blob_store),
      clock(time),
      audit(db, clock),
      users(db, clock, options.users),
      login_throttle(db, clock),
      sites(db, clock),
      deploys(db, blobs, clock, sites, options.deploys),
      env_vars(db, clock, sites, options.env_key.empty() ? std::string(32, '\0') : options.env_key),
      github(db, clock, options.github,
             options.github_key.empty() ? std::string(32, '\1') : options.github_key),
      deliveries(db, clock),
      closed_prs(db, clock),
      queue(db, clock, options.queue),
      build_logs(db),
      builds(sites, deploys, queue, github, deliveries, closed_prs,
             builder::TriggerOptions{options.repos_dir, options.allow_private_git,
                                     options.github.web_url, options.cache_dir}) {
  // Every role that makes deploys (uploads, builds) checks their rule files the edge's way.
  deploys.SetValidator(&edge::Edge::ValidateDeploy);
}

api::ApiServices Services::ForApi() {
  return api::ApiServices{users,
                          audit,
                          login_throttle,
                          sites,
                          deploys,
                          env_vars,
                          github,
                          queue,
                          builds,
                          build_logs,
                          blobs,
                          clock,
                          [this] { return db.Ping(); }};
}

}  // namespace replideploy::roles
