// `replideploy rules test` and `POST /api/v1/sites/{site}/rules/test`: what the edge would
// answer a request for one deploy, and why, rule by rule. Built on RouteRequest (route.hpp), the
// edge's own decision, so the explanation is what the edge does.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "deploys/manifest.hpp"
#include "edge/deploy_rules.hpp"
#include "http/message.hpp"

namespace replideploy::edge {

// A request to explain, as a user describes it.
struct ExplainInput {
  // A path with an optional query ("/old?page=2") or an http(s) URL
  // ("https://blog.example.com/old"), whose host then matters for full-URL rules.
  std::string url;
  std::string method = "GET";
  std::vector<std::pair<std::string, std::string>> headers;  // more request headers
  std::string country;             // the visitor's ISO 3166 code: sent as X-Country, as a CDN would
  std::string language;            // sent as Accept-Language
  std::string cookie;              // the Cookie header ("a=1; b=2")
  std::vector<std::string> roles;  // the visitor's verified roles, for Role= rules
};

// The request the edge would see for `input`, with Host `default_host` when `input.url` is a
// path. Fails with kBadRequest naming the field on what no client could send (a url that is
// neither a path nor an http(s) URL, a method or header name that is not a token, a line break
// in a value).
Result<http::Request> BuildExplainRequest(const ExplainInput& input, std::string_view default_host);

// The explanation as a JSON object (the API's answer; see docs/edge.md, "rules test"):
//   {"deploy_id", "request": {...}, "redirects": [{"source","rule","outcome","reason"}],
//    "headers": [{"source","for","applies","values"}], "static_file",
//    "answer": {"kind","status","location","rewrite","proxy","file","headers"}, "summary"}
std::string ExplainJson(const deploys::DeployManifest& manifest, const DeployRules& rules,
                        const http::Request& request, std::span<const std::string> roles);

// The explanation (ExplainJson's output) as text for a terminal; fails on JSON of another shape.
Result<std::string> FormatExplanation(std::string_view json);

// A redirect rule as one `_redirects` line ("/old /new 301!  Country=us").
std::string FormatRedirectRule(const RedirectRule& rule);

}  // namespace replideploy::edge
