// Process-wide logging on spdlog: one line per event to stderr.
#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace replideploy::core {

// level: trace, debug, info, warn, error, off. format: "text" (the default: time, level,
// message) or "json" (one object per line: {"ts","level","msg","role"}). `role` names the
// process's role in JSON lines (serve, api, edge, worker, ...). Fails on an unknown level or
// format name.
Status InitLogging(std::string_view level, std::string_view format = "text",
                   std::string_view role = "");

// The formatter behind --log-format json, for tests: {"ts":"2026-01-02T03:04:05.678Z",
// "level":"info","msg":"...","role":"..."} and a newline. Control characters, quotes and
// backslashes in the message are escaped; bytes that are not valid UTF-8 become U+FFFD.
std::unique_ptr<spdlog::formatter> MakeJsonLogFormatter(std::string role);

}  // namespace replideploy::core
