#include "auth/jwt.hpp"

#include <boost/json.hpp>

#include "core/crypto.hpp"

namespace replideploy::auth {

namespace json = boost::json;

namespace {

Error Reject(std::string reason) {
  return MakeError(ErrorCode::kUnauthenticated, std::move(reason));
}

Result<json::object> DecodeObject(std::string_view part, std::string_view what) {
  auto raw = core::Base64UrlDecode(part);
  if (!raw.ok()) return Reject(std::string(what) + " is not base64url");
  boost::system::error_code ec;
  json::value v = json::parse(*raw, ec);
  if (ec || !v.is_object()) return Reject(std::string(what) + " is not a JSON object");
  return std::move(v.as_object());
}

}  // namespace

std::string SignJwt(const JwtClaims& claims, std::string_view key) {
  const std::string header = core::Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})");
  json::object payload{
      {"sub", claims.subject}, {"iat", claims.issued_at}, {"exp", claims.expires_at}};
  if (!claims.session_id.empty()) payload["sid"] = claims.session_id;
  const std::string signing_input = header + "." + core::Base64UrlEncode(json::serialize(payload));
  return signing_input + "." + core::Base64UrlEncode(core::HmacSha256(key, signing_input));
}

Result<JwtClaims> VerifyJwt(std::string_view token, std::string_view key,
                            std::int64_t now_seconds) {
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Reject("token does not have three parts");
  }
  RD_TRY(json::object header, DecodeObject(token.substr(0, dot1), "header"));
  // The algorithm is fixed on our side: a token cannot choose "none" or another key type.
  const json::value* alg = header.if_contains("alg");
  if (alg == nullptr || !alg->is_string() || alg->as_string() != "HS256") {
    return Reject("alg must be HS256");
  }
  auto signature = core::Base64UrlDecode(token.substr(dot2 + 1));
  if (!signature.ok()) return Reject("signature is not base64url");
  // Only the canonical spelling: base64url leaves a last character's low bits unused, so
  // several strings decode to one signature. Found by fuzz_jwt; one token, one string.
  if (core::Base64UrlEncode(*signature) != token.substr(dot2 + 1)) {
    return Reject("signature is not canonical base64url");
  }
  const std::string expected = core::HmacSha256(key, token.substr(0, dot2));
  if (!core::ConstantTimeEquals(*signature, expected)) return Reject("bad signature");

  RD_TRY(json::object payload, DecodeObject(token.substr(dot1 + 1, dot2 - dot1 - 1), "payload"));
  const json::value* sub = payload.if_contains("sub");
  const json::value* iat = payload.if_contains("iat");
  const json::value* exp = payload.if_contains("exp");
  if (sub == nullptr || !sub->is_string() || exp == nullptr || !exp->is_int64()) {
    return Reject("sub and exp are required");
  }
  JwtClaims claims{std::string(sub->as_string()),
                   (iat != nullptr && iat->is_int64()) ? iat->as_int64() : 0, exp->as_int64()};
  if (const json::value* sid = payload.if_contains("sid"); sid != nullptr) {
    if (!sid->is_string()) return Reject("sid must be a string");
    claims.session_id = std::string(sid->as_string());
  }
  if (claims.expires_at <= now_seconds) return Reject("token expired");
  return claims;
}

}  // namespace replideploy::auth
