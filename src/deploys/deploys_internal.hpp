// Private to src/deploys/: what deploys.cpp (create, file lists, publish, rollback, locks),
// deploy_uploads.cpp (uploads and the step to processing) and deploy_processing.cpp
// (processing, variants, manifests, garbage) share.
#pragma once

#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "audit/audit_log.hpp"
#include "core/result.hpp"
#include "db/database.hpp"
#include "deploys/deploys.hpp"

namespace replideploy::deploys {

// Rows per multi-row INSERT or IN (...) list.
inline constexpr std::size_t kInsertBatch = 200;

std::string Sha1Hex(std::string_view data);

// Whether some file of `manifest` should get brotli/gzip variants it lacks (as VariantJobs
// picks them).
bool NeedsVariants(const DeployManifest& manifest);

// replideploy_deploys_published_total{kind}: "publish" (a newer deploy goes live, by hand or
// automatically) or "rollback" (an older one).
void CountPublished(std::string_view kind);

// The owner of the site's account, whose audit log its events go to.
Result<std::string> SiteOwner(db::Session& s, const std::string& site_id);

Status RecordDeployEvent(db::Session& s, std::int64_t now, const std::string& site_id,
                         std::string action, const std::string& deploy_id,
                         const audit::Actor& actor, const boost::json::object& details);

// Brackets a publish: in flight while it runs, a new version once it is over (committed or
// not; a spurious version change only costs caches a reload).
class PublishScope {
 public:
  explicit PublishScope(DeployService& s) : s_(s) { ++s_.publishes_in_flight_; }
  ~PublishScope() {
    ++s_.publish_version_;
    --s_.publishes_in_flight_;
  }
  PublishScope(const PublishScope&) = delete;
  PublishScope& operator=(const PublishScope&) = delete;

 private:
  DeployService& s_;
};

}  // namespace replideploy::deploys
