#include "http/client.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <cctype>
#include <memory>
#include <mutex>

#include "core/text.hpp"

namespace replideploy::http {

namespace {

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct EasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
// curl_slist_append returns the list's new head, or null (leaving the list as it was).
class HeaderList {
 public:
  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  ~HeaderList() { curl_slist_free_all(list_); }

  bool Append(const std::string& line) {
    curl_slist* head = curl_slist_append(list_, line.c_str());
    if (head == nullptr) return false;
    list_ = head;
    return true;
  }
  curl_slist* Head() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

using core::EqualsIgnoreCase;

struct BodySink {
  ClientResponse* response;
  std::size_t limit;
};

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  if (sink->limit != 0 && sink->response->body.size() + size * count > sink->limit) {
    return 0;  // makes curl fail the transfer with CURLE_WRITE_ERROR
  }
  sink->response->body.append(data, size * count);
  return size * count;
}

size_t WriteHeader(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<ClientResponse*>(user);
  const std::string_view line = Trim(std::string_view(data, size * count));
  // Every status line ("HTTP/1.1 100 Continue", then the final one) starts a fresh header set,
  // so only the final response's headers remain.
  if (line.starts_with("HTTP/")) {
    response->headers = Headers();
    return size * count;
  }
  const std::size_t colon = line.find(':');
  if (colon != std::string_view::npos && colon > 0) {
    response->headers.Add(std::string(Trim(line.substr(0, colon))),
                          std::string(Trim(line.substr(colon + 1))));
  }
  return size * count;
}

// Whether the request carries a body (POST, PUT and PATCH always do, if empty).
bool HasBody(const ClientRequest& request) {
  return !request.body.empty() || request.method == "POST" || request.method == "PUT" ||
         request.method == "PATCH";
}

// The request's headers as curl lines; fails on a header that would break the request's framing.
Status AppendHeaders(const ClientRequest& request, HeaderList& header_list) {
  bool has_content_type = false;
  for (const auto& [name, value] : request.headers.All()) {
    if (name.empty() || HasLineBreakOrNul(name) || HasLineBreakOrNul(value) ||
        name.find(':') != std::string::npos) {
      return MakeError(ErrorCode::kBadRequest, fmt::format("invalid request header '{}'", name));
    }
    if (EqualsIgnoreCase(name, "Content-Type")) has_content_type = true;
    // curl reads "Name:" as "do not send the header you would add" (Expect, Accept, ...).
    const std::string line = value.empty() ? name + ":" : fmt::format("{}: {}", name, value);
    if (!header_list.Append(line)) return MakeError(ErrorCode::kInternal, "out of memory");
  }
  if (HasBody(request) && !has_content_type) {
    // Otherwise curl labels every body as a form.
    if (!header_list.Append("Content-Type:")) {
      return MakeError(ErrorCode::kInternal, "out of memory");
    }
  }
  return {};
}

// The method, and the body when there is one (curl reads it from `request`, which must outlive
// the transfer).
void SetMethodAndBody(CURL* h, const ClientRequest& request) {
  const bool has_body = HasBody(request);
  if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method == "GET" && !has_body) {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else {
    if (has_body) {
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    }
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
}

// A failed transfer as an error: a bad URL is the caller's (kBadRequest), anything else
// kUnavailable.
Error TransferError(CURLcode code, const char* error_buffer, const ClientRequest& request) {
  const std::string detail = error_buffer[0] != '\0' ? std::string(Trim(error_buffer))
                                                     : std::string(curl_easy_strerror(code));
  const ErrorCode error_code = (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL)
                                   ? ErrorCode::kBadRequest
                                   : ErrorCode::kUnavailable;
  return MakeError(error_code, fmt::format("{} {}: {}", request.method, request.url, detail));
}

}  // namespace

namespace {

// One request on `h`, reset first: options do not carry over, its open connections do.
Result<ClientResponse> FetchOn(CURL* h, const ClientRequest& request) {
  curl_easy_reset(h);
  HeaderList header_list;
  RD_TRY_STATUS(AppendHeaders(request, header_list));

  ClientResponse response;
  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROXY, "");
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(h, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &WriteBody);
  BodySink sink{&response, request.max_response_bytes};
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_slist* resolve = nullptr;
  if (!request.connect_to.empty()) {
    resolve = curl_slist_append(nullptr, request.connect_to.c_str());
    curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
  }
  struct SlistDeleter {
    curl_slist* list;
    ~SlistDeleter() { curl_slist_free_all(list); }
  } resolve_guard{resolve};
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &WriteHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &response);
  if (header_list.Head() != nullptr) curl_easy_setopt(h, CURLOPT_HTTPHEADER, header_list.Head());
  SetMethodAndBody(h, request);

  const CURLcode code = curl_easy_perform(h);
  if (code != CURLE_OK) return TransferError(code, error_buffer, request);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace

Result<ClientResponse> Fetch(const ClientRequest& request) {
  GlobalInitOnce();
  std::unique_ptr<CURL, EasyDeleter> curl(curl_easy_init());
  if (!curl) return MakeError(ErrorCode::kInternal, "cannot create an HTTP client handle");
  return FetchOn(curl.get(), request);
}

ClientConnection::ClientConnection() {
  GlobalInitOnce();
  handle_ = curl_easy_init();
}

ClientConnection::~ClientConnection() {
  if (handle_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(handle_));
}

Result<ClientResponse> ClientConnection::Fetch(const ClientRequest& request) {
  if (handle_ == nullptr)
    return MakeError(ErrorCode::kInternal, "cannot create an HTTP client handle");
  return FetchOn(static_cast<CURL*>(handle_), request);
}

}  // namespace replideploy::http
