// Reading untrusted JSON request bodies: each failure is a kBadRequest whose message names the
// field ("build_settings.cmd must be a string"), ready to show to the client.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "http/message.hpp"

namespace replideploy::api {

// `value` serialised as the body of an application/json response.
http::Response JsonResponse(int status, const boost::json::value& value);

// Any JSON value (depth at most 64); an empty body is an error.
Result<boost::json::value> ParseJson(std::string_view body);
// The body must be one JSON object. An empty body is an empty object when `empty_ok`.
Result<boost::json::object> ParseJsonObject(std::string_view body, bool empty_ok = false);

// `path` prefixes the field name in messages ("build_settings.").
Result<std::string> RequiredString(const boost::json::object& obj, std::string_view field,
                                   std::string_view path = {});
// Absent or null -> nullopt.
Result<std::optional<std::string>> OptionalString(const boost::json::object& obj,
                                                  std::string_view field,
                                                  std::string_view path = {});
Result<std::optional<bool>> OptionalBool(const boost::json::object& obj, std::string_view field,
                                         std::string_view path = {});
// Absent or null -> nullptr.
Result<const boost::json::object*> OptionalObject(const boost::json::object& obj,
                                                  std::string_view field,
                                                  std::string_view path = {});

}  // namespace replideploy::api
