#include "core/log.hpp"

#include <gtest/gtest.h>
#include <spdlog/details/log_msg.h>

#include <boost/json.hpp>
#include <string>

namespace replideploy::core {
namespace {

std::string Format(spdlog::level::level_enum level, std::string_view text, std::string role) {
  auto formatter = MakeJsonLogFormatter(std::move(role));
  spdlog::details::log_msg msg(spdlog::source_loc{}, "replideploy", level, text);
  spdlog::memory_buf_t out;
  formatter->format(msg, out);
  return std::string(out.data(), out.size());
}

TEST(JsonLog, OneObjectPerLineWithTsLevelMsgRole) {
  const std::string line = Format(spdlog::level::warn, "disk \"almost\" full\n\tsee\\here", "edge");
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;  // the message's newline is escaped
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(line, ec);
  ASSERT_FALSE(ec) << line;
  EXPECT_EQ(v.at("level").as_string(), "warning");
  EXPECT_EQ(v.at("msg").as_string(), "disk \"almost\" full\n\tsee\\here");
  EXPECT_EQ(v.at("role").as_string(), "edge");
  const std::string ts(v.at("ts").as_string());
  EXPECT_EQ(ts.size(), 24u) << ts;  // 2026-01-02T03:04:05.678Z
  EXPECT_EQ(ts.back(), 'Z');
}

TEST(JsonLog, ControlCharactersAndBadUtf8StayValidJson) {
  const std::string line = Format(spdlog::level::info,
                                  std::string("a\x01"
                                              "b\xff"
                                              "c \xc3\xa9",
                                              8),
                                  "api");
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(line, ec);
  ASSERT_FALSE(ec) << line;
  EXPECT_EQ(v.at("msg").as_string(),
            "a\x01"
            "b\xef\xbf\xbd"
            "c \xc3\xa9");
  // An overlong form, a surrogate and a truncated sequence are not UTF-8 either.
  const std::string odd =
      Format(spdlog::level::info, "\xe0\x80\xaf|\xed\xa0\x80|\xf0\x9f\x98\x80|\xe2\x82", "api");
  const boost::json::value w = boost::json::parse(odd, ec);
  ASSERT_FALSE(ec) << odd;
  EXPECT_EQ(w.at("msg").as_string(),
            "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
            "\xf0\x9f\x98\x80|\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(JsonLog, UnknownFormatIsRefused) {
  EXPECT_FALSE(InitLogging("info", "xml", "serve").ok());
  EXPECT_TRUE(InitLogging("info", "json", "serve").ok());
  EXPECT_TRUE(InitLogging("info", "text", "").ok());
}

}  // namespace
}  // namespace replideploy::core
