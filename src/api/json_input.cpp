#include "api/json_input.hpp"

#include <boost/json.hpp>

namespace replideploy::api {

namespace json = boost::json;

namespace {

Error Bad(std::string message) { return MakeError(ErrorCode::kBadRequest, std::move(message)); }

std::string Name(std::string_view path, std::string_view field) {
  return std::string(path) + std::string(field);
}

const json::value* Find(const json::object& obj, std::string_view field) {
  const json::value* v = obj.if_contains(field);
  return (v == nullptr || v->is_null()) ? nullptr : v;
}

}  // namespace

http::Response JsonResponse(int status, const json::value& value) {
  return http::Response::Json(status, json::serialize(value));
}

Result<json::value> ParseJson(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Bad("request body is empty; expected JSON");
  }
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = 64;
  json::stream_parser parser({}, options);
  parser.write(body.data(), body.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) return Bad("request body is not valid JSON: " + ec.message());
  return parser.release();
}

Result<json::object> ParseJsonObject(std::string_view body, bool empty_ok) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    if (empty_ok) return json::object{};
    return Bad("request body is empty; expected a JSON object");
  }
  RD_TRY(json::value value, ParseJson(body));
  if (!value.is_object()) return Bad("request body must be a JSON object");
  return std::move(value.as_object());
}

Result<std::string> RequiredString(const json::object& obj, std::string_view field,
                                   std::string_view path) {
  const json::value* v = Find(obj, field);
  if (v == nullptr) return Bad(Name(path, field) + " is required");
  if (!v->is_string()) return Bad(Name(path, field) + " must be a string");
  return std::string(v->as_string());
}

Result<std::optional<std::string>> OptionalString(const json::object& obj, std::string_view field,
                                                  std::string_view path) {
  const json::value* v = Find(obj, field);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return Bad(Name(path, field) + " must be a string");
  return std::optional<std::string>(std::string(v->as_string()));
}

Result<std::optional<bool>> OptionalBool(const json::object& obj, std::string_view field,
                                         std::string_view path) {
  const json::value* v = Find(obj, field);
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_bool()) return Bad(Name(path, field) + " must be true or false");
  return std::optional<bool>(v->as_bool());
}

Result<const json::object*> OptionalObject(const json::object& obj, std::string_view field,
                                           std::string_view path) {
  const json::value* v = Find(obj, field);
  if (v == nullptr) return static_cast<const json::object*>(nullptr);
  if (!v->is_object()) return Bad(Name(path, field) + " must be an object");
  return &v->as_object();
}

}  // namespace replideploy::api
