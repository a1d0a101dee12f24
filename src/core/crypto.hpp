// Small crypto helpers over libsodium and OpenSSL. All functions are thread-safe once
// InitCrypto() has returned (call it once at start-up; it is idempotent).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace replideploy::core {

// Initialises libsodium. Throws std::runtime_error if it cannot (start-up only).
void InitCrypto();

// `n` bytes from the OS CSPRNG.
std::string RandomBytes(std::size_t n);

std::string HexEncode(std::string_view bytes);
// Fails on odd length or a non-hex character.
Result<std::string> HexDecode(std::string_view hex);

// RFC 4648 section 5, without padding.
std::string Base64UrlEncode(std::string_view bytes);
// Accepts input with or without '=' padding; fails on characters outside the alphabet.
Result<std::string> Base64UrlDecode(std::string_view text);
// RFC 4648 section 4, padded (HTTP Basic credentials, GitHub's file contents).
std::string Base64Encode(std::string_view bytes);
// Accepts padding or none, and skips ASCII whitespace (GitHub wraps lines); fails on other
// characters outside the alphabet.
Result<std::string> Base64Decode(std::string_view text);

// Raw 32-byte digests.
std::string Sha256(std::string_view data);
// SHA-1 only where a protocol names files by it (Netlify's deploy API); never for security.
std::string Sha1(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);

// Compares in time that depends only on the lengths, not the contents.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Authenticated encryption at rest (libsodium secretbox, XSalsa20-Poly1305) with a 32-byte key:
// the result is base64url(nonce || ciphertext). Decrypt fails (kInternal) on a wrong key or
// tampered data.
std::string Encrypt(std::string_view key, std::string_view plaintext);
Result<std::string> Decrypt(std::string_view key, std::string_view sealed);

// Argon2id cost. kInteractive is libsodium's interactive preset (64 MiB, 2 passes), the
// production default; kMinimum exists so tests that register many users stay fast.
struct PasswordCost {
  unsigned long long ops_limit;
  std::size_t mem_limit;
  static PasswordCost Interactive();
  static PasswordCost Minimum();
};

// Argon2id (libsodium crypto_pwhash_str). Returns the encoded hash, which carries its own cost.
Result<std::string> HashPassword(std::string_view password,
                                 PasswordCost cost = PasswordCost::Interactive());
bool VerifyPassword(std::string_view password, const std::string& encoded_hash);

}  // namespace replideploy::core
