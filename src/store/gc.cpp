#include "store/gc.hpp"

#include <spdlog/spdlog.h>

namespace replideploy::store {

Result<GcStats> CollectGarbage(BlobStore& store, const std::unordered_set<std::string>& live,
                               std::chrono::seconds grace,
                               std::chrono::system_clock::time_point now) {
  const auto cutoff = now - grace;
  RD_TRY(std::vector<StoredBlob> blobs, store.List());
  GcStats stats;
  stats.scanned = blobs.size();
  for (StoredBlob& blob : blobs) {
    if (live.contains(blob.sha256)) {
      ++stats.live;
      continue;
    }
    // The listed mtime only saves a call; DeleteIfOlderThan decides again, atomically.
    if (blob.mtime >= cutoff) {
      ++stats.young;
      continue;
    }
    Result<bool> deleted = store.DeleteIfOlderThan(blob.sha256, cutoff);
    if (!deleted.ok()) {
      spdlog::warn("blob gc: cannot delete {}: {}", blob.sha256, deleted.error().message);
      ++stats.failed;
    } else if (*deleted) {
      ++stats.deleted;
      stats.bytes_freed += blob.size;
      stats.deleted_sha256.push_back(std::move(blob.sha256));
    } else {
      ++stats.young;  // claimed since it was listed, or already gone
    }
  }
  return stats;
}

}  // namespace replideploy::store
