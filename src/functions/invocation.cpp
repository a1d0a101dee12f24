#include "functions/invocation.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "core/crypto.hpp"
#include "core/text.hpp"

namespace replideploy::functions {

namespace json = boost::json;

namespace {

bool IsValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (c < 0x80) {
      n = 0;
    } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
      n = 1;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
    } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
      n = 3;
    } else {
      return false;
    }
    if (i + n >= s.size() && n > 0) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n + 1;
  }
  return true;
}

bool IsTextType(std::string_view content_type) {
  std::string type;
  for (char c : content_type.substr(0, content_type.find(';'))) type += core::AsciiLower(c);
  return type.starts_with("text/") || type.find("json") != std::string::npos ||
         type.find("xml") != std::string::npos || type.find("javascript") != std::string::npos ||
         type == "application/x-www-form-urlencoded" || type.empty();
}

std::string Lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) out += core::AsciiLower(c);
  return out;
}

}  // namespace

std::string LambdaEvent(const FunctionRequest& request) {
  json::object headers;
  json::object multi_headers;
  std::string content_type;
  for (const auto& [raw_name, value] : request.headers) {
    const std::string name = Lower(raw_name);
    if (name == "content-type") content_type = value;
    auto& list = multi_headers[name];
    if (!list.is_array()) list = json::array();
    list.as_array().emplace_back(value);
    auto* single = headers.if_contains(name);
    if (single == nullptr) {
      headers[name] = value;
    } else {
      std::string joined(single->as_string());
      joined += name == "cookie" ? "; " : ", ";
      joined += value;
      *single = joined;
    }
  }
  json::object query;
  json::object multi_query;
  std::string_view rest = request.raw_query;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const std::string name = core::PercentDecodeLenient(pair.substr(0, eq), true);
    const std::string value = eq == std::string_view::npos
                                  ? std::string()
                                  : core::PercentDecodeLenient(pair.substr(eq + 1), true);
    auto& list = multi_query[name];
    if (!list.is_array()) list = json::array();
    list.as_array().emplace_back(value);
    // Netlify's single-value map keeps the last value of a repeated name... joined by commas.
    auto* single = query.if_contains(name);
    if (single == nullptr) {
      query[name] = value;
    } else {
      *single = std::string(single->as_string()) + "," + value;
    }
  }
  const bool text = IsTextType(content_type) && IsValidUtf8(request.body);
  json::object event{
      {"rawUrl", request.raw_url},
      {"rawQuery", request.raw_query},
      {"path", request.path},
      {"httpMethod", request.method},
      {"headers", std::move(headers)},
      {"multiValueHeaders", std::move(multi_headers)},
      {"queryStringParameters", std::move(query)},
      {"multiValueQueryStringParameters", std::move(multi_query)},
      {"body", text ? request.body : core::Base64Encode(request.body)},
      {"isBase64Encoded", !text},
  };
  return json::serialize(event);
}

std::string ClientContext(const FunctionRequest& request) {
  json::object params;
  for (const auto& [k, v] : request.params) params[k] = v;
  json::object custom{
      {"site",
       json::object{
           {"id", request.site_id}, {"name", request.site_name}, {"url", request.site_url}}},
      {"deploy", json::object{{"id", request.deploy_id}, {"context", request.deploy_context}}},
      {"ip", request.client_ip},
      {"requestId", request.request_id},
      {"params", std::move(params)},
  };
  return json::serialize(json::object{{"custom", std::move(custom)}});
}

Result<FunctionResponse> ParseLambdaResponse(std::string_view text) {
  json::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    return Unprocessable("bad_response", "the function's answer is not a JSON object");
  }
  const json::object& obj = value.as_object();
  FunctionResponse response;
  const json::value* status = obj.if_contains("statusCode");
  if (status == nullptr || !status->is_number()) {
    return Unprocessable("bad_response", "the function's answer has no numeric statusCode");
  }
  const double code = status->to_number<double>(ec);
  if (ec || code < 100 || code > 599) {
    return Unprocessable("bad_response", "the function's statusCode is not in 100..599");
  }
  response.status = static_cast<int>(code);
  auto scalar = [](const json::value& v) -> std::string {
    if (v.is_string()) return std::string(v.as_string());
    if (v.is_null()) return "";
    return json::serialize(v);
  };
  std::vector<std::string> multi_names;
  if (const auto* multi = obj.if_contains("multiValueHeaders"); multi && multi->is_object()) {
    for (const auto& [name, values] : multi->as_object()) {
      multi_names.push_back(Lower(name));
      if (values.is_array()) {
        for (const auto& v : values.as_array()) {
          response.headers.emplace_back(std::string(name), scalar(v));
        }
      } else {
        response.headers.emplace_back(std::string(name), scalar(values));
      }
    }
  }
  if (const auto* headers = obj.if_contains("headers"); headers && headers->is_object()) {
    for (const auto& [name, v] : headers->as_object()) {
      const std::string lower = Lower(name);
      if (std::find(multi_names.begin(), multi_names.end(), lower) != multi_names.end()) continue;
      response.headers.emplace_back(std::string(name), scalar(v));
    }
  }
  const json::value* body = obj.if_contains("body");
  std::string raw = body == nullptr ? std::string() : scalar(*body);
  const json::value* b64 = obj.if_contains("isBase64Encoded");
  if (b64 != nullptr && b64->is_bool() && b64->as_bool()) {
    auto decoded = core::Base64Decode(raw);
    if (!decoded.ok()) return Unprocessable("bad_response", "the function's body is not base64");
    raw = std::move(decoded).value();
  }
  if (raw.size() > kMaxBodyBytes) {
    return Unprocessable("response_too_large", "the function's body is larger than 6 MB");
  }
  response.body = std::move(raw);
  return response;
}

}  // namespace replideploy::functions
