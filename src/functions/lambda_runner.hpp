// Functions on AWS Lambda (`--functions-runner lambda`, docs/functions.md "AWS Lambda runner"):
// each function zip, with our handler module added (lambda_handler.mjs), becomes one Lambda
// function, created on its first call with the Lambda API (CreateFunction, then GetFunction until
// it is Active) and invoked with Invoke. Every request is signed by libcurl
// (CURLOPT_AWS_SIGV4 "aws:amz:<region>:lambda"); the bodies are in memory (CURLOPT_POSTFIELDS),
// which is what libcurl 7.88 hashes, so its signature covers the real payload.
//
// Naming: "<prefix>-<first 20 hex of the zip's sha256>-<first 12 hex of the sha256 of its
// environment>": the site's variables and Netlify's (DEPLOY_ID among them) are the Lambda
// function's Environment.Variables, so one Lambda function serves one (zip, environment), in
// practice one (deploy, function). Created names are remembered in memory; after a restart the
// first call's CreateFunction answers 409 (ResourceConflictException), which counts as created.
//
// Answers: the handler's JSON as the local runtime parses it; X-Amz-Function-Error -> 502 (the
// error in the function log and the server log); Lambda's 429 -> 429 with Retry-After; other
// errors and transport failures -> 502; a timeout -> 504. Background functions (`-background`)
// are invoked with X-Amz-Invocation-Type: Event (Lambda answers 202, and so do we; Lambda retries
// a failed one twice itself). Responses are buffered (no streaming on Lambda).
//
// Thread-safe. Invoke() blocks for the whole call: run it off the I/O threads. No Beast here.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/sigv4.hpp"
#include "functions/invocation.hpp"
#include "functions/process.hpp"
#include "functions/runtime.hpp"
#include "store/blob_store.hpp"

namespace replideploy::functions {

// The file and handler of our adapter in an uploaded zip.
inline constexpr std::string_view kLambdaHandlerFile = "___replideploy_handler.mjs";
inline constexpr std::string_view kLambdaHandler = "___replideploy_handler.handler";

struct LambdaOptions {
  std::string region = "us-east-1";
  // "https://lambda.<region>.amazonaws.com" when empty; tests point it at a fake.
  std::string endpoint;
  std::string role_arn;  // the functions' execution role (CreateFunction needs one)
  std::string function_prefix = "replideploy";
  core::SigV4Credentials credentials;
  std::string runtime = "nodejs20.x";
  int memory_mb = 1024;
  std::chrono::seconds timeout{10};              // a synchronous function's Lambda Timeout
  std::chrono::seconds background_timeout{900};  // a background function's (15 minutes)
  // Waiting for a new function to be Active: GetFunction every poll_interval, at most
  // poll_attempts times.
  std::chrono::milliseconds poll_interval{1000};
  int poll_attempts = 60;
  std::chrono::seconds connect_timeout{10};
  // The function's environment (as the local runtime's RuntimeOptions::environment). Unset: none.
  std::function<Result<FunctionEnvironment>(const FunctionRequest& request)> environment;
  LogSink on_log;  // platform lines (failed calls, function errors); optional, must not block
  std::function<void(const FunctionRequest& request, int status, std::chrono::milliseconds took)>
      on_call;
};

// The Lambda function name of a zip and an environment: "<prefix>-<20 hex>-<12 hex>".
std::string LambdaFunctionName(std::string_view prefix, std::string_view bundle_sha256,
                               const FunctionEnvironment& environment);

// `zip` with kLambdaHandlerFile (LambdaHandlerScript()) added at its root. kUnprocessable when
// `zip` cannot be read.
Result<std::string> AddLambdaHandler(std::string_view zip);

class LambdaRunner : public Invoker {
 public:
  // `blobs` must outlive the runner. Validates the options (kBadRequest: no role ARN, no
  // credentials, a bad endpoint).
  static Result<std::unique_ptr<LambdaRunner>> Create(store::BlobStore& blobs,
                                                      LambdaOptions options);
  ~LambdaRunner() override;
  LambdaRunner(const LambdaRunner&) = delete;
  LambdaRunner& operator=(const LambdaRunner&) = delete;

  FunctionResponse Invoke(const FunctionRequest& request) override;
  void LogCall(const FunctionRequest& request, std::string_view text) override;
  void Shutdown() override;

  // Creates the Lambda function of `request` unless it exists (for tests and pre-warming).
  Result<std::string> EnsureFunction(const FunctionRequest& request);

  // One signed Lambda API call (for tests and the runner): the status, lower-cased headers and
  // body; kUnavailable on a transport failure (detail "timeout" past `timeout`).
  struct ApiResponse {
    long status = 0;
    std::map<std::string, std::string> headers;
    std::string body;
  };
  Result<ApiResponse> Call(std::string_view method, std::string_view path, std::string_view body,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           std::chrono::milliseconds timeout);

 private:
  LambdaRunner(store::BlobStore& blobs, LambdaOptions options);
  FunctionResponse InvokeUncounted(const FunctionRequest& request);
  // options_.environment's, with RD_FUNCTION_NAME added.
  Result<FunctionEnvironment> EnvironmentOf(const FunctionRequest& request);
  Result<std::string> Create(const FunctionRequest& request, const std::string& name,
                             const FunctionEnvironment& environment);
  Status WaitActive(const std::string& name);
  FunctionResponse Failed(const FunctionRequest& request, int status, std::string_view text,
                          std::string_view log_line);
  void* TakeHandle();
  void ReturnHandle(void* handle);

  store::BlobStore& blobs_;
  LambdaOptions options_;
  std::mutex mu_;
  std::set<std::string> ready_;  // Lambda functions known to exist and be Active
  std::mutex create_mu_;         // one CreateFunction at a time
  std::vector<void*> handles_;   // idle curl handles (their connections kept alive)
  bool closing_ = false;
};

}  // namespace replideploy::functions
