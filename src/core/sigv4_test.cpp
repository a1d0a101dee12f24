// The signer against AWS's published worked examples: the Signature Version 4 test suite
// (credentials AKIDEXAMPLE, 2015-08-30) and the S3 API reference's header-based examples
// (AKIAIOSFODNN7EXAMPLE, examplebucket, 2013-05-24). Known keys, known signatures: a signing
// bug cannot hide behind a server that does not check.
#include "core/sigv4.hpp"

#include <gtest/gtest.h>

namespace replideploy::core {
namespace {

constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const SigV4Credentials kSuiteCredentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                         ""};
const SigV4Credentials kS3Credentials{"AKIAIOSFODNN7EXAMPLE",
                                      "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};

SigV4Request SuiteRequest(std::vector<std::pair<std::string, std::string>> query = {}) {
  return SigV4Request{"GET",
                      "/",
                      std::move(query),
                      {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
                      std::string(kEmptySha256)};
}

std::string SignatureOf(const std::string& authorization) {
  return authorization.substr(authorization.rfind('=') + 1);
}

TEST(SigV4, TestSuiteGetVanilla) {
  const SigV4Request request = SuiteRequest();
  EXPECT_EQ(SigV4CanonicalRequest(request),
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\n" +
                std::string(kEmptySha256));
  const SigV4Scope scope{"20150830", "us-east-1", "service"};
  const std::string string_to_sign =
      SigV4StringToSign("20150830T123600Z", scope, SigV4CanonicalRequest(request));
  EXPECT_EQ(string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  EXPECT_EQ(SigV4Authorization(request, kSuiteCredentials, "us-east-1", "service"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, TestSuiteQueryIsSortedByKey) {
  const SigV4Request request = SuiteRequest({{"Param2", "value2"}, {"Param1", "value1"}});
  EXPECT_EQ(SignatureOf(SigV4Authorization(request, kSuiteCredentials, "us-east-1", "service")),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4, S3GetObjectWithRange) {
  const SigV4Request request{"GET",
                             "/test.txt",
                             {},
                             {{"Host", "examplebucket.s3.amazonaws.com"},
                              {"Range", "bytes=0-9"},
                              {"x-amz-content-sha256", std::string(kEmptySha256)},
                              {"x-amz-date", "20130524T000000Z"}},
                             std::string(kEmptySha256)};
  const SigV4Scope scope{"20130524", "us-east-1", "s3"};
  EXPECT_EQ(SigV4StringToSign("20130524T000000Z", scope, SigV4CanonicalRequest(request)),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(SigV4Authorization(request, kS3Credentials, "us-east-1", "s3"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, S3PutObjectEncodesTheKeyAndSignsTheBody) {
  const std::string body_sha256 = Sha256Hex("Welcome to Amazon S3.");
  EXPECT_EQ(body_sha256, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  const SigV4Request request{"PUT",
                             "/test$file.text",
                             {},
                             {{"Host", "examplebucket.s3.amazonaws.com"},
                              {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                              {"x-amz-content-sha256", body_sha256},
                              {"x-amz-date", "20130524T000000Z"},
                              {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
                             body_sha256};
  EXPECT_EQ(SigV4CanonicalRequest(request).substr(0, 22), "PUT\n/test%24file.text\n");
  const std::string authorization = SigV4Authorization(request, kS3Credentials, "us-east-1", "s3");
  EXPECT_NE(authorization.find(
                "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class"),
            std::string::npos);
  EXPECT_EQ(SignatureOf(authorization),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4, S3GetBucketLifecycleHasAnEmptyQueryValue) {
  const SigV4Request request{"GET",
                             "/",
                             {{"lifecycle", ""}},
                             {{"Host", "examplebucket.s3.amazonaws.com"},
                              {"x-amz-content-sha256", std::string(kEmptySha256)},
                              {"x-amz-date", "20130524T000000Z"}},
                             std::string(kEmptySha256)};
  EXPECT_EQ(SignatureOf(SigV4Authorization(request, kS3Credentials, "us-east-1", "s3")),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4, S3ListObjects) {
  const SigV4Request request{"GET",
                             "/",
                             {{"prefix", "J"}, {"max-keys", "2"}},
                             {{"Host", "examplebucket.s3.amazonaws.com"},
                              {"x-amz-content-sha256", std::string(kEmptySha256)},
                              {"x-amz-date", "20130524T000000Z"}},
                             std::string(kEmptySha256)};
  EXPECT_EQ(SignatureOf(SigV4Authorization(request, kS3Credentials, "us-east-1", "s3")),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, UriEncoding) {
  EXPECT_EQ(SigV4UriEncode("a b+c/d~e", false), "a%20b%2Bc/d~e");
  EXPECT_EQ(SigV4UriEncode("a/b=c&", true), "a%2Fb%3Dc%26");
  EXPECT_EQ(SigV4UriEncode("\xc3\xa9", true), "%C3%A9");
}

TEST(SigV4, HeaderValuesAreTrimmedAndFolded) {
  SigV4Request request = SuiteRequest();
  request.headers.emplace_back("My-Header1", "  value1   with  spaces ");
  const std::string canonical = SigV4CanonicalRequest(request);
  EXPECT_NE(canonical.find("my-header1:value1 with spaces\n"), std::string::npos) << canonical;
}

TEST(SigV4, AmzDate) {
  EXPECT_EQ(AmzDate(1369353600), "20130524T000000Z");
  EXPECT_EQ(AmzDate(1440938160), "20150830T123600Z");
}

}  // namespace
}  // namespace replideploy::core
