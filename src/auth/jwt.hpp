// JSON Web Tokens, HS256 only (RFC 7519 / RFC 7515). Thread-safe (pure functions).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace replideploy::auth {

struct JwtClaims {
  std::string subject;      // "sub": the user id
  std::int64_t issued_at;   // "iat", seconds since the epoch
  std::int64_t expires_at;  // "exp", seconds since the epoch
  // "sid": the login session (table sessions) the token belongs to; empty in tokens made
  // before sessions existed, which UserService refuses.
  std::string session_id = {};
};

std::string SignJwt(const JwtClaims& claims, std::string_view key);

// Accepts only a token whose header says alg HS256, whose signature matches (constant-time
// compare), and whose exp lies after now_seconds. Any other token is kUnauthenticated with a
// reason for the log ("alg must be HS256", "expired", ...).
Result<JwtClaims> VerifyJwt(std::string_view token, std::string_view key, std::int64_t now_seconds);

}  // namespace replideploy::auth
