#include "http/message.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace replideploy::http {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST(Headers, LookupIgnoresCase) {
  Headers headers;
  headers.Add("Content-Type", "text/html");
  headers.Add("X-Many", "1");
  headers.Add("x-many", "2");
  EXPECT_EQ(headers.Get("content-type"), "text/html");
  EXPECT_TRUE(headers.Has("CONTENT-TYPE"));
  EXPECT_FALSE(headers.Has("Content-Length"));
  EXPECT_EQ(headers.Get("Content-Length"), "");
  EXPECT_EQ(headers.Get("X-MANY"), "1");
  EXPECT_EQ(headers.All().size(), 3u);
}

TEST(Headers, SetReplacesEveryValueInPlace) {
  Headers headers;
  headers.Add("A", "1");
  headers.Add("Vary", "x");
  headers.Add("B", "2");
  headers.Add("vary", "y");
  headers.Set("VARY", "z");
  ASSERT_EQ(headers.All().size(), 3u);
  EXPECT_EQ(headers.All()[1].first, "VARY");
  EXPECT_EQ(headers.All()[1].second, "z");
  EXPECT_EQ(headers.All()[2].first, "B");
  headers.Set("New", "n");
  EXPECT_EQ(headers.All().back().first, "New");
}

TEST(Headers, CopiesShareUntilChangedAndChangesDropTheRendering) {
  Headers prepared;
  prepared.Add("Content-Type", "text/html");
  prepared.Add("ETag", "\"abc\"");
  ASSERT_TRUE(prepared.Prerender());
  ASSERT_NE(prepared.Rendered(), nullptr);
  EXPECT_EQ(*prepared.Rendered(), "Content-Type: text/html\r\nETag: \"abc\"\r\n");

  Headers copy = prepared;
  EXPECT_EQ(copy.Rendered(), prepared.Rendered()) << "a copy shares the list and its rendering";
  copy.Set("Cache-Control", "no-store");
  EXPECT_EQ(copy.Rendered(), nullptr) << "a changed copy is rendered by the server again";
  EXPECT_EQ(copy.Get("Cache-Control"), "no-store");
  EXPECT_EQ(copy.Get("ETag"), "\"abc\"");
  EXPECT_FALSE(prepared.Has("Cache-Control")) << "the original is untouched";
  ASSERT_NE(prepared.Rendered(), nullptr);
  EXPECT_EQ(prepared.All().size(), 2u);

  Headers cleared = prepared;
  cleared.Clear();
  EXPECT_TRUE(cleared.All().empty());
  EXPECT_EQ(prepared.All().size(), 2u) << "clearing a copy leaves the shared list alone";
  cleared.Add("A", "1");
  cleared.Clear();
  cleared.Add("B", "2");
  ASSERT_EQ(cleared.All().size(), 1u);
  EXPECT_EQ(cleared.All()[0].first, "B");

  // What the server sets itself or would drop is never pre-rendered.
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"Connection", "close"},
                                                        {"content-length", "3"},
                                                        {"X-Request-Id", "x"},
                                                        {"Bad Name", "v"},
                                                        {"X", "a\r\nInjected: 1"}}) {
    Headers h;
    h.Add("Content-Type", "text/plain");
    h.Add(name, value);
    EXPECT_FALSE(h.Prerender()) << name;
    EXPECT_EQ(h.Rendered(), nullptr) << name;
  }
  Headers empty;
  EXPECT_TRUE(empty.All().empty());
  EXPECT_EQ(empty.Get("X"), "");
}

TEST(Cookies, ValueByName) {
  EXPECT_EQ(CookieValue("a=1; rd_oauth=xyz; b=2", "rd_oauth"), "xyz");
  EXPECT_EQ(CookieValue("rd_oauth=\"q\"", "rd_oauth"), "q");
  EXPECT_EQ(CookieValue("rd_oauth=", "rd_oauth"), "");
  EXPECT_EQ(CookieValue("x_rd_oauth=1; rd_oauthx=2", "rd_oauth"), std::nullopt);
  EXPECT_EQ(CookieValue("", "rd_oauth"), std::nullopt);
}

TEST(Query, ParsesDecodedPairsInOrder) {
  EXPECT_EQ(ParseQuery("a=1&b=%20x&c=hello+world&a=2"),
            (Pairs{{"a", "1"}, {"b", " x"}, {"c", "hello world"}, {"a", "2"}}));
}

TEST(Query, HandlesEmptyPiecesAndMissingValues) {
  EXPECT_EQ(ParseQuery(""), Pairs{});
  EXPECT_EQ(ParseQuery("&&flag&=v&k="), (Pairs{{"flag", ""}, {"", "v"}, {"k", ""}}));
  EXPECT_EQ(ParseQuery("a=b=c"), (Pairs{{"a", "b=c"}}));
}

TEST(Query, KeepsMalformedEscapesAndNulVerbatim) {
  EXPECT_EQ(ParseQuery("a=%zz&b=%4&c=%&d=%00&e=%41"),
            (Pairs{{"a", "%zz"}, {"b", "%4"}, {"c", "%"}, {"d", "%00"}, {"e", "A"}}));
}

TEST(Query, RequestQueryParamReturnsFirst) {
  Request request;
  request.query = ParseQuery("page=2&page=3&empty=");
  EXPECT_EQ(request.QueryParam("page"), "2");
  EXPECT_EQ(request.QueryParam("empty"), "");
  EXPECT_EQ(request.QueryParam("missing"), std::nullopt);
}

TEST(PercentDecode, DecodesEscapes) {
  EXPECT_EQ(PercentDecode("/a%20b/%C3%A9"), "/a b/\xC3\xA9");
  EXPECT_EQ(PercentDecode("%2e%2E"), "..");
  EXPECT_EQ(PercentDecode("plus+stays"), "plus+stays");
  EXPECT_EQ(PercentDecode(""), "");
}

TEST(PercentDecode, RejectsMalformedEscapes) {
  EXPECT_EQ(PercentDecode("%"), std::nullopt);
  EXPECT_EQ(PercentDecode("abc%4"), std::nullopt);
  EXPECT_EQ(PercentDecode("%g1"), std::nullopt);
  EXPECT_EQ(PercentDecode("%1g"), std::nullopt);
}

TEST(PercentDecode, RejectsNul) { EXPECT_EQ(PercentDecode("/file%00.txt"), std::nullopt); }

std::string HostOf(std::string host_header) {
  Request request;
  request.headers.Add("Host", std::move(host_header));
  return request.HostName();
}

TEST(Request, HostNameStripsPortAndLowerCases) {
  EXPECT_EQ(HostOf("Example.COM"), "example.com");
  EXPECT_EQ(HostOf("my-site.localhost:8080"), "my-site.localhost");
  EXPECT_EQ(HostOf("[::1]:8080"), "[::1]");
  EXPECT_EQ(HostOf("[FE80::1]"), "[fe80::1]");
  EXPECT_EQ(HostOf("127.0.0.1:80"), "127.0.0.1");
  EXPECT_EQ(HostOf(""), "");
  EXPECT_EQ(Request{}.HostName(), "");
}

TEST(Response, JsonSetsContentType) {
  Response response = Response::Json(201, R"({"id":"x"})");
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.headers.Get("Content-Type"), "application/json; charset=utf-8");
  EXPECT_EQ(response.body, R"({"id":"x"})");
}

TEST(Response, ErrorHasDocumentedShape) {
  Response response = Response::Error(404, "not_found", "site not found");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.headers.Get("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(response.body, R"({"error":{"code":"not_found","message":"site not found"}})");
}

TEST(Response, ErrorEscapesQuotesAndNewlines) {
  Response response = Response::Error(400, "bad_request", "bad \"name\"\nline2\\ \x01");
  const boost::json::value parsed = boost::json::parse(response.body);
  EXPECT_EQ(parsed.at("error").at("message").as_string(), "bad \"name\"\nline2\\ \x01");
  EXPECT_EQ(response.body.find('\n'), std::string::npos);
}

TEST(Response, ErrorReplacesInvalidUtf8) {
  Response response = Response::Error(400, "bad_request", "caf\xC3\xA9 \xFF");
  const boost::json::value parsed = boost::json::parse(response.body);
  EXPECT_EQ(parsed.at("error").at("message").as_string(), "caf\xC3\xA9 \xEF\xBF\xBD");
}

TEST(Response, TextDefaultsToPlainUtf8) {
  Response response = Response::Text(200, "hi");
  EXPECT_EQ(response.headers.Get("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(Response::Text(200, "<p>", "text/html").headers.Get("Content-Type"), "text/html");
}

TEST(HeaderTokens, SplitTrimsAndDropsEmpty) {
  EXPECT_EQ(SplitHeaderTokens(" keep-alive ,Upgrade,, \tclose"),
            (std::vector<std::string>{"keep-alive", "Upgrade", "close"}));
  EXPECT_TRUE(SplitHeaderTokens("").empty());
}

TEST(BasicCredentials, DecodesUserAndPassword) {
  auto creds = BasicCredentials("Basic eC1hY2Nlc3MtdG9rZW46Z2hvX3NlY3JldA==");
  ASSERT_TRUE(creds);
  EXPECT_EQ(creds->first, "x-access-token");
  EXPECT_EQ(creds->second, "gho_secret");
  EXPECT_TRUE(BasicCredentials("basic dTpwOnE="));  // the scheme is case-insensitive
  EXPECT_EQ(BasicCredentials("basic dTpwOnE=")->second, "p:q");
  EXPECT_FALSE(BasicCredentials("Bearer abc"));
  EXPECT_FALSE(BasicCredentials("Basic !!!"));
  EXPECT_FALSE(BasicCredentials("Basic bm9jb2xvbg=="));  // "nocolon"
  EXPECT_FALSE(BasicCredentials(""));
}

TEST(Cgi, OutputBecomesAResponse) {
  auto r = ParseCgiOutput(
      "Status: 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nno!");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->headers.Get("Content-Type"), "text/plain");
  EXPECT_FALSE(r->headers.Has("Content-Length"));  // the server frames the body
  EXPECT_EQ(r->body, "no!");
  auto bare = ParseCgiOutput("Content-Type: application/x-git\n\nPACK\r\n\r\n");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->status, 200);
  EXPECT_EQ(bare->body, "PACK\r\n\r\n");
  EXPECT_EQ(ParseCgiOutput("Status: abc\n\n")->status, 500);
  EXPECT_FALSE(ParseCgiOutput("no header block"));
}

}  // namespace
}  // namespace replideploy::http
