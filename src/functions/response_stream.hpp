// The body of a streamed function response (a v2 `Response` whose body is a ReadableStream),
// handed from the thread reading it off the function's Runtime API socket to the thread
// sending it to the client. Bounded: the producer waits while kBufferBytes are unread (so a
// slow client slows the function down instead of filling memory), and the whole body is cut at
// kMaxStreamBytes. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace replideploy::functions {

class ResponseStream {
 public:
  static constexpr std::size_t kBufferBytes = std::size_t{1} << 20;
  // Netlify's limit on a streamed response payload.
  static constexpr std::size_t kMaxStreamBytes = std::size_t{20} << 20;

  // Producer. Adds `data`; waits while kBufferBytes are unread. False once the stream was
  // cancelled or finished, or when `data` would take it past kMaxStreamBytes (then it is
  // finished, incomplete).
  bool Push(std::string data);
  // Producer. The end: `complete` false when the body was cut (the function failed mid-way).
  void Finish(bool complete, std::string error = {});

  // Consumer. The next piece (never empty), or nullopt at the end, when cancelled, or when
  // `deadline` passes first (then the stream is cancelled and incomplete).
  std::optional<std::string> Next(std::chrono::steady_clock::time_point deadline);
  // After Next answered nullopt: whether the whole body came.
  bool complete() const;
  // Why it is incomplete ("" when complete or not finished).
  std::string error() const;
  // Consumer. Gives up (the client left): Push answers false from now on.
  void Cancel();
  bool cancelled() const;
  std::size_t total_bytes() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> pieces_;
  std::size_t buffered_ = 0;
  std::size_t total_ = 0;
  bool finished_ = false;
  bool complete_ = false;
  bool cancelled_ = false;
  std::string error_;
};

// The consumer's end of a streamed response, as FunctionRuntime hands it out: pieces until
// `deadline` (the call's timeout covers the whole stream), then `on_end(complete)` once, which
// frees the function's process (or kills it when the stream was cut short). Destroying it before
// the end cancels the stream (the client left). Next() blocks: call it off the I/O threads.
// One consumer thread at a time.
class StreamedBody {
 public:
  StreamedBody(std::shared_ptr<ResponseStream> stream,
               std::chrono::steady_clock::time_point deadline,
               std::function<void(bool complete)> on_end)
      : stream_(std::move(stream)), deadline_(deadline), on_end_(std::move(on_end)) {}
  ~StreamedBody();
  StreamedBody(const StreamedBody&) = delete;
  StreamedBody& operator=(const StreamedBody&) = delete;

  // The next piece, or nullopt at the end (complete() tells whether the whole body came).
  std::optional<std::string> Next();
  bool complete() const { return stream_->complete(); }
  void Cancel() { stream_->Cancel(); }

 private:
  void End();

  std::shared_ptr<ResponseStream> stream_;
  std::chrono::steady_clock::time_point deadline_;
  std::function<void(bool complete)> on_end_;
};

}  // namespace replideploy::functions
