// The one table that maps error codes to HTTP statuses and JSON error bodies.
#pragma once

#include <string_view>

#include "core/result.hpp"
#include "http/message.hpp"

namespace replideploy::api {

int HttpStatus(ErrorCode code);

// {"error":{"code":...,"message":...}} with the status from the table. Internal and
// unavailable errors are logged with `request_id` and shown to the client in generic words;
// every other message was written for the client and is shown as is.
http::Response ErrorResponse(const Error& error, std::string_view request_id = {});

// 501 {"error":{"code":"not_implemented","message":...}} for a Netlify feature that only its
// hosted platform has (Blobs, Identity, edge functions...); `message` names the feature.
http::Response NotImplementedResponse(std::string_view message);

}  // namespace replideploy::api
