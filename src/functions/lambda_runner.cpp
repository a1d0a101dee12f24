#include "functions/lambda_runner.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <memory>
#include <thread>

#include "core/crypto.hpp"
#include "functions/background.hpp"
#include "store/s3_client.hpp"

namespace replideploy::functions {

namespace json = boost::json;

namespace {

constexpr std::string_view kApi = "/2015-03-31/functions";

FunctionResponse TextAnswer(int status, std::string text) {
  FunctionResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(text);
  return r;
}

std::int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Lambda's reserved variables (and ours) cannot be set on a function: CreateFunction refuses
// them.
bool IsReservedVariable(std::string_view key) {
  return key.starts_with("AWS_") || key.starts_with("LAMBDA_") || key.starts_with("_");
}

// AWS's error shape: the x-amzn-ErrorType header ("Name:http://..." at times), else the body's
// "__type" / "Type" ("...#Name" at times); "message" / "Message".
struct AwsError {
  std::string type;
  std::string message;
};

AwsError ParseAwsError(const LambdaRunner::ApiResponse& r) {
  AwsError e;
  if (auto it = r.headers.find("x-amzn-errortype"); it != r.headers.end()) {
    e.type = it->second.substr(0, it->second.find(':'));
  }
  json::error_code ec;
  const json::value v = json::parse(r.body, ec);
  if (!ec && v.is_object()) {
    const json::object& o = v.as_object();
    for (const char* key : {"__type", "Type"}) {
      if (const auto* t = o.if_contains(key); e.type.empty() && t && t->is_string()) {
        std::string type(t->as_string());
        if (const auto hash = type.rfind('#'); hash != std::string::npos) type.erase(0, hash + 1);
        e.type = type;
      }
    }
    for (const char* key : {"message", "Message", "errorMessage"}) {
      if (const auto* m = o.if_contains(key); e.message.empty() && m && m->is_string()) {
        e.message = std::string(m->as_string());
      }
    }
  }
  if (e.message.empty()) e.message = r.body.substr(0, 512);
  return e;
}

std::string Describe(const LambdaRunner::ApiResponse& r) {
  const AwsError e = ParseAwsError(r);
  return std::to_string(r.status) + " " + (e.type.empty() ? "error" : e.type) + ": " + e.message;
}

std::size_t OnHeader(char* data, std::size_t size, std::size_t n, void* user) {
  auto* r = static_cast<LambdaRunner::ApiResponse*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    r->headers.clear();
    return size * n;
  }
  if (auto header = store::ParseHeaderLine(line)) r->headers[header->first] = header->second;
  return size * n;
}

std::size_t OnBody(char* data, std::size_t size, std::size_t n, void* user) {
  auto* r = static_cast<LambdaRunner::ApiResponse*>(user);
  // Lambda's synchronous answers are at most 6 MB; a little room for the JSON around them.
  if (r->body.size() + size * n > kMaxBodyBytes * 2) return 0;
  r->body.append(data, size * n);
  return size * n;
}

la_ssize_t AppendToString(archive* /*a*/, void* user, const void* buffer, std::size_t length) {
  static_cast<std::string*>(user)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

}  // namespace

std::string LambdaFunctionName(std::string_view prefix, std::string_view bundle_sha256,
                               const FunctionEnvironment& environment) {
  json::array vars;
  for (const auto& [key, value] : environment.vars) vars.emplace_back(json::array{key, value});
  const std::string env_hash = core::Sha256Hex(json::serialize(vars));
  return std::string(prefix) + "-" + std::string(bundle_sha256.substr(0, 20)) + "-" +
         env_hash.substr(0, 12);
}

Result<std::string> AddLambdaHandler(std::string_view zip) {
  std::string out;
  std::unique_ptr<archive, decltype(&archive_read_free)> in(archive_read_new(), archive_read_free);
  std::unique_ptr<archive, decltype(&archive_write_free)> w(archive_write_new(),
                                                            archive_write_free);
  archive_read_support_format_zip(in.get());
  archive_write_set_format_zip(w.get());
  archive_write_set_bytes_in_last_block(w.get(), 1);
  if (archive_read_open_memory(in.get(), zip.data(), zip.size()) != ARCHIVE_OK ||
      archive_write_open2(w.get(), &out, nullptr, AppendToString, nullptr, nullptr) != ARCHIVE_OK) {
    return Unprocessable("bad_bundle", "the function's zip cannot be read");
  }
  auto bad = [&in] {
    return Unprocessable("bad_bundle", std::string("the function's zip cannot be read: ") +
                                           archive_error_string(in.get()));
  };
  archive_entry* entry = nullptr;
  std::vector<char> buffer(std::size_t{64} << 10);
  for (;;) {
    const int r = archive_read_next_header(in.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK) return bad();
    if (std::string_view(archive_entry_pathname(entry)) == kLambdaHandlerFile) continue;
    if (archive_write_header(w.get(), entry) != ARCHIVE_OK) return bad();
    for (;;) {
      const la_ssize_t got = archive_read_data(in.get(), buffer.data(), buffer.size());
      if (got < 0) return bad();
      if (got == 0) break;
      archive_write_data(w.get(), buffer.data(), static_cast<std::size_t>(got));
    }
  }
  const std::string_view script = LambdaHandlerScript();
  archive_entry* ours = archive_entry_new();
  archive_entry_set_pathname(ours, std::string(kLambdaHandlerFile).c_str());
  archive_entry_set_filetype(ours, AE_IFREG);
  archive_entry_set_perm(ours, 0644);
  archive_entry_set_size(ours, static_cast<la_int64_t>(script.size()));
  archive_write_header(w.get(), ours);
  archive_write_data(w.get(), script.data(), script.size());
  archive_entry_free(ours);
  if (archive_write_close(w.get()) != ARCHIVE_OK) {
    return Unprocessable("bad_bundle", "the function's zip cannot be rewritten");
  }
  return out;
}

Result<std::unique_ptr<LambdaRunner>> LambdaRunner::Create(store::BlobStore& blobs,
                                                           LambdaOptions options) {
  if (options.region.empty()) {
    return MakeError(ErrorCode::kBadRequest, "functions-runner lambda needs lambda-region");
  }
  if (options.role_arn.empty()) {
    return MakeError(ErrorCode::kBadRequest,
                     "functions-runner lambda needs lambda-role-arn (the functions' execution "
                     "role)");
  }
  if (options.credentials.access_key_id.empty() || options.credentials.secret_access_key.empty()) {
    return MakeError(ErrorCode::kBadRequest,
                     "functions-runner lambda needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  }
  if (options.endpoint.empty()) {
    options.endpoint = "https://lambda." + options.region + ".amazonaws.com";
  }
  while (options.endpoint.ends_with('/')) options.endpoint.pop_back();
  if (!options.endpoint.starts_with("https://") && !options.endpoint.starts_with("http://")) {
    return MakeError(ErrorCode::kBadRequest, "lambda-endpoint must be an http(s):// URL");
  }
  const auto& p = options.function_prefix;
  if (p.empty() || p.size() > 30 || !std::all_of(p.begin(), p.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      })) {
    return MakeError(ErrorCode::kBadRequest,
                     "lambda-function-prefix must be 1 to 30 letters, digits, '-' or '_'");
  }
  return std::unique_ptr<LambdaRunner>(new LambdaRunner(blobs, std::move(options)));
}

LambdaRunner::LambdaRunner(store::BlobStore& blobs, LambdaOptions options)
    : blobs_(blobs), options_(std::move(options)) {}

LambdaRunner::~LambdaRunner() {
  for (void* h : handles_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* LambdaRunner::TakeHandle() {
  {
    std::lock_guard lock(mu_);
    if (!handles_.empty()) {
      void* h = handles_.back();
      handles_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void LambdaRunner::ReturnHandle(void* handle) {
  std::lock_guard lock(mu_);
  if (handles_.size() < 16) {
    handles_.push_back(handle);
    return;
  }
  curl_easy_cleanup(static_cast<CURL*>(handle));
}

Result<LambdaRunner::ApiResponse> LambdaRunner::Call(
    std::string_view method, std::string_view path, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers,
    std::chrono::milliseconds timeout) {
  CURL* curl = static_cast<CURL*>(TakeHandle());
  if (curl == nullptr) return MakeError(ErrorCode::kInternal, "curl_easy_init failed");
  curl_easy_reset(curl);  // keeps the connection cache
  ApiResponse response;
  const std::string url = options_.endpoint + std::string(path);
  const std::string sigv4 = "aws:amz:" + options_.region + ":lambda";
  curl_slist* list = nullptr;
  for (const auto& [name, value] : headers) {
    std::string line = name;
    line += ": ";
    line += value;
    list = curl_slist_append(list, line.c_str());
  }
  if (!options_.credentials.session_token.empty()) {
    list = curl_slist_append(
        list, ("X-Amz-Security-Token: " + options_.credentials.session_token).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    if (method != "POST")
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, std::string(method).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(curl, CURLOPT_USERNAME, options_.credentials.access_key_id.c_str());
  curl_easy_setopt(curl, CURLOPT_PASSWORD, options_.credentials.secret_access_key.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count() * 1000));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  const CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(list);
  ReturnHandle(curl);
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return MakeError(ErrorCode::kUnavailable, "timeout",
                     "Lambda did not answer within " + SecondsText(timeout));
  }
  if (rc != CURLE_OK) {
    return MakeError(ErrorCode::kUnavailable, std::string("Lambda API: ") + curl_easy_strerror(rc));
  }
  return response;
}

Result<FunctionEnvironment> LambdaRunner::EnvironmentOf(const FunctionRequest& request) {
  FunctionEnvironment env;
  if (options_.environment) {
    RD_TRY(FunctionEnvironment got, options_.environment(request));
    env = std::move(got);
  }
  // Our adapter finds the entry <name>.mjs etc. by it, as the local bootstrap does.
  env.vars.emplace_back("RD_FUNCTION_NAME", request.function_name);
  return env;
}

Result<std::string> LambdaRunner::EnsureFunction(const FunctionRequest& request) {
  RD_TRY(FunctionEnvironment env, EnvironmentOf(request));
  return Create(request, LambdaFunctionName(options_.function_prefix, request.bundle_sha256, env),
                env);
}

Result<std::string> LambdaRunner::Create(const FunctionRequest& request, const std::string& name,
                                         const FunctionEnvironment& environment) {
  std::lock_guard create(create_mu_);
  {
    std::lock_guard lock(mu_);
    if (ready_.contains(name)) return name;
  }
  RD_TRY(std::string zip, blobs_.Read(request.bundle_sha256, store::Variant::kIdentity));
  RD_TRY(std::string upload, AddLambdaHandler(zip));
  json::object vars;
  for (const auto& [key, value] : environment.vars) {
    if (IsReservedVariable(key)) continue;
    vars[key] = value;
  }
  const bool background = IsBackgroundFunction(request.function_name);
  const json::object body{
      {"FunctionName", name},
      {"Runtime", options_.runtime},
      {"Role", options_.role_arn},
      {"Handler", kLambdaHandler},
      {"Code", json::object{{"ZipFile", core::Base64Encode(upload)}}},
      {"Timeout", (background ? options_.background_timeout : options_.timeout).count()},
      {"MemorySize", options_.memory_mb},
      {"Description", "RepliDeploy function " + request.function_name},
      {"Environment", json::object{{"Variables", std::move(vars)}}},
  };
  RD_TRY(ApiResponse created,
         Call("POST", kApi, json::serialize(body), {{"Content-Type", "application/json"}},
              std::chrono::minutes(2)));
  if (created.status == 409 && ParseAwsError(created).type == "ResourceConflictException") {
    spdlog::info("lambda: function {} exists already", name);
  } else if (created.status < 200 || created.status >= 300) {
    return MakeError(ErrorCode::kUnavailable,
                     "Lambda CreateFunction " + name + ": " + Describe(created));
  } else {
    spdlog::info("lambda: created function {} ({} of deploy {}, {} bytes zipped)", name,
                 request.function_name, request.deploy_id, upload.size());
  }
  RD_TRY_STATUS(WaitActive(name));
  std::lock_guard lock(mu_);
  ready_.insert(name);
  return name;
}

Status LambdaRunner::WaitActive(const std::string& name) {
  for (int attempt = 0; attempt < options_.poll_attempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(options_.poll_interval);
    RD_TRY(ApiResponse got,
           Call("GET", std::string(kApi) + "/" + name, {}, {}, std::chrono::seconds(30)));
    if (got.status != 200) {
      return MakeError(ErrorCode::kUnavailable,
                       "Lambda GetFunction " + name + ": " + Describe(got));
    }
    json::error_code ec;
    const json::value v = json::parse(got.body, ec);
    const json::value* state = nullptr;
    if (!ec && v.is_object()) {
      if (const auto* conf = v.as_object().if_contains("Configuration");
          conf && conf->is_object()) {
        state = conf->as_object().if_contains("State");
      }
    }
    if (state == nullptr || !state->is_string()) {
      return MakeError(ErrorCode::kUnavailable, "Lambda GetFunction " + name + ": no State");
    }
    if (state->as_string() == "Active") return {};
    if (state->as_string() == "Failed" || state->as_string() == "Inactive") {
      return MakeError(ErrorCode::kUnavailable,
                       "Lambda function " + name + " is " + std::string(state->as_string()));
    }
  }
  return MakeError(ErrorCode::kUnavailable, "Lambda function " + name + " did not become Active");
}

void LambdaRunner::LogCall(const FunctionRequest& request, std::string_view text) {
  if (!options_.on_log) return;
  options_.on_log({request.site_id, request.deploy_id, request.function_name, "platform",
                   NowMillis(), request.request_id, text});
}

FunctionResponse LambdaRunner::Failed(const FunctionRequest& request, int status,
                                      std::string_view text, std::string_view log_line) {
  spdlog::warn("function {} of deploy {} (Lambda): {}", request.function_name, request.deploy_id,
               log_line);
  LogCall(request, std::to_string(status) + ": " + std::string(log_line));
  return TextAnswer(status, std::string(text));
}

void LambdaRunner::Shutdown() {
  std::lock_guard lock(mu_);
  closing_ = true;
}

FunctionResponse LambdaRunner::Invoke(const FunctionRequest& request) {
  const auto started = std::chrono::steady_clock::now();
  FunctionResponse response = InvokeUncounted(request);
  if (options_.on_call) {
    options_.on_call(request, response.status,
                     std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - started));
  }
  return response;
}

FunctionResponse LambdaRunner::InvokeUncounted(const FunctionRequest& request) {
  {
    std::lock_guard lock(mu_);
    if (closing_) return TextAnswer(503, "Service Unavailable: the server is shutting down\n");
  }
  const auto bad_gateway = "Bad Gateway: the function failed\n";
  auto got = EnvironmentOf(request);
  if (!got.ok()) return Failed(request, 502, bad_gateway, got.error().message);
  const FunctionEnvironment env = std::move(got).value();
  const std::string name = LambdaFunctionName(options_.function_prefix, request.bundle_sha256, env);
  const bool background = IsBackgroundFunction(request.function_name);
  const std::chrono::milliseconds timeout =
      request.timeout.count() > 0 ? request.timeout : options_.timeout;
  const std::string event = LambdaEvent(request);
  const std::vector<std::pair<std::string, std::string>> headers{
      {"Content-Type", "application/json"},
      {"X-Amz-Invocation-Type", background ? "Event" : "RequestResponse"},
      {"X-Amz-Client-Context", core::Base64Encode(ClientContext(request))},
  };
  for (int attempt = 0;; ++attempt) {
    if (auto created = Create(request, name, env); !created.ok()) {
      return Failed(request, 502, bad_gateway, created.error().message);
    }
    // Lambda stops the function at its Timeout; our own margin covers the round trip.
    auto answer =
        Call("POST", std::string(kApi) + "/" + name + "/invocations", event, headers,
             background ? std::chrono::milliseconds(30'000) : timeout + std::chrono::seconds(5));
    if (!answer.ok()) {
      if (answer.error().detail_code == "timeout") {
        return Failed(request, 504, "Gateway Timeout: the function took too long\n",
                      answer.error().message);
      }
      return Failed(request, 502, bad_gateway, answer.error().message);
    }
    const ApiResponse& r = answer.value();
    if (r.status == 404 && attempt == 0 && ParseAwsError(r).type == "ResourceNotFoundException") {
      // Deleted behind our back: create it again, once.
      std::lock_guard lock(mu_);
      ready_.erase(name);
      continue;
    }
    if (r.status == 429) {
      FunctionResponse busy = Failed(request, 429, "Too Many Requests: the function is busy\n",
                                     "Lambda throttled the call: " + Describe(r));
      busy.headers.emplace_back("Retry-After", "1");
      return busy;
    }
    if (background && r.status == 202) {
      FunctionResponse accepted;
      accepted.status = 202;
      return accepted;
    }
    if (r.status != 200) {
      return Failed(request, 502, bad_gateway, "Lambda Invoke " + name + ": " + Describe(r));
    }
    if (auto it = r.headers.find("x-amz-function-error"); it != r.headers.end()) {
      const AwsError e = ParseAwsError(r);
      const bool timed_out = e.message.find("Task timed out") != std::string::npos;
      spdlog::warn("function {} of deploy {} (Lambda {}): {} error: {}", request.function_name,
                   request.deploy_id, name, it->second, r.body.substr(0, 2048));
      LogCall(request, "the function failed (" + it->second + "): " + r.body.substr(0, 2048));
      return timed_out ? TextAnswer(504, "Gateway Timeout: the function took too long\n")
                       : TextAnswer(502, bad_gateway);
    }
    auto parsed = ParseLambdaResponse(r.body);
    if (!parsed.ok()) return Failed(request, 502, bad_gateway, parsed.error().message);
    return std::move(parsed).value();
  }
}

}  // namespace replideploy::functions
