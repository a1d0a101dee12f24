#include "cli/api_client.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "http/client.hpp"

namespace replideploy::cli {

namespace json = boost::json;
namespace fs = std::filesystem;

std::string ClientSettingsPath() {
  if (const char* dir = std::getenv("REPLIDEPLOY_CONFIG_DIR"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/config.json";
  }
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  std::string base = (xdg != nullptr && *xdg != '\0') ? std::string(xdg)
                     : home != nullptr                ? std::string(home) + "/.config"
                                                      : std::string(".");
  return base + "/replideploy/config.json";
}

ClientSettings ResolveClientSettings(const std::string& flag_api_url,
                                     const std::string& flag_token) {
  ClientSettings saved;
  std::ifstream in(ClientSettingsPath());
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    boost::system::error_code ec;
    json::value v = json::parse(ss.str(), ec);
    if (!ec && v.is_object()) {
      if (auto* u = v.as_object().if_contains("api_url"); u && u->is_string())
        saved.api_url = u->as_string();
      if (auto* t = v.as_object().if_contains("token"); t && t->is_string())
        saved.token = t->as_string();
    }
  }
  auto pick = [](const std::string& flag, const char* env, const std::string& file,
                 const std::string& fallback) {
    if (!flag.empty()) return flag;
    if (const char* e = std::getenv(env); e != nullptr && *e != '\0') return std::string(e);
    return file.empty() ? fallback : file;
  };
  ClientSettings s;
  s.api_url = pick(flag_api_url, "REPLIDEPLOY_API_URL", saved.api_url, "http://127.0.0.1:8080");
  while (!s.api_url.empty() && s.api_url.back() == '/') s.api_url.pop_back();
  s.token = pick(flag_token, "REPLIDEPLOY_AUTH_TOKEN", saved.token, "");
  return s;
}

Status SaveClientSettings(const ClientSettings& settings) {
  const std::string path = ClientSettingsPath();
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  const std::string text =
      json::serialize(json::object{{"api_url", settings.api_url}, {"token", settings.token}}) +
      "\n";
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return MakeError(ErrorCode::kInternal, "cannot write " + path);
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::fchmod(fd, 0600);
  ::close(fd);
  if (!ok || std::rename(temp.c_str(), path.c_str()) != 0) {
    return MakeError(ErrorCode::kInternal, "cannot write " + path);
  }
  return {};
}

std::string EncodePath(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
        c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Result<json::value> ApiClient::Call(std::string_view method, std::string_view path,
                                    const json::value* body) const {
  return Send(method, path, body ? json::serialize(*body) : std::string(),
              body ? "application/json" : "");
}

Result<json::value> ApiClient::Upload(std::string_view path, std::string body,
                                      http::ClientConnection* connection) const {
  return Send("PUT", path, std::move(body), "application/octet-stream", connection);
}

Result<json::value> ApiClient::UploadBatch(std::string_view path, std::string body,
                                           http::ClientConnection* connection) const {
  return Send("POST", path, std::move(body), "application/x-replideploy-files", connection);
}

Result<json::value> ApiClient::Send(std::string_view method, std::string_view path,
                                    std::string body, std::string_view content_type,
                                    http::ClientConnection* connection) const {
  http::ClientRequest request;
  request.method = std::string(method);
  request.url = settings_.api_url + std::string(path);
  request.body = std::move(body);
  request.timeout = std::chrono::minutes(10);
  if (!content_type.empty()) request.headers.Set("Content-Type", std::string(content_type));
  if (!settings_.token.empty()) request.headers.Set("Authorization", "Bearer " + settings_.token);
  RD_TRY(http::ClientResponse response,
         connection != nullptr ? connection->Fetch(request) : http::Fetch(request));
  boost::system::error_code ec;
  json::value value = response.body.empty() ? json::value(nullptr) : json::parse(response.body, ec);
  if (response.status >= 400) {
    std::string message = "HTTP " + std::to_string(response.status);
    if (!ec && value.is_object()) {
      if (auto* e = value.as_object().if_contains("error"); e && e->is_object()) {
        if (auto* m = e->as_object().if_contains("message"); m && m->is_string()) {
          message = std::string(m->as_string());
        }
      }
    }
    ErrorCode code = response.status == 401   ? ErrorCode::kUnauthenticated
                     : response.status == 404 ? ErrorCode::kNotFound
                     : response.status >= 500 ? ErrorCode::kUnavailable
                                              : ErrorCode::kBadRequest;
    return MakeError(code, message);
  }
  if (ec) return MakeError(ErrorCode::kUnavailable, "the server's answer is not JSON");
  return value;
}

}  // namespace replideploy::cli
