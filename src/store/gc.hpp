// Garbage collection of blobs no deploy references any more: mark (the caller computes the set
// of live digests) and sweep (here).
//
// Why no blob a deploy needs is ever deleted, given the protocol below:
//   1. The caller takes `now`, then computes `live`: every SHA-256 referenced by any deploy
//      that is not deleted, whatever its state (including deploys still uploading), and any
//      other reference it keeps (function zips, build caches).
//   2. A deploy service records which blobs a deploy needs before it relies on them, and it
//      relies on a stored blob only after claiming it: by storing it (Put / Commit, which set
//      the mtime to the time of the write, or claim existing content) or with Touch.
//   3. Here, each blob outside `live` is removed by DeleteIfOlderThan(now - grace), which
//      decides and deletes atomically with respect to claims of the same digest.
// Take a blob B that deploy D needs. If D recorded B before `live` was computed, B is live and
// kept. Otherwise D claims B after `now`, so B's mtime after the claim is later than
// now - grace: either the claim comes first and the sweep finds B young, or the sweep comes
// first and the claim finds B absent (Touch returns false), so D uploads it again. `grace`
// covers file-system timestamp granularity and clock differences between hosts, and lets
// operators see what is about to go: use minutes to hours, not zero.
//
// The caller removes its own records of deleted blobs (e.g. rows of a blobs table) afterwards,
// for the digests in GcStats::deleted_sha256.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/result.hpp"
#include "store/blob_store.hpp"

namespace replideploy::store {

struct GcStats {
  std::uint64_t scanned = 0;      // blobs listed
  std::uint64_t live = 0;         // kept: in the live set
  std::uint64_t young = 0;        // kept: unreferenced but written or claimed within grace
  std::uint64_t deleted = 0;      // removed with their variants
  std::uint64_t bytes_freed = 0;  // identity bytes of the removed blobs (variants not counted)
  std::uint64_t failed = 0;       // deletions that failed (logged); tried again next time
  std::vector<std::string> deleted_sha256;
};

// Deletes every blob of `store` that is not in `live` and whose mtime is before now - grace.
// `now` must have been taken before `live` was computed (see above). A failed deletion is
// logged and counted, and the sweep goes on; the result is an error only when the store
// cannot be listed. Blocking: it visits every blob.
Result<GcStats> CollectGarbage(BlobStore& store, const std::unordered_set<std::string>& live,
                               std::chrono::seconds grace,
                               std::chrono::system_clock::time_point now);

}  // namespace replideploy::store
