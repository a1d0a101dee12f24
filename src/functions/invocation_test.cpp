#include "functions/invocation.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace replideploy::functions {
namespace {

namespace json = boost::json;

FunctionRequest Sample() {
  FunctionRequest r;
  r.method = "POST";
  r.raw_url = "http://s.localhost/.netlify/functions/f?a=1&a=2&b=x%20y";
  r.path = "/.netlify/functions/f";
  r.raw_query = "a=1&a=2&b=x%20y";
  r.headers = {{"Content-Type", "text/plain"}, {"X-Two", "1"}, {"x-two", "2"}};
  r.body = "hi";
  return r;
}

TEST(LambdaEvent, CarriesNetlifysV1Fields) {
  const json::object e = json::parse(LambdaEvent(Sample())).as_object();
  EXPECT_EQ(e.at("httpMethod"), "POST");
  EXPECT_EQ(e.at("path"), "/.netlify/functions/f");
  EXPECT_EQ(e.at("rawQuery"), "a=1&a=2&b=x%20y");
  EXPECT_EQ(e.at("queryStringParameters").at("b"), "x y");
  EXPECT_EQ(e.at("queryStringParameters").at("a"), "1,2");
  EXPECT_EQ(e.at("multiValueQueryStringParameters").at("a").as_array().size(), 2u);
  EXPECT_EQ(e.at("headers").at("x-two"), "1, 2");
  EXPECT_EQ(e.at("multiValueHeaders").at("x-two").as_array().size(), 2u);
  EXPECT_EQ(e.at("body"), "hi");
  EXPECT_EQ(e.at("isBase64Encoded"), false);
}

TEST(LambdaEvent, BinaryBodiesGoInBase64) {
  FunctionRequest r = Sample();
  r.headers = {{"Content-Type", "application/octet-stream"}};
  r.body = std::string("\x00\xff\x01", 3);
  const json::object e = json::parse(LambdaEvent(r)).as_object();
  EXPECT_EQ(e.at("isBase64Encoded"), true);
  EXPECT_EQ(e.at("body"), "AP8B");
  // Text that is not UTF-8 is not sent as text either.
  r.headers = {{"Content-Type", "text/plain"}};
  r.body = "\xc3";
  EXPECT_EQ(json::parse(LambdaEvent(r)).at("isBase64Encoded"), true);
}

TEST(ParseLambdaResponse, ReadsHeadersAndBase64Bodies) {
  auto r = ParseLambdaResponse(
      R"({"statusCode":201,"headers":{"A":"1","Set-Cookie":"x"},)"
      R"("multiValueHeaders":{"set-cookie":["a=1","b=2"]},"body":"AP8B","isBase64Encoded":true})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, std::string("\x00\xff\x01", 3));
  int cookies = 0;
  for (const auto& [k, v] : r->headers) cookies += k == "set-cookie" || k == "Set-Cookie";
  EXPECT_EQ(cookies, 2);  // multiValueHeaders win over headers of the same name
}

TEST(ParseLambdaResponse, RefusesWhatIsNotAnAnswer) {
  EXPECT_FALSE(ParseLambdaResponse("[]").ok());
  EXPECT_FALSE(ParseLambdaResponse("{\"body\":\"x\"}").ok());
  EXPECT_FALSE(ParseLambdaResponse("{\"statusCode\":99}").ok());
  EXPECT_FALSE(
      ParseLambdaResponse("{\"statusCode\":200,\"body\":\"%%\",\"isBase64Encoded\":true}").ok());
  const std::string big(kMaxBodyBytes + 1, 'a');
  EXPECT_FALSE(ParseLambdaResponse("{\"statusCode\":200,\"body\":\"" + big + "\"}").ok());
}

}  // namespace
}  // namespace replideploy::functions
