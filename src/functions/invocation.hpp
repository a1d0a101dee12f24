// One call of a function, as the edge hands it over and as the Lambda Runtime API carries it:
// Netlify's v1 event JSON in, the handler's {statusCode, headers, multiValueHeaders, body,
// isBase64Encoded} out. Pure functions over values: no processes, no I/O. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "functions/response_stream.hpp"

namespace replideploy::functions {

// Request and response bodies are capped at this (Netlify's synchronous limit).
inline constexpr std::size_t kMaxBodyBytes = std::size_t{6} << 20;

struct FunctionRequest {
  // Which code: the deploy's function `function_name`, stored as the zip `bundle_sha256`.
  std::string deploy_id;
  std::string function_name;
  std::string bundle_sha256;
  // For the handler's context (v2 context.site / context.deploy).
  std::string site_id;
  std::string site_name;
  std::string site_url;        // "http://<site>.localhost:8080"
  std::string deploy_context;  // "production", "deploy-preview", ...
  // The HTTP request.
  std::string method;                                        // "GET"
  std::string raw_url;                                       // absolute: "http://host/path?query"
  std::string path;                                          // "/.netlify/functions/hello"
  std::string raw_query;                                     // "a=1&b=2" (no "?")
  std::vector<std::pair<std::string, std::string>> headers;  // as received, in order
  std::string body;
  std::string client_ip;
  std::string request_id;
  std::map<std::string, std::string> params;  // v2 context.params
  // How long the call may take; zero: the runtime's timeout (10 s). Background (15 min) and
  // scheduled (30 s) calls set their own.
  std::chrono::milliseconds timeout{0};
};

struct FunctionResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // may repeat (Set-Cookie)
  std::string body;
  // A streamed response (`body` empty): the body as the function writes it.
  std::shared_ptr<StreamedBody> stream;
};

// What runs a function's calls: the local pool of sandboxed processes (FunctionRuntime) or AWS
// Lambda (LambdaRunner). The edge, BackgroundRunner and the scheduler call through this.
class Invoker {
 public:
  virtual ~Invoker() = default;
  // Runs the call to its end and answers with what the client gets (the platform's own failures
  // as 429, 413, 502, 504 with a short text body). Blocks: run it off the I/O threads.
  virtual FunctionResponse Invoke(const FunctionRequest& request) = 0;
  // A platform line about `request` for the function log, filed under its request id.
  virtual void LogCall(const FunctionRequest& request, std::string_view text) = 0;
  // Stops the calls in flight where it can and refuses new ones (503). For server shutdown.
  virtual void Shutdown() = 0;
};

// Netlify's v1 event for `request`: rawUrl, rawQuery, path, httpMethod, headers (lower-cased
// names, repeated values joined by ", "), multiValueHeaders, queryStringParameters,
// multiValueQueryStringParameters, body (base64 with isBase64Encoded unless it is valid UTF-8
// text of a textual content type).
std::string LambdaEvent(const FunctionRequest& request);

// The Lambda-Runtime-Client-Context header: {"custom": {site, deploy, ip, params}}.
std::string ClientContext(const FunctionRequest& request);

// The handler's answer. kUnprocessable (message for the log) when it is not a JSON object with
// a numeric statusCode in 100..599, when a base64 body does not decode, or when the body is
// larger than kMaxBodyBytes.
Result<FunctionResponse> ParseLambdaResponse(std::string_view json);

}  // namespace replideploy::functions
