// A small S3 REST client on libcurl, for the S3 blob store: one call = one signed HTTP request,
// retried with exponential back-off and full jitter on connection errors, 5xx, 429 and S3's
// SlowDown. Internal to store/.
//
// Signing: every request carries an Authorization header made by core/sigv4.hpp, not by
// libcurl's CURLOPT_AWS_SIGV4. libcurl 7.88 hashes only CURLOPT_POSTFIELDS as the payload, so
// a PUT streamed from a file would be signed with the empty body's hash, and it picks its own
// set of signed headers; our signer takes the real payload hash and is checked against AWS's
// worked examples (core/sigv4_test.cpp). s3_blob_store_test.cpp checks that libcurl's
// CURLOPT_AWS_SIGV4 and ours give the same header for a GET with a pinned X-Amz-Date.
//
// Thread-safe: calls may run concurrently; each takes a curl handle from a small pool (whose
// connections are kept alive between calls).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "core/sigv4.hpp"

namespace replideploy::store {

using core::AmzDate;
using core::Sha256Hex;
using core::SigV4Authorization;
using core::SigV4Credentials;
using core::SigV4Request;
using core::SigV4UriEncode;

struct S3ClientOptions {
  // "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000": scheme, host, optional port.
  std::string endpoint;
  std::string region = "us-east-1";
  std::string bucket;
  // Path-style URLs (<endpoint>/<bucket>/<key>: MinIO, s3rver, most self-hosted servers), else
  // virtual-hosted (<scheme>://<bucket>.<host>/<key>: AWS, R2).
  bool path_style = false;
  SigV4Credentials credentials;
  // Attempts per request (1 = no retry); the wait before attempt n (n >= 2) is uniformly random
  // in [0, min(backoff_max, backoff_base * 2^(n-2))].
  int max_attempts = 6;
  std::chrono::milliseconds backoff_base{100};
  std::chrono::milliseconds backoff_max{10'000};
  std::chrono::seconds connect_timeout{10};
  // A transfer slower than 1 KiB/s for this long is abandoned (and retried).
  std::chrono::seconds low_speed_time{30};
  // The clock of x-amz-date; tests pin it.
  std::function<std::chrono::system_clock::time_point()> clock = [] {
    return std::chrono::system_clock::now();
  };
};

// A request body: bytes in memory, or a range of an open file (read with pread, so a retry
// sends it again from the start).
struct S3Body {
  std::string_view data;
  int fd = -1;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::string sha256;  // hex SHA-256 of the body; computed when empty
};

struct S3Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lowercased; the last value of each
  std::string body;                            // empty when streamed to a sink that took it
  std::uint32_t attempts = 0;
};

struct S3Request {
  std::string method;
  std::string key;  // object key (unencoded); empty for the bucket itself
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, all signed
  S3Body body;
  // For GETs: a 2xx body is written here instead of into S3Response::body. It is truncated
  // to 0 before every attempt.
  int sink_fd = -1;
};

class S3Client {
 public:
  explicit S3Client(S3ClientOptions options);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // Sends the request until it gets an answer that is not worth retrying, or attempts run out.
  // Any HTTP status that comes back is a success here (the caller reads it), except that a
  // retryable status on the last attempt is kUnavailable. Transport failures on every attempt
  // are kUnavailable with libcurl's message (logged).
  Result<S3Response> Send(const S3Request& request);

  const S3ClientOptions& options() const { return options_; }  // NOLINT

  // The URL and Host header a key is sent to (for tests and logs).
  std::pair<std::string, std::string> UrlAndHost(std::string_view key) const;

 private:
  void* TakeHandle();
  void ReturnHandle(void* handle);
  std::chrono::milliseconds Backoff(int attempt);

  S3ClientOptions options_;
  std::string scheme_;
  std::string authority_;  // host[:port] of the endpoint
  std::string base_path_;  // the endpoint's path, without a trailing '/'
  std::mutex mu_;
  std::vector<void*> handles_;
  std::mt19937_64 rng_;
};

// One line of a response head as libcurl's header callback gets it: the lower-cased name and the
// trimmed value; nullopt for a status line, the blank line or a line without ':'. (Also used by
// functions/lambda_runner.cpp.)
std::optional<std::pair<std::string, std::string>> ParseHeaderLine(std::string_view line);

// Whether an S3 answer asks to be tried again: 5xx, 429, or an error body with SlowDown.
bool IsRetryableS3Status(long status, std::string_view body);

// The text of the first <tag>...</tag> in `xml` (entities decoded), or "" when absent.
std::string XmlText(std::string_view xml, std::string_view tag);
// The inner text of every <tag>...</tag> in `xml`, in order.
std::vector<std::string_view> XmlElements(std::string_view xml, std::string_view tag);

// Seconds since the epoch of "2026-12-06T02:05:00.000Z" (ISO 8601, as in ListObjectsV2) or
// "Sun, 06 Dec 2026 02:05:00 GMT" (an HTTP date, as in Last-Modified). nullopt otherwise.
std::optional<std::chrono::system_clock::time_point> ParseS3Time(std::string_view text);

}  // namespace replideploy::store
