#include "api/dashboard.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/crypto.hpp"
#include "edge/paths.hpp"
#include "store/content_type.hpp"

namespace replideploy::api {

namespace fs = std::filesystem;

Result<std::unique_ptr<DashboardFiles>> DashboardFiles::Load(const std::string& dir) {
  auto files = std::unique_ptr<DashboardFiles>(new DashboardFiles());
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) return files;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string rel = "/" + it->path().lexically_relative(dir).generic_string();
    if (it->is_directory()) {
      files->dirs_.insert(rel);
      continue;
    }
    if (!it->is_regular_file()) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    auto content = std::make_shared<const std::string>(ss.str());
    File f{content, std::string(store::ContentTypeForPath(rel)),
           "\"" + core::HexEncode(core::Sha256(*content)).substr(0, 32) + "\""};
    files->files_.emplace(rel, std::move(f));
  }
  if (ec)
    return MakeError(ErrorCode::kInternal,
                     "cannot read dashboard dir " + dir + ": " + ec.message());
  return files;
}

const DashboardFiles::File* DashboardFiles::Find(const std::string& path) const {
  for (const std::string& candidate :
       {path, path + ".html", path + (path.ends_with("/") ? "" : "/") + "index.html"}) {
    auto it = files_.find(candidate);
    if (it != files_.end()) return &it->second;
  }
  return nullptr;
}

http::Response DashboardFiles::Send(const http::Request& request, const File& file, int status,
                                    bool immutable) const {
  http::Response r;
  r.status = status;
  r.headers.Set("Content-Type", file.content_type);
  r.headers.Set("ETag", file.etag);
  r.headers.Set("Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
  r.headers.Set("X-Content-Type-Options", "nosniff");
  r.headers.Set("X-Frame-Options", "DENY");
  r.headers.Set("Referrer-Policy", "same-origin");
  if (status == 200 && request.Header("If-None-Match").find(file.etag) != std::string_view::npos) {
    r.status = 304;
    return r;
  }
  r.shared_body = file.content;
  r.shared_length = file.content->size();
  return r;
}

http::Response DashboardFiles::Serve(const http::Request& request) const {
  if (files_.empty()) {
    return http::Response::Text(
        200,
        "<!doctype html><meta charset=utf-8><title>RepliDeploy</title>"
        "<h1>RepliDeploy is running</h1><p>The API is at <code>/api/v1</code>. The dashboard "
        "has not been built: <code>scripts/up.sh</code> builds it, or run <code>npm ci && npm "
        "run build</code> in <code>dashboard/</code> and start the server with "
        "<code>--dashboard-dir dashboard/out</code>.</p>\n",
        "text/html; charset=utf-8");
  }
  auto path = edge::NormalizeRequestPath(request.target.substr(0, request.target.find('?')));
  if (!path.ok()) return http::Response::Text(400, "Bad Request\n");
  if (const File* f = Find(*path)) {
    return Send(request, *f, 200, path->starts_with("/_next/static/"));
  }
  // Client-side routes: swap segments that name nothing for "_", left to right.
  std::string resolved;
  std::string_view rest = *path;
  bool trailing = rest.size() > 1 && rest.back() == '/';
  std::vector<std::string_view> segments;
  for (std::size_t start = 1; start < rest.size();) {
    std::size_t end = rest.find('/', start);
    if (end == std::string_view::npos) end = rest.size();
    if (end > start) segments.push_back(rest.substr(start, end - start));
    start = end + 1;
  }
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string literal = resolved + "/" + std::string(segments[i]);
    const bool last = i + 1 == segments.size();
    const bool exists = dirs_.contains(literal) || (last && Find(literal) != nullptr);
    resolved = exists ? literal : resolved + "/_";
  }
  if (const File* f = Find(resolved + (trailing ? "/" : ""))) return Send(request, *f, 200, false);
  if (const File* f = Find(resolved)) return Send(request, *f, 200, false);
  if (const File* f = Find("/404.html")) return Send(request, *f, 404, false);
  return http::Response::Text(404, "Not Found\n");
}

}  // namespace replideploy::api
