// Deploys: an immutable set of files (a manifest of path -> blob) that a site can publish.
//
// Life of a deploy (Netlify's state names):
//   new --SetFiles--> uploading --last upload--> processing --variants made--> ready
//   any state before ready --Cancel--> canceled;  --timeout or bad rules--> error
// A deploy is published (made the site's live deploy) only once every file is stored: by one
// UPDATE of sites.published_deploy_id. Ready deploys never change.
//
// Access: every call that takes a user id checks that the deploy's site is in an account the
// user owns; anything else is kNotFound, as if missing. Thread-safe; calls block on the
// database and the blob store: run them on handler threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "audit/audit_log.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"
#include "deploys/file_batch.hpp"
#include "deploys/manifest.hpp"
#include "deploys/sites.hpp"
#include "store/blob_store.hpp"
#include "store/gc.hpp"
#include "store/precompress.hpp"

namespace replideploy::deploys {

inline constexpr std::string_view kStateNew = "new";
inline constexpr std::string_view kStateQueued = "queued";
inline constexpr std::string_view kStateBuilding = "building";
inline constexpr std::string_view kStateUploading = "uploading";
inline constexpr std::string_view kStateProcessing = "processing";
inline constexpr std::string_view kStateReady = "ready";
inline constexpr std::string_view kStateError = "error";
inline constexpr std::string_view kStateCanceled = "canceled";

// A message of a deploy's summary (Netlify's `summary.messages`): something processing reported
// without failing the deploy, such as a rule line skipped as Netlify skips it.
struct DeployMessage {
  std::string type = "warning";  // "warning" or "info", as Netlify
  std::string title;
  std::string description;
  std::string details;
  std::string file;       // the deploy file it is about ("_redirects"), or empty
  std::int64_t line = 0;  // 1-based line in `file`, or 0
};

// Messages kept per deploy; beyond it, one more says how many were left out.
inline constexpr std::size_t kMaxDeployMessages = 100;

struct Deploy {
  std::string id;
  std::string site_id;
  std::string site_name;
  std::string user_id;
  std::string state;
  std::string context;  // production, branch-deploy, deploy-preview, draft
  std::string branch;   // also the alias of `netlify deploy --alias`
  std::string title;
  std::string commit_ref;
  std::optional<std::int64_t> review_id;
  bool draft = false;
  std::string deploy_source;
  std::string error_message;
  std::int64_t file_count = 0;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  std::optional<std::int64_t> ready_at;
  std::optional<std::int64_t> published_at;
  bool published = false;  // the site's live deploy right now
  bool site_locked = false;
  std::vector<std::string> required;            // SHA-1s still to upload
  std::vector<std::string> required_functions;  // SHA-256s still to upload
  std::vector<DeployMessage> messages;          // in order; set once the deploy is ready
};

struct NewDeploy {
  bool draft = false;
  std::string branch;
  std::string title;
  std::string deploy_source;  // "cli", "api", "git"
  std::string commit_ref;
  std::optional<std::int64_t> review_id;
  std::string context;  // empty: production unless draft
};

struct UploadedFile {
  std::string path;
  std::string sha1;
  std::string sha256;
  std::int64_t size = 0;
  std::string content_type;
};

// Checks a finished deploy before it becomes ready (e.g. parses its _redirects). A failure puts
// the deploy in `error` with the returned message; the messages returned otherwise are kept
// with the deploy (Deploy::messages, at most kMaxDeployMessages and one saying how many more).
using DeployValidator =
    std::function<Result<std::vector<DeployMessage>>(const DeployManifest&, store::BlobStore&)>;

// Notified after a site's live deploy changed (publish, rollback, delete); the edge drops its
// cached route for the site.
using PublishListener = std::function<void(const std::string& site_id)>;

struct DeployServiceOptions {
  std::int64_t upload_timeout_millis = 30 * 60 * 1000;  // new/uploading longer -> error
  std::size_t max_files = 100'000;
  std::size_t max_path_bytes = 1024;
  // How long a process's claim on making a deploy's variants lasts without being renewed (it is
  // renewed after every chunk): another process takes the deploy over once it lapses.
  std::int64_t variants_claim_millis = 10 * 60 * 1000;
  // The manifests of ready deploys kept in memory for the edge, least recently used dropped
  // first past either bound (DeployManifest::MemoryBytes: ~10 kB for 100 files).
  std::size_t manifest_cache_bytes = 32ULL << 20;
  std::size_t manifest_cache_entries = 4096;
};

// "/a/b.html" from "a/b.html" or "/a/b.html"; kUnprocessable for anything that could leave the
// deploy root or is not a plain file path (empty, "..", ".", "//", NUL, backslash, control
// characters).
Result<std::string> NormalizeDeployPath(std::string_view path);

class DeployService {
 public:
  DeployService(db::Database& db, store::BlobStore& blobs, const core::Clock& clock,
                SiteService& sites, DeployServiceOptions options = {});

  void SetValidator(DeployValidator validator) { validator_ = std::move(validator); }
  void AddPublishListener(PublishListener listener);
  // Called (on the calling thread) when a deploy enters processing: wakes the processor.
  void SetProcessingHook(std::function<void()> hook) { on_processing_ = std::move(hook); }

  Result<Deploy> Create(std::string_view user_id, std::string_view site_ref, const NewDeploy& spec);
  // Declares the deploy's files (path -> SHA-1) and functions (name -> SHA-256). Answers with
  // `required`: the SHA-1s the store lacks. With nothing required the deploy goes on to
  // processing at once. `function_configs` are entries of Netlify's functions_config (name ->
  // JSON object text, see function_config.hpp); those of names not in `functions` are ignored.
  Result<Deploy> SetFiles(std::string_view user_id, std::string_view deploy_id,
                          const std::map<std::string, std::string>& files,
                          const std::map<std::string, std::string>& functions,
                          const std::map<std::string, std::string>& function_configs = {});
  // Declares the deploy's files relative to `base`, an earlier ready deploy of the same site
  // (ours, for `replideploy deploy`; netlify-cli always sends the whole list to SetFiles): the
  // base's files except the `deleted` paths and those in `changed`, plus `changed` (path ->
  // SHA-1, changed or added). `functions` are the whole set, as in SetFiles. The base's rows are
  // copied in SQL and need no claim for the garbage collector (see deploy_relative.cpp), so the
  // cost grows with the change, not with the site. Errors (kUnprocessable; nothing stored):
  // invalid_base_deploy (unknown, another user's or another site's deploy), base_deploy_not_ready
  // (not ready), invalid_path (a bad path, or one both changed and deleted), unknown_file (a
  // deleted path the base lacks), too_many_files (the result beyond max_files), and SetFiles'
  // errors for `changed` and `functions`.
  Result<Deploy> SetFilesRelative(std::string_view user_id, std::string_view deploy_id,
                                  std::string_view base_deploy_id,
                                  const std::map<std::string, std::string>& changed,
                                  const std::vector<std::string>& deleted,
                                  const std::map<std::string, std::string>& functions,
                                  const std::map<std::string, std::string>& function_configs = {});
  // Tests only: called inside SetFilesRelative's transaction, after the base's rows are copied
  // and before it commits (to run a garbage collection at that moment).
  void SetRelativeCopyHookForTest(std::function<void()> hook) {
    relative_copy_hook_ = std::move(hook);
  }
  // Stores one file's bytes, checked against the SHA-1 declared for `path`. The last missing
  // file moves the deploy to processing.
  Result<UploadedFile> UploadFile(std::string_view user_id, std::string_view deploy_id,
                                  std::string_view path, std::string_view bytes);
  // Stores several files at once (our CLI's batched upload), each as UploadFile would, in one
  // database transaction: either every file is recorded or none is (kUnprocessable
  // unknown_file, digest_mismatch or invalid_state for the first file at fault, before
  // anything is stored). Answers in the order of `files`.
  Result<std::vector<UploadedFile>> UploadFiles(std::string_view user_id,
                                                std::string_view deploy_id,
                                                const std::vector<BatchFile>& files);
  // Stores a function's zip, checked against the SHA-256 declared for `name`.
  Result<Deploy> UploadFunction(std::string_view user_id, std::string_view deploy_id,
                                std::string_view name, std::string_view zip,
                                std::string_view runtime);

  Result<Deploy> Get(std::string_view user_id, std::string_view deploy_id);

  // ---- for builds (the platform acting for the site's owner; no access check) ----
  // A deploy waiting for its build (state `queued`).
  Result<Deploy> CreateForBuild(std::string_view site_id, const NewDeploy& spec);
  // queued -> building. False when it is no longer queued (canceled).
  Result<bool> MarkBuilding(std::string_view deploy_id);
  // Attaches a build's output, already in the blob store (path -> blob), and moves the deploy
  // on to processing. Paths are checked like uploaded ones.
  // `functions` are name -> (zip blob, runtime), already stored; `function_configs` their
  // routes as netlify-cli's functions_config entries (checked like uploaded ones).
  Status AttachBuildOutput(
      std::string_view deploy_id, const std::vector<std::pair<std::string, store::BlobInfo>>& files,
      const std::vector<std::pair<std::string, std::pair<store::BlobInfo, std::string>>>&
          functions = {},
      const std::map<std::string, std::string>& function_configs = {});
  // Fails a deploy that has not become ready, with a message for the user.
  Status FailDeploy(std::string_view deploy_id, std::string_view message);
  // Without `required`, with `messages`.
  Result<Deploy> GetForBuild(std::string_view deploy_id);
  Result<std::vector<Deploy>> List(std::string_view user_id, std::string_view site_ref,
                                   int limit = 100);
  Result<Deploy> Cancel(std::string_view user_id, std::string_view deploy_id);
  // Publishes a ready deploy of the site (rollback when it is older than the live one). The
  // audit log gets "deploy.published" or "deploy.rolled_back" by `actor`, in the same
  // transaction; auto-publishing records "deploy.published" with no actor.
  Result<Deploy> Restore(std::string_view user_id, std::string_view site_ref,
                         std::string_view deploy_id, const audit::Actor& actor = {});
  // Lock: publish this deploy and stop auto-publishing ("deploy.locked"); unlock:
  // auto-publishing on again ("deploy.unlocked").
  Result<Deploy> Lock(std::string_view user_id, std::string_view deploy_id,
                      const audit::Actor& actor = {});
  Result<Deploy> Unlock(std::string_view user_id, std::string_view deploy_id,
                        const audit::Actor& actor = {});

  // Moves deploys waiting in `processing` on: makes their blobs durable (one sync), validates,
  // marks them ready and publishes production deploys of unlocked sites. Returns how many it
  // finished. Called by the background processor, and at start-up to resume work a crash
  // interrupted. A deploy goes live with identity bodies only; its brotli/gzip variants are
  // made afterwards by PrecompressPending.
  Result<int> ProcessPending();
  // Makes the missing brotli/gzip variants of the oldest ready deploy still waiting for them
  // (on every core, at a low priority), records them, and swaps the deploy's cached manifest
  // for one that has them (the edge serves them from then on; other processes read it again
  // within seconds). Works in chunks of a hundred or so blobs and calls `between_chunks` after
  // each: when it returns false the work stops there and the claim is let go (resumed by the
  // next call, here or in another process). Runs on its own thread of the processor, next to
  // ProcessPending. With several processes over one database each deploy is claimed by one of
  // them (deploys.variants_claim_until, renewed after each chunk), so none compresses what
  // another is compressing; the others take the next deploy, or nothing. Returns how many
  // deploys it finished (0 or 1).
  Result<int> PrecompressPending(const std::function<bool()>& between_chunks = {});
  // Marks deploys stuck in new/uploading for longer than the timeout as `error`.
  Result<int> ExpireStale();

  // Mark and sweep: deletes stored blobs that no deploy still needs (only error and canceled
  // deploys, and those of deleted sites, let go of theirs) and that were not written or claimed
  // within `grace`. Safe while deploys upload (store/gc.hpp has the argument).
  Result<store::GcStats> CollectGarbage(std::chrono::seconds grace);

  // For caches of "which deploy is live" (the edge): a value that changes whenever a publish
  // commits, and whether one is in flight. A cached answer is current when it was taken with
  // the same version and no publish was in flight; so the first request that starts after a
  // publish call returns always sees the new deploy.
  std::uint64_t publish_version() const { return publish_version_.load(); }
  bool publish_in_flight() const { return publishes_in_flight_.load() != 0; }

  // For the edge: the immutable manifest of a ready deploy, cached; kNotFound otherwise.
  Result<std::shared_ptr<const DeployManifest>> Manifest(const std::string& deploy_id);
  // The same from memory only: null when it is not cached (never blocks).
  std::shared_ptr<const DeployManifest> CachedManifest(const std::string& deploy_id);

  // For the edge's deploy URLs: `deploy_id` when it is a ready deploy of the site; the newest
  // ready deploy of a pull request (`review_id`) or of a branch alias (not a preview).
  // kNotFound when there is none.
  Result<std::string> ReadyDeployOfSite(std::string_view site_id, std::string_view deploy_id);
  Result<std::string> LatestReadyPreview(std::string_view site_id, std::int64_t review_id);
  Result<std::string> LatestReadyBranch(std::string_view site_id, std::string_view branch);

  // For skew protection at the edge: the site's deploys that were its published deploy at some
  // moment of the last `window_ms` (the clock's milliseconds), newest first, among its `limit`
  // latest published. The live one (`live_id`) with live_until 0; the others with the moment the
  // next publish replaced them. Ready deploys only (a deleted site's are gone).
  struct RecentDeploy {
    std::string id;
    std::int64_t live_until = 0;
  };
  struct RecentDeploys {
    std::int64_t read_at = 0;  // the clock when they were read
    std::vector<RecentDeploy> deploys;
  };
  Result<RecentDeploys> RecentlyPublished(std::string_view site_id, std::string_view live_id,
                                          std::int64_t window_ms, int limit = 16);

 private:
  // `with_required` fills Deploy::required*, which scans the deploy's files: skip it on the
  // per-file upload path.
  Result<Deploy> Load(std::string_view deploy_id, bool with_required = true);
  Result<Deploy> LoadOwned(std::string_view user_id, std::string_view deploy_id,
                           bool with_required = true);
  // Sets `required` / `required_functions` of a deploy still taking files.
  Status FillRequired(Deploy& deploy);
  // The deploy's state must still allow its file list to change (new or uploading).
  Result<Deploy> LoadForFileList(std::string_view user_id, std::string_view deploy_id);
  // Claims stored content a new file list reuses (`reused`: SHA-256s its rows took from the
  // blobs table), so a concurrent garbage collection keeps it; content collected in the
  // meantime is asked for again. Then moves the deploy on if nothing is left to upload.
  Result<Deploy> ClaimReusedAndAdvance(const std::string& deploy_id,
                                       const std::vector<std::string>& reused);
  // Sets `messages` of each deploy (one query).
  Status FillMessages(std::vector<Deploy*> deploys);
  // Moves an uploading deploy with nothing missing on to processing.
  Status AdvanceIfUploadsComplete(const std::string& deploy_id);
  // The same inside a transaction; true when it moved the deploy (then call on_processing_
  // after the commit).
  Result<bool> AdvanceIfUploadsCompleteIn(db::Session& s, const std::string& deploy_id,
                                          std::int64_t now);
  // Makes the blobs of a deploy that are not durable yet durable (one sync), checking those
  // written before this process started against their digest (a machine crash may have
  // damaged them); a damaged blob is deleted and fails the deploy (kUnprocessable).
  Status SyncDeployBlobs(const Deploy& deploy);
  // A blob SyncDeployBlobs checks: its SHA-1 and row's created_at when the blobs table has them.
  struct BlobToSync {
    std::string sha256, sha1;
    std::optional<std::int64_t> created_at;
  };
  // The deploy's functions whose blob is not known to be durable.
  Status AddUnsyncedFunctions(const std::string& deploy_id, std::vector<BlobToSync>& out);
  Status SyncBlobs(const std::vector<BlobToSync>& blobs);
  Result<Deploy> AdvanceIfComplete(const Deploy& deploy);
  Status FinishOne(const Deploy& deploy);
  Result<std::shared_ptr<DeployManifest>> LoadManifest(const std::string& deploy_id,
                                                       const std::string& site_id);
  Status LoadManifestFunctions(DeployManifest& manifest);
  // What SetFilesRelative wrote, kept until the deploy is processed, so that FinishOne can
  // patch the base's cached manifest with the changed rows instead of reading every row
  // (deploy_relative.cpp). Only an optimisation: anything missing or out of date means the
  // whole read.
  struct RelativeFileList {
    std::string file_list_id;  // deploys.file_list_id, written with the rows
    std::string base_id;
    std::set<std::string, std::less<>> changed, deleted;  // the rows' paths
  };
  void RememberRelativeFileList(const std::string& deploy_id, RelativeFileList list);
  // The deploy's manifest from its base's cached one and its changed rows, their blobs synced;
  // nullptr when it cannot be made that way (SyncDeployBlobs and LoadManifest then).
  Result<std::shared_ptr<DeployManifest>> PatchedManifest(const Deploy& deploy);
  // The blobs of a deploy that could get compressed variants and have none yet.
  struct VariantJob {
    std::string sha256, content_type;
    Result<store::PrecompressedVariants> made = store::PrecompressedVariants{};
  };
  Result<std::vector<VariantJob>> VariantJobs(const std::string& deploy_id);
  // The oldest deploy waiting for variants that no process has claimed, now claimed by this one
  // (variants_claim_until); none when every such deploy is claimed or none waits.
  struct ClaimedVariants {
    std::string deploy_id, site_id;
  };
  Result<std::optional<ClaimedVariants>> ClaimVariants();
  Status Fail(const std::string& deploy_id, const std::string& message);
  // Makes the deploy live and records `action` ("" picks published / rolled_back) by `actor`;
  // with `lock`, also stops auto-publishing, in the same transaction.
  Status Publish(const std::string& site_id, const std::string& deploy_id, std::string action,
                 const audit::Actor& actor, bool lock = false);
  void NotifyPublished(const std::string& site_id);

  db::Database& db_;
  store::BlobStore& blobs_;
  const core::Clock& clock_;
  SiteService& sites_;
  DeployServiceOptions options_;
  DeployValidator validator_;
  std::function<void()> on_processing_;
  std::function<void()> relative_copy_hook_;
  std::mutex listeners_mu_;
  std::vector<PublishListener> listeners_;
  struct CachedManifestEntry {
    std::shared_ptr<const DeployManifest> manifest;
    std::chrono::steady_clock::time_point loaded;
    bool refreshing = false;               // a caller was sent to read it again (variants pending)
    std::size_t bytes = 0;                 // manifest->MemoryBytes()
    std::list<std::string>::iterator lru;  // into manifest_lru_
  };
  // Caches `manifest` (replacing one of the same deploy) as the most recently used, then drops
  // the least recently used past the bounds. Holding manifests_mu_.
  CachedManifestEntry& CacheManifestLocked(const std::string& deploy_id,
                                           std::shared_ptr<const DeployManifest> manifest);
  std::mutex manifests_mu_;
  std::unordered_map<std::string, CachedManifestEntry> manifests_;
  std::list<std::string> manifest_lru_;  // deploy ids, most recently used first
  std::size_t manifest_bytes_ = 0;
  const std::int64_t started_at_;  // clock_ at construction (SyncDeployBlobs)
  std::mutex process_mu_;          // one ProcessPending at a time
  std::mutex relative_mu_;
  std::unordered_map<std::string, RelativeFileList> relative_lists_;  // by deploy id, bounded
  std::atomic<std::uint64_t> publish_version_{0};
  std::atomic<int> publishes_in_flight_{0};
  friend class PublishScope;
};

}  // namespace replideploy::deploys
