// For tests: waiting until something another thread or process does has happened.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace replideploy::core::testing {

// How long a test waits for something that should happen at once. Far above what a loaded
// machine under the sanitizers takes, so only a broken feature reaches it: the bound stops a hung
// test, it is not a measure of speed.
inline constexpr std::chrono::seconds kWaitBound{60};

// Asks `done` every 10 ms until it says true or `bound` has passed; returns its last answer.
// For conditions nothing announces (a socket's state, a row in the database); when a test owns
// the thread that makes it true, a condition variable says it directly.
inline bool WaitUntil(const std::function<bool()>& done,
                      std::chrono::milliseconds bound = kWaitBound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace replideploy::core::testing
