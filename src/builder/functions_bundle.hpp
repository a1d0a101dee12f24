// The functions folder of a build (Netlify's `netlify/functions` or `[functions] directory`),
// packaged the way netlify-cli uploads functions: one zip per function. A function is a
// top-level `<name>.js|.mjs|.cjs|.ts|.mts|.cts|.go` file, or a `<name>/` folder (all its regular
// files). Zips are deterministic (fixed times, sorted entries), so an unchanged function has
// the same SHA-256 in every deploy and is stored once.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "sandbox/untrusted_tree.hpp"

namespace replideploy::builder {

inline constexpr std::size_t kMaxFunctionZipBytes = std::size_t{50} << 20;
inline constexpr std::size_t kMaxFunctions = 1000;

struct FunctionBundle {
  std::string name;     // [A-Za-z0-9_-]+
  std::string runtime;  // "js" or "go"
  std::string zip;
};

// kUnprocessable "invalid_function" for a name with other characters or a zip over
// kMaxFunctionZipBytes. The folder is read beneath its descriptor: links are followed only when
// they stay inside it.
Result<std::vector<FunctionBundle>> BundleFunctions(const sandbox::UntrustedTree& dir);
// The same for a folder the caller trusts (tests, `replideploy deploy`); empty when it does not
// exist or is a link.
Result<std::vector<FunctionBundle>> BundleFunctions(const std::filesystem::path& dir);

}  // namespace replideploy::builder
