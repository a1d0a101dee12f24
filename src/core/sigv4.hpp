// AWS Signature Version 4 for the S3 blob store, Route 53 and Lambda: pure functions over strings,
// no I/O, no clock. Every S3 request the store sends carries an Authorization header made here (see
// s3_client.hpp for why not libcurl's CURLOPT_AWS_SIGV4); sigv4_test.cpp checks the steps
// against AWS's published worked examples.
//
// Thread-safe (no state).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace replideploy::core {

struct SigV4Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // optional; sent as x-amz-security-token when set
};

// What is signed. `path` and the query are given decoded; the signer encodes them the way
// SigV4 wants (RFC 3986 unreserved characters kept, everything else %XX; the path's slashes
// kept, as S3 wants: no double encoding, no dot-segment normalisation). `headers` must include
// host and x-amz-date; names are matched case-insensitively, values are trimmed and inner runs
// of spaces folded. Every header given is signed.
struct SigV4Request {
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_sha256;  // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

struct SigV4Scope {
  std::string date;     // YYYYMMDD
  std::string region;   // us-east-1
  std::string service;  // s3
};

// Percent-encodes `text` as SigV4 wants; '/' is kept unless `encode_slash`.
std::string SigV4UriEncode(std::string_view text, bool encode_slash);

// The canonical request (task 1 of the signing process).
std::string SigV4CanonicalRequest(const SigV4Request& request);
// "host;range;x-amz-date": the lowercased, sorted names of the signed headers.
std::string SigV4SignedHeaders(const SigV4Request& request);
// The string to sign (task 2). `amz_date` is YYYYMMDD'T'HHMMSS'Z'.
std::string SigV4StringToSign(std::string_view amz_date, const SigV4Scope& scope,
                              std::string_view canonical_request);
// The signing key (task 3), raw bytes.
std::string SigV4SigningKey(std::string_view secret_access_key, const SigV4Scope& scope);
// The signature (task 4): lowercase hex.
std::string SigV4Signature(std::string_view signing_key, std::string_view string_to_sign);

// The whole chain: the value of the Authorization header. The scope's date is taken from the
// request's x-amz-date header; `region` and `service` complete it.
std::string SigV4Authorization(const SigV4Request& request, const SigV4Credentials& credentials,
                               std::string_view region, std::string_view service);

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// "20130524T000000Z" for a time in seconds since the epoch (UTC).
std::string AmzDate(long long unix_seconds);

}  // namespace replideploy::core
