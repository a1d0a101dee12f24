#include "core/log.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <string>

namespace replideploy::core {

namespace {

void Append(spdlog::memory_buf_t& out, std::string_view s) {
  out.append(s.data(), s.data() + s.size());
}

// Appends `s` as the inside of a JSON string.
void AppendJsonEscaped(std::string_view s, spdlog::memory_buf_t& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      Append(out, "\\n");
    } else if (c == '\r') {
      Append(out, "\\r");
    } else if (c == '\t') {
      Append(out, "\\t");
    } else if (c < 0x20 || c == 0x7f) {
      const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      out.append(esc, esc + sizeof(esc));
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      // A well-formed UTF-8 sequence is copied; anything else becomes U+FFFD.
      std::size_t len = (c & 0xe0) == 0xc0   ? 2
                        : (c & 0xf0) == 0xe0 ? 3
                        : (c & 0xf8) == 0xf0 ? 4
                                             : 0;
      bool valid = len != 0 && i + len <= s.size() && c >= 0xc2 && c <= 0xf4;
      for (std::size_t k = 1; valid && k < len; ++k) {
        valid = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
      }
      if (valid && len > 2) {
        // No overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
        const auto c1 = static_cast<unsigned char>(s[i + 1]);
        valid = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 > 0x9f) &&
                !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 > 0x8f);
      }
      if (valid) {
        out.append(s.data() + i, s.data() + i + len);
        i += len - 1;
      } else {
        Append(out, "\xef\xbf\xbd");
      }
    }
  }
}

class JsonLogFormatter final : public spdlog::formatter {
 public:
  explicit JsonLogFormatter(std::string role) : role_(std::move(role)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since_epoch = msg.time.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
    const std::time_t t = seconds.count();
    std::tm tm{};
    gmtime_r(&t, &tm);
    fmt::format_to(std::back_inserter(dest), R"({{"ts":"{:%Y-%m-%dT%H:%M:%S}.{:03d}Z","level":")",
                   tm, static_cast<int>(millis));
    const auto level = spdlog::level::to_string_view(msg.level);
    dest.append(level.data(), level.data() + level.size());
    Append(dest, R"(","msg":")");
    AppendJsonEscaped(std::string_view(msg.payload.data(), msg.payload.size()), dest);
    Append(dest, R"(","role":")");
    AppendJsonEscaped(role_, dest);
    Append(dest, "\"}\n");
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLogFormatter>(role_);
  }

 private:
  std::string role_;
};

}  // namespace

std::unique_ptr<spdlog::formatter> MakeJsonLogFormatter(std::string role) {
  return std::make_unique<JsonLogFormatter>(std::move(role));
}

Status InitLogging(std::string_view level, std::string_view format, std::string_view role) {
  const std::string name(level);
  const auto parsed = spdlog::level::from_str(name);
  // from_str maps anything unknown to "off"; only accept "off" when it was asked for.
  if (parsed == spdlog::level::off && name != "off") {
    return MakeError(ErrorCode::kBadRequest,
                     "unknown log level '" + name + "' (trace, debug, info, warn, error, off)");
  }
  if (format != "text" && format != "json") {
    return MakeError(ErrorCode::kBadRequest,
                     "unknown log format '" + std::string(format) + "' (text, json)");
  }
  spdlog::drop("replideploy");
  auto logger = spdlog::stderr_color_mt("replideploy");
  if (format == "json") {
    logger->set_formatter(MakeJsonLogFormatter(std::string(role)));
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  return {};
}

}  // namespace replideploy::core
