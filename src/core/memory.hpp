// The process's heap: giving freed memory back to the system. glibc keeps what a thread frees in
// that thread's arena (up to 8 per core), so after a burst of transient work (processing a
// deploy) the RSS stays at its peak unless asked to return it. Elsewhere these do nothing.
#pragma once

namespace replideploy::core {

// Caps glibc's malloc arenas (M_ARENA_MAX) at `arenas` (>= 1); call once at start-up, before
// threads start. Unless MALLOC_ARENA_MAX is set in the environment, which wins.
void LimitMallocArenas(int arenas);

// Returns free heap pages of every arena to the system (malloc_trim). Takes a few milliseconds
// on a large heap: after bursts of work, not per request. Thread-safe.
void ReleaseFreeMemory();

}  // namespace replideploy::core
