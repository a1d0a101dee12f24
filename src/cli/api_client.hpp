// The CLI's view of a RepliDeploy (or Netlify-compatible) API: base URL + bearer token, JSON in
// and out, API errors turned into one readable line. Thread-safe (each call is independent).
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace replideploy::http {
class ClientConnection;
}

namespace replideploy::cli {

struct ClientSettings {
  std::string api_url;  // "http://127.0.0.1:8080", no trailing slash
  std::string token;
};

// Flag, then environment (REPLIDEPLOY_API_URL / REPLIDEPLOY_AUTH_TOKEN), then the file written
// by `replideploy login` (~/.config/replideploy/config.json, or $REPLIDEPLOY_CONFIG_DIR).
ClientSettings ResolveClientSettings(const std::string& flag_api_url,
                                     const std::string& flag_token);
// Writes the login file with mode 0600.
Status SaveClientSettings(const ClientSettings& settings);
std::string ClientSettingsPath();

class ApiClient {
 public:
  explicit ApiClient(ClientSettings settings) : settings_(std::move(settings)) {}

  // `path` starts with "/api/v1/...". A 4xx/5xx answer becomes an Error whose message is the
  // API's own message and whose code follows the status.
  Result<boost::json::value> Call(std::string_view method, std::string_view path,
                                  const boost::json::value* body = nullptr) const;
  // GET over `connection` (kept alive between calls, e.g. polling).
  Result<boost::json::value> Get(std::string_view path, http::ClientConnection* connection) const {
    return Send("GET", path, std::string(), "", connection);
  }
  // Raw bytes (file uploads). With `connection`, over its kept-alive connection (one per
  // thread).
  Result<boost::json::value> Upload(std::string_view path, std::string body,
                                    http::ClientConnection* connection = nullptr) const;
  // A batch of files (deploys/file_batch.hpp), POSTed.
  Result<boost::json::value> UploadBatch(std::string_view path, std::string body,
                                         http::ClientConnection* connection = nullptr) const;

  const ClientSettings& settings() const { return settings_; }

 private:
  Result<boost::json::value> Send(std::string_view method, std::string_view path, std::string body,
                                  std::string_view content_type,
                                  http::ClientConnection* connection = nullptr) const;
  ClientSettings settings_;
};

// Percent-encodes each segment of a deploy path for a URL ("/a b/c" -> "/a%20b/c").
std::string EncodePath(std::string_view path);

}  // namespace replideploy::cli
