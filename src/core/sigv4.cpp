#include "core/sigv4.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <ctime>

#include "core/crypto.hpp"

namespace replideploy::core {

namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trims the value and folds inner runs of spaces into one, as the canonical form wants.
std::string CanonicalHeaderValue(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> SortedHeaders(const SigV4Request& request) {
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(request.headers.size());
  for (const auto& [name, value] : request.headers) {
    headers.emplace_back(Lower(name), CanonicalHeaderValue(value));
  }
  std::stable_sort(headers.begin(), headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return headers;
}

std::string HeaderValue(const SigV4Request& request, std::string_view name) {
  for (const auto& [key, value] : request.headers) {
    if (Lower(key) == name) return CanonicalHeaderValue(value);
  }
  return {};
}

}  // namespace

std::string SigV4UriEncode(std::string_view text, bool encode_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (c == '/' && !encode_slash)) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    }
  }
  return out;
}

std::string SigV4SignedHeaders(const SigV4Request& request) {
  std::string out;
  std::string last;
  for (const auto& [name, value] : SortedHeaders(request)) {
    if (name == last) continue;
    if (!out.empty()) out.push_back(';');
    out += name;
    last = name;
  }
  return out;
}

std::string SigV4CanonicalRequest(const SigV4Request& request) {
  std::string out = request.method + "\n";
  out += SigV4UriEncode(request.path.empty() ? "/" : request.path, false) + "\n";

  std::vector<std::pair<std::string, std::string>> query;
  for (const auto& [name, value] : request.query) {
    query.emplace_back(SigV4UriEncode(name, true), SigV4UriEncode(value, true));
  }
  std::sort(query.begin(), query.end());
  for (std::size_t i = 0; i < query.size(); ++i) {
    if (i > 0) out.push_back('&');
    out += query[i].first + "=" + query[i].second;
  }
  out.push_back('\n');

  // Repeated names are joined with commas, in the order given.
  const auto headers = SortedHeaders(request);
  for (std::size_t i = 0; i < headers.size(); ++i) {
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      out.back() = ',';
      out += headers[i].second + "\n";
      continue;
    }
    out += headers[i].first + ":" + headers[i].second + "\n";
  }
  out.push_back('\n');
  out += SigV4SignedHeaders(request) + "\n";
  out += request.payload_sha256;
  return out;
}

std::string SigV4StringToSign(std::string_view amz_date, const SigV4Scope& scope,
                              std::string_view canonical_request) {
  std::string out = "AWS4-HMAC-SHA256\n";
  out.append(amz_date).append("\n");
  out += scope.date + "/" + scope.region + "/" + scope.service + "/aws4_request\n";
  out += Sha256Hex(canonical_request);
  return out;
}

std::string SigV4SigningKey(std::string_view secret_access_key, const SigV4Scope& scope) {
  std::string key = HmacSha256("AWS4" + std::string(secret_access_key), scope.date);
  key = HmacSha256(key, scope.region);
  key = HmacSha256(key, scope.service);
  return HmacSha256(key, "aws4_request");
}

std::string SigV4Signature(std::string_view signing_key, std::string_view string_to_sign) {
  return core::HexEncode(HmacSha256(signing_key, string_to_sign));
}

std::string SigV4Authorization(const SigV4Request& request, const SigV4Credentials& credentials,
                               std::string_view region, std::string_view service) {
  const std::string amz_date = HeaderValue(request, "x-amz-date");
  const SigV4Scope scope{amz_date.substr(0, 8), std::string(region), std::string(service)};
  const std::string string_to_sign =
      SigV4StringToSign(amz_date, scope, SigV4CanonicalRequest(request));
  const std::string signature =
      SigV4Signature(SigV4SigningKey(credentials.secret_access_key, scope), string_to_sign);
  return "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" + scope.date + "/" +
         scope.region + "/" + scope.service +
         "/aws4_request, SignedHeaders=" + SigV4SignedHeaders(request) + ", Signature=" + signature;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return core::HexEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string AmzDate(long long unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace replideploy::core
