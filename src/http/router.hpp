// Method + path pattern -> handler. Patterns are literal segments and "{name}" parameters
// matching exactly one non-empty segment ("/api/v1/sites/{site_id}/deploys"). A last segment
// "{name...}" matches every remaining segment, joined by '/' ("/deploys/{id}/files/{path...}").
// Build once at start-up, then Match() is const and thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace replideploy::http {

inline constexpr std::size_t kDefaultBodyLimit = 1 << 20;  // 1 MiB

// Which of the server's thread pools runs a handler. Each has threads of its own, so work of one
// kind that stalls cannot take the threads of the others (see ServerOptions).
enum class Pool {
  kApi,   // the control plane: database work, password hashing
  kEdge,  // sites' requests that the in-memory fast path cannot answer
  kSlow,  // handlers that wait on the outside world: git, other origins
};

struct RouteOptions {
  std::size_t body_limit = kDefaultBodyLimit;
  Pool pool = Pool::kApi;
  // The handler never blocks (a health check): it may run on the I/O thread, needing no pool.
  bool never_blocks = false;
};

struct RouteMatch {
  enum class Kind { kFound, kNotFound, kMethodNotAllowed };
  Kind kind = Kind::kNotFound;
  const Handler* handler = nullptr;
  RouteOptions options;
  std::map<std::string, std::string> params;
  std::vector<std::string> allowed_methods;  // for kMethodNotAllowed
};

class Router {
 public:
  void Add(std::string method, std::string_view pattern, Handler handler,
           RouteOptions options = {});
  // `path` is the decoded path. A trailing slash is ignored ("/a/" matches "/a").
  RouteMatch Match(std::string_view method, std::string_view path) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{x}" marks a parameter
    Handler handler;
    RouteOptions options;
  };
  std::vector<Route> routes_;
};

}  // namespace replideploy::http
