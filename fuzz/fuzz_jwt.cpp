// The session JWT: arbitrary tokens against a fixed key. A forged token must never verify.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "auth/jwt.hpp"

using namespace replideploy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view token(reinterpret_cast<const char*>(data), size);
  constexpr std::string_view kKey = "fuzz-key-0123456789abcdef0123456789abcdef";
  auto claims = auth::VerifyJwt(token, kKey, 1'700'000'000);
  // Only a token signed with the key verifies: re-signing its claims must give it back.
  if (claims.ok() && auth::SignJwt(*claims, kKey) != token) __builtin_trap();
  return 0;
}
