// A deploy's file list as netlify-cli sends it: the JSON body of POST /api/v1/sites/{id}/deploys
// ({"files": {...}, "functions": {...}}), read as the API reads it, then checked.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "deploys/file_list.hpp"

using namespace replideploy;

namespace {

bool ReadMap(const boost::json::object& body, std::string_view field,
             std::map<std::string, std::string>& out) {
  const auto* value = body.if_contains(field);
  if (value == nullptr) return true;
  if (!value->is_object()) return false;
  for (const auto& [key, digest] : value->as_object()) {
    if (!digest.is_string()) return false;
    out.emplace(std::string(key), std::string(digest.as_string()));
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  boost::json::error_code ec;
  boost::json::parse_options options;
  options.max_depth = 64;
  const boost::json::value body = boost::json::parse(
      std::string_view(reinterpret_cast<const char*>(data), size), ec, {}, options);
  if (ec || !body.is_object()) return 0;
  std::map<std::string, std::string> files;
  std::map<std::string, std::string> functions;
  if (!ReadMap(body.as_object(), "files", files) ||
      !ReadMap(body.as_object(), "functions", functions)) {
    return 0;
  }
  auto checked = deploys::CheckFileList(files, functions, {});
  if (checked.ok() && checked->files.size() != files.size()) __builtin_trap();
  return 0;
}
