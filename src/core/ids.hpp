// Identifiers. All functions are thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace replideploy::core {

// Random RFC 4122 version 4 UUID, lowercase ("3f2b...-...."), as Netlify uses for sites.
std::string NewUuid();

// 24 lowercase hex characters, as Netlify uses for deploy ids.
std::string NewHexId();

// A random readable DNS label such as "brave-otter-4f2a1c".
std::string NewReadableName();

// True for a lowercase RFC 1123 label: 1-63 of [a-z0-9-], not starting or ending with '-'.
bool IsDnsLabel(std::string_view s);

}  // namespace replideploy::core
