// Netlify API families that only Netlify's hosted platform has. A client that reaches one gets
// 501 not_implemented naming the feature, rather than a 404 that reads like a typo.
#include <array>
#include <string>

#include "api/app.hpp"
#include "api/errors.hpp"

namespace replideploy::api {

namespace {

constexpr std::array<const char*, 6> kMethods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};

void AddNotImplemented(http::Router& router, std::string_view pattern, std::string message) {
  for (const char* method : kMethods) {
    router.Add(method, pattern,
               [message](http::Request&) { return NotImplementedResponse(message); });
  }
}

}  // namespace

void AddHostedOnlyRoutes(http::Router& router, App&) {
  const std::string blobs =
      "Netlify Blobs is a Netlify-hosted feature and is not supported by this server";
  AddNotImplemented(router, "/api/v1/blobs/{path...}", blobs);

  const std::string identity =
      "Netlify Identity is a Netlify-hosted feature and is not supported by this server";
  AddNotImplemented(router, "/api/v1/sites/{site_id}/identity", identity);
  AddNotImplemented(router, "/api/v1/sites/{site_id}/identity/{path...}", identity);

  // Add-on services (Identity was provisioned as the "identity" add-on).
  for (const char* pattern : {"/api/v1/sites/{site_id}/services/{addon}/instances",
                              "/api/v1/sites/{site_id}/services/{addon}/instances/{id}"}) {
    for (const char* method : kMethods) {
      router.Add(method, pattern, [](http::Request& req) {
        return NotImplementedResponse("Netlify add-on services (here \"" +
                                      req.path_params["addon"] +
                                      "\") are a Netlify-hosted feature and are not supported "
                                      "by this server");
      });
    }
  }
}

}  // namespace replideploy::api
