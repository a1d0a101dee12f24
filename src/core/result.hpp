// Expected failures as values: Result<T> holds either a T or an Error{code, message}.
// The message is written for the client; details that only belong in the log go to the log.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace replideploy {

enum class ErrorCode {
  kBadRequest,       // malformed input: bad JSON, wrong type, missing field (400)
  kUnauthenticated,  // no or bad credentials (401)
  kForbidden,        // authenticated but not allowed (403)
  kNotFound,         // missing, or owned by someone else (404)
  kConflict,         // unique key taken (409)
  kPayloadTooLarge,  // body over the route's limit (413)
  kUnprocessable,    // well-formed but invalid value (422)
  kRateLimited,      // slowed down (429)
  kInternal,         // our fault (500)
  kUnavailable,      // a dependency is down (503)
};

// Stable, machine-readable name for a code ("not_found"), used in JSON error bodies.
std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  // Optional sub-code shown to clients instead of the generic name (e.g. "email_taken").
  std::string detail_code = {};
  // Seconds a client should wait before retrying (kRateLimited), 0 when not set.
  int retry_after_seconds = 0;
};

inline Error MakeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

// An error with the code clients see instead of the generic name.
inline Error MakeError(ErrorCode code, std::string detail_code, std::string message) {
  Error e{code, std::move(message)};
  e.detail_code = std::move(detail_code);
  return e;
}

// A well-formed request with an unacceptable value (422), with the code clients see
// ("invalid_name", "name_taken", ...).
inline Error Unprocessable(std::string detail_code, std::string message) {
  Error e{ErrorCode::kUnprocessable, std::move(message)};
  e.detail_code = std::move(detail_code);
  return e;
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& {
    assert(!ok_);
    return error_;
  }
  Error&& error() && {
    assert(!ok_);
    return std::move(error_);
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace replideploy

// Early return on failure: RD_TRY(auto user, users.Find(id));
#define RD_CONCAT_INNER(a, b) a##b
#define RD_CONCAT(a, b) RD_CONCAT_INNER(a, b)
#define RD_TRY_IMPL(tmp, decl, expr)            \
  auto tmp = (expr);                            \
  if (!tmp.ok()) return std::move(tmp).error(); \
  decl = std::move(tmp).value()
#define RD_TRY(decl, expr) RD_TRY_IMPL(RD_CONCAT(rd_try_, __LINE__), decl, expr)
#define RD_TRY_STATUS_IMPL(tmp, expr)             \
  do {                                            \
    auto tmp = (expr);                            \
    if (!tmp.ok()) return std::move(tmp).error(); \
  } while (0)
#define RD_TRY_STATUS(expr) RD_TRY_STATUS_IMPL(RD_CONCAT(rd_status_, __COUNTER__), expr)
