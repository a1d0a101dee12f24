#include "api/return_path.hpp"

#include <gtest/gtest.h>

namespace replideploy::api {
namespace {

TEST(SameOriginPath, KeepsPathsOfOurDashboard) {
  for (std::string_view ok : {"/", "/new/", "/sites/my-blog/?tab=deploys&x=1", "/a%20b/",
                              "/account/?github=connected", "/a/b.c/..d/"}) {
    EXPECT_EQ(SameOriginPath(ok), std::string(ok)) << ok;
  }
}

TEST(SameOriginPath, RefusesWhatABrowserCouldTakeElsewhere) {
  for (std::string_view bad : {
           "",
           "//evil.example",
           "/\t/evil.example",  // browsers drop tabs and newlines: "//evil.example"
           "/\n/evil.example",
           "/\r/evil.example",
           "/\\evil.example",
           "\\/evil.example",
           "/ /evil.example",
           "https://evil.example/",
           "javascript:alert(1)",
           "evil.example",
           "/%2F/evil.example",
           "/%2f%2fevil.example",
           "/%5Cevil.example",
           "/%09/evil.example",
           "/./",
           "/.//evil.example",
           "/a/../../evil",
           "/new/#frag",
           "/\xc3\xa9/",
           "/%zz/",
       }) {
    EXPECT_EQ(SameOriginPath(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(SameOriginPath("/" + std::string(600, 'a')), std::nullopt);
}

}  // namespace
}  // namespace replideploy::api
