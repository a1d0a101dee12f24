// netlify.toml's included_files (docs/functions.md, "Included files"): files of the repository
// added to a function's zip next to its bundle, at their path relative to the base directory,
// so that the function reads them at run time (`path.join(process.cwd(), "data/x.json")`; the
// runtime's working directory is the zip's root).
//
// Patterns, as Netlify's: relative to the base directory, '/'-separated; `*` and `?` within a
// segment (fnmatch, dot files included), `**` any number of segments, a pattern that names a
// folder takes everything under it; `!pattern` leaves out what it matches, whatever the order.
// [functions] included_files applies to every function, [functions."name"] included_files to
// that one (its patterns are added to the global ones, so its `!` can drop a global file).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "sandbox/untrusted_tree.hpp"

namespace replideploy::builder {

// Function name -> (path relative to the base directory -> bytes).
using IncludedFiles = std::map<std::string, std::map<std::string, std::string>>;

struct IncludedFilesLimits {
  std::size_t max_files = 1000;                       // per build, every function's together
  std::uint64_t max_bytes = std::uint64_t{32} << 20;  // likewise (a zip holds 50 MB at most)
};

// Whether `path` (a file, relative to the base directory) is taken by `pattern` (without its
// `!`): the pattern matches the path or one of its folders.
bool IncludedPatternMatches(std::string_view pattern, std::string_view path);

// The files of `base` (the build's base directory) each function of `names` gets, from the
// global `patterns` and `by_function` (function name -> its own). Only folders a pattern can
// reach are walked. kUnprocessable "invalid_included_files" for a pattern that is absolute,
// empty or holds "..", for a matched link that leads outside `base`, and past `limits`.
Result<IncludedFiles> CollectIncludedFiles(
    const sandbox::UntrustedTree& base, const std::vector<std::string>& patterns,
    const std::map<std::string, std::vector<std::string>>& by_function,
    const std::vector<std::string>& names, const IncludedFilesLimits& limits = {});

}  // namespace replideploy::builder
