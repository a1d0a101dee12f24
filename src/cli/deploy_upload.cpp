#include "cli/deploy_upload.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>

#include "deploys/file_batch.hpp"
#include "http/client.hpp"

namespace replideploy::cli {

namespace json = boost::json;

namespace {

// Requests in flight at once.
constexpr std::size_t kParallelUploads = 8;
// Files up to this size travel in batches of up to kBatchBytes or kBatchFiles; larger ones alone.
// A small file costs the server far more per request than per byte.
constexpr std::uint64_t kBatchFileBytes = std::uint64_t{256} << 10;
constexpr std::uint64_t kBatchBytes = std::uint64_t{1} << 20;
constexpr std::size_t kBatchFiles = 200;
static_assert(kBatchFiles <= deploys::kMaxBatchFiles);

class Progress {
 public:
  Progress(std::size_t files, std::uint64_t bytes)
      : total_files_(files), total_bytes_(bytes), tty_(isatty(STDERR_FILENO)) {}
  void Add(std::size_t files, std::uint64_t bytes) {
    std::lock_guard lock(mu_);
    files_ += files;
    bytes_ += bytes;
    if (!tty_ && files_ != total_files_) return;
    const double fraction =
        total_bytes_ == 0 ? 1.0 : static_cast<double>(bytes_) / static_cast<double>(total_bytes_);
    const int filled = static_cast<int>(fraction * 30);
    fmt::print(stderr, "{}[{}{}] {}/{} files, {} / {}{}", tty_ ? "\r" : "",
               std::string(filled, '#'), std::string(30 - filled, ' '), files_, total_files_,
               HumanBytes(static_cast<double>(bytes_)),
               HumanBytes(static_cast<double>(total_bytes_)),
               tty_ && files_ != total_files_ ? "" : "\n");
  }

 private:
  std::mutex mu_;
  std::size_t files_ = 0;
  std::uint64_t bytes_ = 0;
  const std::size_t total_files_;
  const std::uint64_t total_bytes_;
  const bool tty_;
};

// One request's worth: several small files (a batch) or one file.
struct UploadJob {
  std::vector<const LocalFile*> files;
  bool batch = false;
  std::uint64_t bytes = 0;
};

std::vector<UploadJob> PlanUploads(const std::vector<const LocalFile*>& files) {
  std::vector<UploadJob> jobs;
  UploadJob batch{{}, true, 0};
  for (const LocalFile* f : files) {
    if (f->size > kBatchFileBytes) {
      jobs.push_back(UploadJob{{f}, false, f->size});
      continue;
    }
    if (!batch.files.empty() &&
        (batch.files.size() == kBatchFiles || batch.bytes + f->size > kBatchBytes)) {
      jobs.push_back(std::move(batch));
      batch = UploadJob{{}, true, 0};
    }
    batch.files.push_back(f);
    batch.bytes += f->size;
  }
  if (!batch.files.empty()) jobs.push_back(std::move(batch));
  return jobs;
}

Result<std::string> ReadFile(const LocalFile& f) {
  std::ifstream in(f.disk_path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kBadRequest, "cannot read " + f.disk_path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A request, tried again (up to 3 times in all) while the server is unreachable or failing.
template <typename Send>
Result<json::value> WithRetries(const Send& send) {
  Result<json::value> up = MakeError(ErrorCode::kUnavailable, "not tried");
  for (int attempt = 0; attempt < 3; ++attempt) {
    up = send();
    if (up.ok() || up.error().code != ErrorCode::kUnavailable) break;
  }
  return up;
}

class Uploader {
 public:
  Uploader(const ApiClient& client, const std::string& deploy_id, std::size_t files,
           std::uint64_t bytes)
      : client_(client), deploy_id_(deploy_id), progress_(files, bytes) {}

  // "" or "path: message".
  std::string Run(const std::vector<UploadJob>& jobs) {
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
      // Each thread keeps its connection to the API open from one request to the next.
      http::ClientConnection connection;
      for (std::size_t i = next++; i < jobs.size() && !Failed(); i = next++) {
        if (std::string error = Upload(jobs[i], connection); !error.empty()) {
          std::lock_guard lock(mu_);
          if (first_error_.empty()) first_error_ = std::move(error);
          return;
        }
      }
    };
    // Enough requests in flight to keep the server's handler threads busy while each waits on
    // the network, few enough not to queue behind each other.
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < std::min(kParallelUploads, jobs.size()); ++t) {
      threads.emplace_back(worker);
    }
    for (auto& t : threads) t.join();
    return first_error_;
  }

 private:
  bool Failed() {
    std::lock_guard lock(mu_);
    return !first_error_.empty();
  }

  std::string Upload(const UploadJob& job, http::ClientConnection& connection) {
    if (job.batch && !batches_unsupported_) {
      std::string body;
      body.reserve(job.bytes + job.files.size() * 64);
      for (const LocalFile* f : job.files) {
        auto bytes = ReadFile(*f);
        if (!bytes.ok()) return f->path + ": " + bytes.error().message;
        deploys::AppendToFileBatch(body, f->path, *bytes);
      }
      auto up = WithRetries([&] {
        return client_.UploadBatch("/api/v1/deploys/" + deploy_id_ + "/files", body, &connection);
      });
      if (up.ok()) {
        progress_.Add(job.files.size(), job.bytes);
        return "";
      }
      if (up.error().code != ErrorCode::kNotFound) {
        return job.files.front()->path + (job.files.size() > 1 ? " and others" : "") + ": " +
               up.error().message;
      }
      batches_unsupported_ = true;  // an older server: one file per request from now on
    }
    for (const LocalFile* f : job.files) {
      auto bytes = ReadFile(*f);
      if (!bytes.ok()) return f->path + ": " + bytes.error().message;
      auto up = WithRetries([&] {
        return client_.Upload("/api/v1/deploys/" + deploy_id_ + "/files" + EncodePath(f->path),
                              *bytes, &connection);
      });
      if (!up.ok()) return f->path + ": " + up.error().message;
      progress_.Add(1, f->size);
    }
    return "";
  }

  const ApiClient& client_;
  const std::string& deploy_id_;
  Progress progress_;
  std::atomic<bool> batches_unsupported_{false};
  std::mutex mu_;
  std::string first_error_;
};

}  // namespace

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KB", "MB", "GB"};
  int u = 0;
  while (bytes >= 1024 && u < 3) {
    bytes /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", bytes, units[u]);
}

std::string UploadDeployFiles(const ApiClient& client, const std::string& deploy_id,
                              const std::vector<const LocalFile*>& files) {
  std::uint64_t bytes = 0;
  for (const LocalFile* f : files) bytes += f->size;
  Uploader uploader(client, deploy_id, files.size(), bytes);
  return uploader.Run(PlanUploads(files));
}

}  // namespace replideploy::cli
