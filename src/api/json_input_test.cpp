#include "api/json_input.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace replideploy::api {
namespace {

TEST(JsonInput, ParsesObjectsOnly) {
  EXPECT_TRUE(ParseJsonObject(R"({"a":1})").ok());
  for (std::string_view bad : {"", "[]", "1", "\"s\"", "{", R"({"a":})", R"({"a":1} x)", "nul"}) {
    auto r = ParseJsonObject(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kBadRequest);
  }
  EXPECT_TRUE(ParseJsonObject("  ", /*empty_ok=*/true).ok());
}

TEST(JsonInput, DeepNestingIsRejectedNotACrash) {
  std::string deep(100000, '[');
  auto r = ParseJsonObject("{\"a\":" + deep);
  EXPECT_FALSE(r.ok());
}

TEST(JsonInput, FieldErrorsNameTheField) {
  auto obj = ParseJsonObject(R"({"email":5,"name":null,"s":{"cmd":[]},"flag":"yes"})").value();
  auto email = RequiredString(obj, "email");
  ASSERT_FALSE(email.ok());
  EXPECT_EQ(email.error().message, "email must be a string");
  auto password = RequiredString(obj, "password");
  ASSERT_FALSE(password.ok());
  EXPECT_EQ(password.error().message, "password is required");
  auto name = OptionalString(obj, "name");
  ASSERT_TRUE(name.ok());
  EXPECT_FALSE(name->has_value());
  auto settings = OptionalObject(obj, "s");
  ASSERT_TRUE(settings.ok());
  auto cmd = OptionalString(**settings, "cmd", "build_settings.");
  ASSERT_FALSE(cmd.ok());
  EXPECT_EQ(cmd.error().message, "build_settings.cmd must be a string");
  auto flag = OptionalBool(obj, "flag");
  ASSERT_FALSE(flag.ok());
  EXPECT_EQ(flag.error().message, "flag must be true or false");
}

}  // namespace
}  // namespace replideploy::api
