// Time as a seam: services take a Clock so tests can move time by hand.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stop_token>
#include <string>

namespace replideploy::core {

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual std::int64_t NowMillis() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t NowMillis() const override;
};

// For tests: time stands still until moved.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t start_millis) : now_(start_millis) {}
  std::int64_t NowMillis() const override { return now_.load(); }
  void Advance(std::int64_t millis) { now_ += millis; }

 private:
  std::atomic<std::int64_t> now_;
};

// "2026-11-25T21:21:08.123Z" (UTC, millisecond precision), as Netlify's API renders times.
std::string FormatIso8601(std::int64_t unix_millis);

// Sleeps for `duration` unless `stop` is requested first (then returns at once). True when it
// slept the whole time.
bool SleepUnlessStopped(const std::stop_token& stop, std::chrono::milliseconds duration);

}  // namespace replideploy::core
