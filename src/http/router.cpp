#include "http/router.hpp"

#include <algorithm>
#include <set>

namespace replideploy::http {

namespace {

// "/a/b/" -> {"a", "b"}; "/" -> {}. Inner empty segments ("/a//b") are kept so they never match.
std::vector<std::string_view> SplitPath(std::string_view path) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  std::vector<std::string_view> segments;
  if (path.empty()) return segments;
  for (;;) {
    const std::size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

bool IsParameter(std::string_view segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

// "{path...}": the last segment of a pattern, matching all remaining segments (one or more).
bool IsRest(std::string_view segment) { return IsParameter(segment) && segment.ends_with("...}"); }

std::string ParameterName(std::string_view segment) {
  segment = segment.substr(1, segment.size() - 2);
  if (segment.ends_with("...")) segment.remove_suffix(3);
  return std::string(segment);
}

}  // namespace

void Router::Add(std::string method, std::string_view pattern, Handler handler,
                 RouteOptions options) {
  Route route;
  route.method = std::move(method);
  for (std::string_view segment : SplitPath(pattern)) route.segments.emplace_back(segment);
  route.handler = std::move(handler);
  route.options = options;
  routes_.push_back(std::move(route));
}

RouteMatch Router::Match(std::string_view method, std::string_view path) const {
  const std::vector<std::string_view> segments = SplitPath(path);

  const auto matches = [&](const Route& route) {
    const bool rest = !route.segments.empty() && IsRest(route.segments.back());
    if (rest ? segments.size() < route.segments.size() : route.segments.size() != segments.size()) {
      return false;
    }
    for (std::size_t i = 0; i < route.segments.size(); ++i) {
      const std::string& pattern = route.segments[i];
      if (IsParameter(pattern)) {
        if (segments[i].empty()) return false;
      } else if (pattern != segments[i]) {
        return false;
      }
    }
    return true;
  };
  // Among routes that match, the one whose first differing segment is literal wins, so
  // "/sites/search" beats "/sites/{id}" whatever order they were added in.
  const auto more_specific = [&](const Route& a, const Route& b) {
    for (std::size_t i = 0; i < std::min(a.segments.size(), b.segments.size()); ++i) {
      const bool a_literal = !IsParameter(a.segments[i]);
      const bool b_literal = !IsParameter(b.segments[i]);
      if (a_literal != b_literal) return a_literal;
    }
    return false;
  };
  const auto best_for = [&](std::string_view wanted) -> const Route* {
    const Route* best = nullptr;
    for (const Route& route : routes_) {
      if (route.method != wanted || !matches(route)) continue;
      if (best == nullptr || more_specific(route, *best)) best = &route;
    }
    return best;
  };

  const Route* route = best_for(method);
  if (route == nullptr && method == "HEAD") route = best_for("GET");

  RouteMatch match;
  if (route != nullptr) {
    match.kind = RouteMatch::Kind::kFound;
    match.handler = &route->handler;
    match.options = route->options;
    for (std::size_t i = 0; i < route->segments.size(); ++i) {
      const std::string& pattern = route->segments[i];
      if (IsRest(pattern)) {
        std::string joined(segments[i]);
        for (std::size_t k = i + 1; k < segments.size(); ++k) {
          joined += "/";
          joined += segments[k];
        }
        match.params.emplace(ParameterName(pattern), std::move(joined));
      } else if (IsParameter(pattern)) {
        match.params.emplace(ParameterName(pattern), std::string(segments[i]));
      }
    }
    return match;
  }

  std::set<std::string> allowed;
  for (const Route& candidate : routes_) {
    if (!matches(candidate)) continue;
    allowed.insert(candidate.method);
    if (candidate.method == "GET") allowed.insert("HEAD");
  }
  if (allowed.empty()) {
    match.kind = RouteMatch::Kind::kNotFound;
  } else {
    match.kind = RouteMatch::Kind::kMethodNotAllowed;
    match.allowed_methods.assign(allowed.begin(), allowed.end());
  }
  return match;
}

}  // namespace replideploy::http
