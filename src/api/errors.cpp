#include "api/errors.hpp"

#include <spdlog/spdlog.h>

#include <string>

namespace replideploy::api {

int HttpStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadRequest:
      return 400;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kForbidden:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kPayloadTooLarge:
      return 413;
    case ErrorCode::kUnprocessable:
      return 422;
    case ErrorCode::kRateLimited:
      return 429;
    case ErrorCode::kInternal:
      return 500;
    case ErrorCode::kUnavailable:
      return 503;
  }
  return 500;
}

http::Response ErrorResponse(const Error& error, std::string_view request_id) {
  const std::string_view code =
      error.detail_code.empty() ? ErrorCodeName(error.code) : std::string_view(error.detail_code);
  std::string_view message = error.message;
  if (error.code == ErrorCode::kInternal) {
    spdlog::error("request {}: internal error: {}", request_id, error.message);
    message = "internal error; the server log has details";
  } else if (error.code == ErrorCode::kUnavailable) {
    spdlog::error("request {}: unavailable: {}", request_id, error.message);
    message = "a backing service is unavailable; try again shortly";
  }
  http::Response response = http::Response::Error(HttpStatus(error.code), code, message);
  if (error.code == ErrorCode::kRateLimited && error.retry_after_seconds > 0) {
    response.headers.Set("Retry-After", std::to_string(error.retry_after_seconds));
  }
  if (error.code == ErrorCode::kUnauthenticated) {
    response.headers.Set("WWW-Authenticate", "Bearer");
  }
  return response;
}

http::Response NotImplementedResponse(std::string_view message) {
  return http::Response::Error(501, "not_implemented", message);
}

}  // namespace replideploy::api
