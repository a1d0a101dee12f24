#include "http/router.hpp"

#include <gtest/gtest.h>

namespace replideploy::http {
namespace {

// A handler that answers with its own name, so a test can see which route matched.
Handler Named(const std::string& name) {
  return [name](Request&) { return Response::Text(200, name); };
}

std::string MatchedName(const RouteMatch& match) {
  if (match.kind != RouteMatch::Kind::kFound || match.handler == nullptr) return "<none>";
  Request request;
  return (*match.handler)(request).body;
}

TEST(Router, MatchesLiteralRoute) {
  Router router;
  router.Add("GET", "/api/v1/sites", Named("list"));
  EXPECT_EQ(MatchedName(router.Match("GET", "/api/v1/sites")), "list");
  EXPECT_EQ(router.Match("GET", "/api/v1").kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(router.Match("GET", "/api/v1/sites/x").kind, RouteMatch::Kind::kNotFound);
}

TEST(Router, ExtractsParameters) {
  Router router;
  router.Add("GET", "/api/v1/sites/{site_id}/deploys/{deploy_id}", Named("deploy"));
  RouteMatch match = router.Match("GET", "/api/v1/sites/s1/deploys/d 2");
  ASSERT_EQ(match.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(match.params.at("site_id"), "s1");
  EXPECT_EQ(match.params.at("deploy_id"), "d 2");
  EXPECT_EQ(match.params.size(), 2u);
}

TEST(Router, ParameterNeedsNonEmptySegment) {
  Router router;
  router.Add("GET", "/sites/{id}/deploys", Named("deploys"));
  EXPECT_EQ(router.Match("GET", "/sites//deploys").kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(router.Match("GET", "/sites/deploys").kind, RouteMatch::Kind::kNotFound);
}

TEST(Router, IgnoresTrailingSlash) {
  Router router;
  router.Add("GET", "/api/v1/sites", Named("list"));
  router.Add("GET", "/", Named("root"));
  EXPECT_EQ(MatchedName(router.Match("GET", "/api/v1/sites/")), "list");
  EXPECT_EQ(MatchedName(router.Match("GET", "/")), "root");
  EXPECT_EQ(MatchedName(router.Match("GET", "")), "root");
}

TEST(Router, LiteralBeatsParameter) {
  for (bool literal_first : {true, false}) {
    Router router;
    if (literal_first) router.Add("GET", "/api/v1/sites/search", Named("search"));
    router.Add("GET", "/api/v1/sites/{id}", Named("one"));
    if (!literal_first) router.Add("GET", "/api/v1/sites/search", Named("search"));
    EXPECT_EQ(MatchedName(router.Match("GET", "/api/v1/sites/search")), "search");
    EXPECT_EQ(MatchedName(router.Match("GET", "/api/v1/sites/abc")), "one");
  }
}

TEST(Router, EarlierLiteralSegmentDecides) {
  Router router;
  router.Add("GET", "/{a}/b", Named("param-first"));
  router.Add("GET", "/a/{b}", Named("literal-first"));
  EXPECT_EQ(MatchedName(router.Match("GET", "/a/b")), "literal-first");
  EXPECT_EQ(MatchedName(router.Match("GET", "/x/b")), "param-first");
}

TEST(Router, WrongMethodIsMethodNotAllowedWithAllowedList) {
  Router router;
  router.Add("GET", "/sites/{id}", Named("get"));
  router.Add("DELETE", "/sites/{id}", Named("delete"));
  router.Add("POST", "/sites", Named("create"));
  RouteMatch match = router.Match("PUT", "/sites/abc");
  EXPECT_EQ(match.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_EQ(match.handler, nullptr);
  EXPECT_EQ(match.allowed_methods, (std::vector<std::string>{"DELETE", "GET", "HEAD"}));
  EXPECT_EQ(router.Match("GET", "/nope").kind, RouteMatch::Kind::kNotFound);
}

TEST(Router, MethodIsCaseSensitive) {
  Router router;
  router.Add("GET", "/a", Named("a"));
  EXPECT_EQ(router.Match("get", "/a").kind, RouteMatch::Kind::kMethodNotAllowed);
}

TEST(Router, HeadFallsBackToGet) {
  Router router;
  router.Add("GET", "/file", Named("get"));
  EXPECT_EQ(MatchedName(router.Match("HEAD", "/file")), "get");
  router.Add("HEAD", "/file", Named("head"));
  EXPECT_EQ(MatchedName(router.Match("HEAD", "/file")), "head");
}

TEST(Router, CarriesRouteOptions) {
  Router router;
  router.Add("PUT", "/deploys/{id}/files/{path}", Named("upload"), RouteOptions{.body_limit = 42});
  router.Add("GET", "/x", Named("x"));
  EXPECT_EQ(router.Match("PUT", "/deploys/d/files/f").options.body_limit, 42u);
  EXPECT_EQ(router.Match("GET", "/x").options.body_limit, kDefaultBodyLimit);
}

TEST(Router, RestParameterTakesRemainingSegments) {
  Router router;
  router.Add("PUT", "/deploys/{id}/files/{path...}", Named("file"));
  router.Add("PUT", "/deploys/{id}/files/special", Named("special"));
  auto m = router.Match("PUT", "/deploys/d1/files/assets/css/site.css");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(m.params["id"], "d1");
  EXPECT_EQ(m.params["path"], "assets/css/site.css");
  auto one = router.Match("PUT", "/deploys/d1/files/index.html");
  ASSERT_EQ(one.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(one.params["path"], "index.html");
  EXPECT_EQ(router.Match("PUT", "/deploys/d1/files").kind, RouteMatch::Kind::kNotFound);
  Request r;
  EXPECT_EQ((*router.Match("PUT", "/deploys/d1/files/special").handler)(r).body, "special");
}

}  // namespace
}  // namespace replideploy::http
