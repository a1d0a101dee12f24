// The dashboard's exported files (Next.js `output: 'export'`), served on the control host for
// every GET that no API route takes. Client-side routes fall back to the app shell: a path
// segment that names nothing in the export is replaced by the literal segment "_", left to
// right ("/sites/blog/" -> "/sites/_/index.html"); what still names nothing gets 404.html.
// Loaded into memory once at start-up; immutable and thread-safe afterwards.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "core/result.hpp"
#include "http/message.hpp"

namespace replideploy::api {

class DashboardFiles {
 public:
  // Reads every file under `dir`. An empty or missing dir gives an empty set (the server then
  // answers with a page that says how to build the dashboard).
  static Result<std::unique_ptr<DashboardFiles>> Load(const std::string& dir);

  http::Response Serve(const http::Request& request) const;
  bool empty() const { return files_.empty(); }

 private:
  struct File {
    std::shared_ptr<const std::string> content;
    std::string content_type;
    std::string etag;
  };
  const File* Find(const std::string& path) const;
  http::Response Send(const http::Request& request, const File& file, int status,
                      bool immutable) const;

  std::map<std::string, File> files_;  // "/index.html" -> file
  std::set<std::string> dirs_;         // "/sites", "/sites/_"
};

}  // namespace replideploy::api
