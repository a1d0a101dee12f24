// Process-wide logging on spdlog: one line per event to stderr.
#pragma once

#include <string_view>

#include "core/result.hpp"

namespace replideploy::core {

// level: trace, debug, info, warn, error, off. Fails on an unknown level name.
Status InitLogging(std::string_view level);

}  // namespace replideploy::core
