#include "core/crypto.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "core/text.hpp"

namespace replideploy::core {

void InitCrypto() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

std::string RandomBytes(std::size_t n) {
  std::string out(n, '\0');
  randombytes_buf(out.data(), out.size());
  return out;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

namespace {
constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
}  // namespace

Result<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return MakeError(ErrorCode::kBadRequest, "hex string has odd length");
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = HexDigitValue(hex[i]);
    const int lo = HexDigitValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return MakeError(ErrorCode::kBadRequest, "invalid hex character");
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

namespace {

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string EncodeBase64(std::string_view bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  auto byte = [&](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t left = bytes.size() - i;
    std::uint32_t n = byte(i) << 16;
    if (left > 1) n |= byte(i + 1) << 8;
    if (left > 2) n |= byte(i + 2);
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    if (left > 1) {
      out.push_back(alphabet[(n >> 6) & 63]);
    } else if (pad) {
      out.push_back('=');
    }
    if (left > 2) {
      out.push_back(alphabet[n & 63]);
    } else if (pad) {
      out.push_back('=');
    }
  }
  return out;
}

// `url`: '-' and '_' for 62 and 63, else '+' and '/' (and ASCII whitespace is skipped, as in
// wrapped MIME-style text). '=' padding is optional but only at the end.
Result<std::string> DecodeBase64(std::string_view text, bool url) {
  const std::string_view what = url ? "base64url" : "base64";
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t digits = 0;
  bool padding = false;
  for (char c : text) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == (url ? '-' : '+')) {
      v = 62;
    } else if (c == (url ? '_' : '/')) {
      v = 63;
    } else if (c == '=') {
      padding = true;
      continue;
    } else if (!url && (c == '\n' || c == '\r' || c == ' ' || c == '\t')) {
      continue;
    } else {
      return MakeError(ErrorCode::kBadRequest, "invalid " + std::string(what) + " character");
    }
    if (padding) return MakeError(ErrorCode::kBadRequest, std::string(what) + ": data after '='");
    ++digits;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (digits % 4 == 1)
    return MakeError(ErrorCode::kBadRequest, "invalid " + std::string(what) + " length");
  return out;
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  return EncodeBase64(bytes, kBase64Url, false);
}

Result<std::string> Base64UrlDecode(std::string_view text) { return DecodeBase64(text, true); }

std::string Base64Encode(std::string_view bytes) { return EncodeBase64(bytes, kBase64, true); }

Result<std::string> Base64Decode(std::string_view text) { return DecodeBase64(text, false); }

std::string Sha256(std::string_view data) {
  std::string out(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256(reinterpret_cast<unsigned char*>(out.data()),
                     reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return out;
}

std::string Sha1(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr);
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  // OpenSSL's HMAC takes keys of any length (libsodium's HMAC-SHA256 API does too, but
  // OpenSSL's one-shot call is the simplest fit for JWT and webhook signatures).
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return std::string(reinterpret_cast<const char*>(md), len);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Encrypt(std::string_view key, std::string_view plaintext) {
  std::string out(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plaintext.size(), '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  unsigned char k[crypto_secretbox_KEYBYTES] = {};
  std::memcpy(k, key.data(), std::min(key.size(), sizeof k));
  crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                        nonce, k);
  sodium_memzero(k, sizeof k);
  return Base64UrlEncode(out);
}

Result<std::string> Decrypt(std::string_view key, std::string_view sealed) {
  auto raw = Base64UrlDecode(sealed);
  if (!raw.ok() || raw->size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return MakeError(ErrorCode::kInternal, "sealed value is malformed");
  }
  const auto* nonce = reinterpret_cast<const unsigned char*>(raw->data());
  std::string out(raw->size() - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
  unsigned char k[crypto_secretbox_KEYBYTES] = {};
  std::memcpy(k, key.data(), std::min(key.size(), sizeof k));
  const int rc = crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(out.data()),
                                            nonce + crypto_secretbox_NONCEBYTES,
                                            raw->size() - crypto_secretbox_NONCEBYTES, nonce, k);
  sodium_memzero(k, sizeof k);
  if (rc != 0) return MakeError(ErrorCode::kInternal, "sealed value does not open with this key");
  return out;
}

PasswordCost PasswordCost::Interactive() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}

PasswordCost PasswordCost::Minimum() {
  return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
}

Result<std::string> HashPassword(std::string_view password, PasswordCost cost) {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), cost.ops_limit, cost.mem_limit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return MakeError(ErrorCode::kInternal, "out of memory while hashing the password");
  }
  return std::string(out);
}

bool VerifyPassword(std::string_view password, const std::string& encoded_hash) {
  return crypto_pwhash_str_verify(encoded_hash.c_str(), password.data(), password.size()) == 0;
}

}  // namespace replideploy::core
