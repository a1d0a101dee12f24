#include "functions/response_stream.hpp"

namespace replideploy::functions {

bool ResponseStream::Push(std::string data) {
  std::unique_lock lock(mu_);
  if (finished_ || cancelled_) return false;
  if (data.empty()) return true;
  if (total_ + data.size() > kMaxStreamBytes) {
    finished_ = true;
    error_ = "the streamed response is larger than 20 MB";
    cv_.notify_all();
    return false;
  }
  cv_.wait(lock, [&] { return buffered_ < kBufferBytes || cancelled_; });
  if (cancelled_) return false;
  total_ += data.size();
  buffered_ += data.size();
  pieces_.push_back(std::move(data));
  cv_.notify_all();
  return true;
}

void ResponseStream::Finish(bool complete, std::string error) {
  std::lock_guard lock(mu_);
  if (finished_) return;
  finished_ = true;
  complete_ = complete && !cancelled_;
  error_ = std::move(error);
  cv_.notify_all();
}

std::optional<std::string> ResponseStream::Next(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  const bool ready =
      cv_.wait_until(lock, deadline, [&] { return !pieces_.empty() || finished_ || cancelled_; });
  if (!pieces_.empty()) {
    std::string piece = std::move(pieces_.front());
    pieces_.pop_front();
    buffered_ -= piece.size();
    cv_.notify_all();
    return piece;
  }
  if (!ready) {
    cancelled_ = true;
    if (!finished_) {
      finished_ = true;
      error_ = "the function did not finish its streamed response in time";
    }
    cv_.notify_all();
  }
  return std::nullopt;
}

bool ResponseStream::complete() const {
  std::lock_guard lock(mu_);
  return finished_ && complete_ && pieces_.empty();
}

std::string ResponseStream::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

void ResponseStream::Cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  if (!finished_) {
    finished_ = true;
    error_ = "cancelled";
  }
  cv_.notify_all();
}

bool ResponseStream::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

std::size_t ResponseStream::total_bytes() const {
  std::lock_guard lock(mu_);
  return total_;
}

StreamedBody::~StreamedBody() {
  stream_->Cancel();
  End();
}

std::optional<std::string> StreamedBody::Next() {
  auto piece = stream_->Next(deadline_);
  if (!piece) End();
  return piece;
}

void StreamedBody::End() {
  if (!on_end_) return;
  auto on_end = std::move(on_end_);
  on_end_ = nullptr;
  on_end(stream_->complete());
}

}  // namespace replideploy::functions
