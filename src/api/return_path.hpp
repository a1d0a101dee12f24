// Where the dashboard may send a browser after a flow that left it (GitHub OAuth). Pure
// functions over text: no HTTP types, no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace replideploy::api {

// `text` when it is a path of this origin that no browser can turn into another origin: an
// origin-form target ("/new/?x=1": a path that starts with one '/', an optional query; no
// fragment) of printable ASCII without backslashes, whose path, percent-decoded, neither starts
// with "//" nor holds a backslash, a control character or a "." or ".." segment, at most 512
// bytes. nullopt for anything else: "//evil.example", "/\t/evil.example" (browsers drop the
// tab), "/\\evil.example", "https://evil.example", "javascript:...", "/%2F/evil.example".
std::optional<std::string> SameOriginPath(std::string_view text);

}  // namespace replideploy::api
