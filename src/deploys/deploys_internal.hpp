// Private to src/deploys/: what deploys.cpp (create, file lists, publish, rollback, locks),
// deploy_uploads.cpp (uploads and the step to processing) and deploy_processing.cpp
// (processing, variants, manifests, garbage) share.
#pragma once

#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_log.hpp"
#include "core/result.hpp"
#include "db/database.hpp"
#include "deploys/deploys.hpp"

namespace replideploy::deploys {

// Rows per multi-row INSERT or IN (...) list.
inline constexpr std::size_t kInsertBatch = 200;

std::string Sha1Hex(std::string_view data);

// The entries of `function_configs` (name -> functions_config JSON text) for names in
// `functions`, normalised; kUnprocessable for a bad one.
Result<std::map<std::string, std::string>> CheckFunctionConfigs(
    const std::map<std::string, std::string>& function_configs,
    const std::map<std::string, std::string>& functions);

// Inserts the rows of `files` (normalised path -> SHA-1) for deploy `id`, kInsertBatch to a
// statement. Files whose content the store already holds get its SHA-256 and size at once;
// those SHA-256s (each once) go to `reused`, for DeployService::ClaimReusedAndAdvance.
Status InsertDeployFiles(db::Session& s, const std::string& id,
                         const std::map<std::string, std::string>& files,
                         std::vector<std::string>& reused);

// Replaces the deploy's functions (name -> SHA-256) with their configs (CheckFunctionConfigs).
Status InsertDeployFunctions(db::Session& s, const std::string& id,
                             const std::map<std::string, std::string>& functions,
                             const std::map<std::string, std::string>& configs);

// Whether some file of `manifest` should get brotli/gzip variants it lacks (as VariantJobs
// picks them).
bool NeedsVariants(const DeployManifest& manifest);

// replideploy_deploys_published_total{kind}: "publish" (a newer deploy goes live, by hand or
// automatically) or "rollback" (an older one).
void CountPublished(std::string_view kind);
// replideploy_deploy_manifests_built_total{how="patched"|"read"}: how processing made a
// deploy's manifest (patched from its base's, or read whole).
void CountManifestBuilt(bool patched);

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
