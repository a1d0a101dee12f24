#include "core/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <string>

namespace replideploy::core {

Status InitLogging(std::string_view level) {
  const std::string name(level);
  const auto parsed = spdlog::level::from_str(name);
  // from_str maps anything unknown to "off"; only accept "off" when it was asked for.
  if (parsed == spdlog::level::off && name != "off") {
    return MakeError(ErrorCode::kBadRequest,
                     "unknown log level '" + name + "' (trace, debug, info, warn, error, off)");
  }
  spdlog::drop("replideploy");
  auto logger = spdlog::stderr_color_mt("replideploy");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  return {};
}

}  // namespace replideploy::core
