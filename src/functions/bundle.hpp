// A function's zip, unpacked once per content hash into a folder the sandbox binds read-only.
// Thread-safe (a folder appears whole, by rename, or not at all).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace replideploy::functions {

// Unpacks `zip` into `dir` (which must not exist; its parent must): regular files and folders
// only, no absolute paths, no "..", no links, at most `max_bytes` unpacked. Files end up 0644 and
// folders 0755, owned by the caller. kUnprocessable when the zip is bad or breaks a rule, with
// nothing left at `dir`.
Status UnpackBundle(std::string_view zip, const std::string& dir,
                    std::uint64_t max_bytes = std::uint64_t{256} << 20);

}  // namespace replideploy::functions
