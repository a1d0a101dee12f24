#include "store/s3_client.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <memory>
#include <thread>

#include "core/crypto.hpp"

namespace replideploy::store {

namespace {

constexpr std::size_t kMaxErrorBody = 64 * 1024;

struct Transfer {
  const S3Request* request = nullptr;
  S3Response* response = nullptr;
  std::uint64_t sent = 0;
  bool sink_failed = false;
  CURL* curl = nullptr;
};

std::size_t OnHeader(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {  // a new response (after 100 Continue or a redirect)
    t->response->headers.clear();
    return size * n;
  }
  if (auto header = ParseHeaderLine(line)) t->response->headers[header->first] = header->second;
  return size * n;
}

std::size_t OnBody(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t bytes = size * n;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (t->request->sink_fd >= 0 && status >= 200 && status < 300) {
    std::size_t done = 0;
    while (done < bytes) {
      const ssize_t w = ::write(t->request->sink_fd, data + done, bytes - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        t->sink_failed = true;
        return 0;  // aborts the transfer
      }
      done += static_cast<std::size_t>(w);
    }
    return bytes;
  }
  // Error bodies are small XML documents; object bodies read into memory are the caller's.
  if (t->request->sink_fd >= 0 && t->response->body.size() > kMaxErrorBody) return bytes;
  t->response->body.append(data, bytes);
  return bytes;
}

std::size_t OnRead(char* buffer, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const S3Body& body = t->request->body;
  const std::uint64_t total = body.fd >= 0 ? body.length : body.data.size();
  const std::size_t want =
      static_cast<std::size_t>(std::min<std::uint64_t>(size * n, total - t->sent));
  if (want == 0) return 0;
  if (body.fd < 0) {
    std::memcpy(buffer, body.data.data() + t->sent, want);
    t->sent += want;
    return want;
  }
  for (;;) {
    const ssize_t r = ::pread(body.fd, buffer, want, static_cast<off_t>(body.offset + t->sent));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return CURL_READFUNC_ABORT;
    t->sent += static_cast<std::uint64_t>(r);
    return static_cast<std::size_t>(r);
  }
}

Result<std::string> Sha256OfFileRange(int fd, std::uint64_t offset, std::uint64_t length) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return MakeError(ErrorCode::kInternal, "hashing failed");
  }
  std::string buffer(std::size_t{256} * 1024, '\0');
  std::uint64_t done = 0;
  while (done < length) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), length - done));
    const ssize_t r = ::pread(fd, buffer.data(), want, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return MakeError(ErrorCode::kInternal, "cannot read the upload's file");
    if (EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<std::size_t>(r)) != 1) {
      return MakeError(ErrorCode::kInternal, "hashing failed");
    }
    done += static_cast<std::uint64_t>(r);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &digest_len) != 1) {
    return MakeError(ErrorCode::kInternal, "hashing failed");
  }
  return core::HexEncode(std::string_view(reinterpret_cast<const char*>(digest), digest_len));
}

}  // namespace

std::optional<std::pair<std::string, std::string>> ParseHeaderLine(std::string_view line) {
  const auto colon = line.find(':');
  if (line.starts_with("HTTP/") || colon == std::string_view::npos) return std::nullopt;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  return std::make_pair(std::move(name), std::string(value));
}

bool IsRetryableS3Status(long status, std::string_view body) {
  if (status >= 500 || status == 429) return true;
  return body.find("<Code>SlowDown</Code>") != std::string_view::npos;
}

S3Client::S3Client(S3ClientOptions options)
    : options_(std::move(options)), rng_(std::random_device{}()) {
  std::string_view endpoint = options_.endpoint;
  const auto scheme_end = endpoint.find("://");
  scheme_ =
      scheme_end == std::string_view::npos ? "https" : std::string(endpoint.substr(0, scheme_end));
  if (scheme_end != std::string_view::npos) endpoint.remove_prefix(scheme_end + 3);
  const auto slash = endpoint.find('/');
  authority_ = std::string(endpoint.substr(0, slash));
  if (slash != std::string_view::npos) {
    base_path_ = std::string(endpoint.substr(slash));
    while (!base_path_.empty() && base_path_.back() == '/') base_path_.pop_back();
  }
}

S3Client::~S3Client() {
  for (void* handle : handles_) curl_easy_cleanup(static_cast<CURL*>(handle));
}

void* S3Client::TakeHandle() {
  {
    std::lock_guard lock(mu_);
    if (!handles_.empty()) {
      void* handle = handles_.back();
      handles_.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void S3Client::ReturnHandle(void* handle) {
  std::lock_guard lock(mu_);
  if (handles_.size() < 16) {
    handles_.push_back(handle);
    return;
  }
  curl_easy_cleanup(static_cast<CURL*>(handle));
}

std::chrono::milliseconds S3Client::Backoff(int attempt) {
  const auto cap = std::min<std::int64_t>(options_.backoff_max.count(),
                                          options_.backoff_base.count() << std::min(attempt, 20));
  std::lock_guard lock(mu_);
  return std::chrono::milliseconds(
      std::uniform_int_distribution<std::int64_t>(0, std::max<std::int64_t>(cap, 0))(rng_));
}

std::pair<std::string, std::string> S3Client::UrlAndHost(std::string_view key) const {
  std::string path = base_path_;
  std::string host = authority_;
  if (options_.path_style) {
    path += "/" + options_.bucket;
  } else {
    host = options_.bucket + "." + authority_;
  }
  path += "/";
  path.append(key);
  return {scheme_ + "://" + host + SigV4UriEncode(path, false), host};
}

Result<S3Response> S3Client::Send(const S3Request& request) {
  S3Body body = request.body;
  const std::uint64_t body_size = body.fd >= 0 ? body.length : body.data.size();
  if (body.sha256.empty()) {
    if (body.fd >= 0) {
      RD_TRY(body.sha256, Sha256OfFileRange(body.fd, body.offset, body.length));
    } else {
      body.sha256 = Sha256Hex(body.data);
    }
  }
  S3Request effective = request;
  effective.body = body;

  auto [url, host] = UrlAndHost(request.key);
  // The signer encodes the path itself: give it the decoded form.
  std::string decoded_path =
      base_path_ + (options_.path_style ? "/" + options_.bucket : "") + "/" + request.key;
  std::string query_string;
  {
    std::vector<std::pair<std::string, std::string>> q;
    for (const auto& [k, v] : request.query)
      q.emplace_back(SigV4UriEncode(k, true), SigV4UriEncode(v, true));
    std::sort(q.begin(), q.end());
    for (const auto& [k, v] : q) {
      query_string += query_string.empty() ? "?" : "&";
      query_string += k + "=" + v;
    }
  }
  url += query_string;

  S3Response response;
  std::string last_error;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (attempt > 1) std::this_thread::sleep_for(Backoff(attempt - 2));
    response = S3Response{};
    response.attempts = static_cast<std::uint32_t>(attempt);
    if (request.sink_fd >= 0) {
      if (::ftruncate(request.sink_fd, 0) != 0 || ::lseek(request.sink_fd, 0, SEEK_SET) != 0) {
        return MakeError(ErrorCode::kInternal, "cannot reset the download's file");
      }
    }

    const std::string amz_date = AmzDate(
        std::chrono::duration_cast<std::chrono::seconds>(options_.clock().time_since_epoch())
            .count());
    SigV4Request to_sign;
    to_sign.method = request.method;
    to_sign.path = decoded_path;
    to_sign.query = request.query;
    to_sign.payload_sha256 = body.sha256;
    to_sign.headers = {
        {"host", host}, {"x-amz-content-sha256", body.sha256}, {"x-amz-date", amz_date}};
    if (!options_.credentials.session_token.empty()) {
      to_sign.headers.emplace_back("x-amz-security-token", options_.credentials.session_token);
    }
    for (const auto& h : request.headers) to_sign.headers.push_back(h);

    curl_slist* headers = nullptr;
    for (const auto& [name, value] : to_sign.headers) {
      headers = curl_slist_append(headers, (name + ": " + value).c_str());
    }
    if (!options_.credentials.access_key_id.empty()) {
      const std::string authorization =
          SigV4Authorization(to_sign, options_.credentials, options_.region, "s3");
      headers = curl_slist_append(headers, ("Authorization: " + authorization).c_str());
    }
    headers = curl_slist_append(headers, "Expect:");
    headers = curl_slist_append(headers, "Accept:");
    if (body_size == 0 && request.method != "GET" && request.method != "HEAD" &&
        request.method != "DELETE") {
      headers = curl_slist_append(headers, "Content-Length: 0");
    }

    CURL* curl = static_cast<CURL*>(TakeHandle());
    if (curl == nullptr) {
      curl_slist_free_all(headers);
      return MakeError(ErrorCode::kInternal, "curl_easy_init failed");
    }
    curl_easy_reset(curl);
    Transfer transfer{&effective, &response, 0, false, curl};
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count() * 1000));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(options_.low_speed_time.count()));
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (request.method == "HEAD") {
      curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (request.method == "PUT" || (request.method == "POST" && body_size > 0)) {
      curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl, CURLOPT_READFUNCTION, OnRead);
      curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
      curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body_size));
      if (request.method == "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "POST");
    } else if (request.method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POST, 1L);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    } else if (request.method != "GET") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    const CURLcode code = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    curl_slist_free_all(headers);
    if (code != CURLE_OK) {
      // A handle whose transfer broke keeps no connection worth reusing.
      curl_easy_cleanup(curl);
      if (transfer.sink_failed) {
        return MakeError(ErrorCode::kUnavailable, "cannot write the downloaded object");
      }
      last_error = curl_easy_strerror(code);
      spdlog::warn("s3: {} {}: attempt {}: {}", request.method, request.key, attempt, last_error);
      continue;
    }
    ReturnHandle(curl);
    if (IsRetryableS3Status(response.status, response.body)) {
      last_error = "HTTP " + std::to_string(response.status);
      spdlog::warn("s3: {} {}: attempt {}: HTTP {} {}", request.method, request.key, attempt,
                   response.status, XmlText(response.body, "Code"));
      continue;
    }
    return response;
  }
  spdlog::error("s3: {} {}: giving up after {} attempts: {}", request.method, request.key,
                options_.max_attempts, last_error);
  return MakeError(ErrorCode::kUnavailable, "the object store is unavailable");
}

std::vector<std::string_view> XmlElements(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> out;
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  std::size_t pos = 0;
  for (;;) {
    const auto start = xml.find(open, pos);
    if (start == std::string_view::npos) break;
    const auto end = xml.find(close, start + open.size());
    if (end == std::string_view::npos) break;
    out.push_back(xml.substr(start + open.size(), end - start - open.size()));
    pos = end + close.size();
  }
  return out;
}

std::string XmlText(std::string_view xml, std::string_view tag) {
  auto elements = XmlElements(xml, tag);
  if (elements.empty()) return {};
  std::string out;
  std::string_view text = elements.front();
  static constexpr std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  for (std::size_t i = 0; i < text.size();) {
    bool replaced = false;
    if (text[i] == '&') {
      for (const auto& [entity, c] : kEntities) {
        if (text.substr(i, entity.size()) == entity) {
          out.push_back(c);
          i += entity.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out.push_back(text[i++]);
  }
  return out;
}

std::optional<std::chrono::system_clock::time_point> ParseS3Time(std::string_view text) {
  std::tm tm{};
  const std::string s(text);
  const char* end = ::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
  if (end == nullptr) return std::nullopt;
  const std::time_t t = ::timegm(&tm);
  auto when = std::chrono::system_clock::from_time_t(t);
  // Milliseconds of the ISO form, when given.
  if (*end == '.') {
    int ms = 0;
    int digits = 0;
    for (const char* p = end + 1; *p >= '0' && *p <= '9' && digits < 3; ++p, ++digits) {
      ms = ms * 10 + (*p - '0');
    }
    while (digits++ < 3) ms *= 10;
    when += std::chrono::milliseconds(ms);
  }
  return when;
}

}  // namespace replideploy::store
