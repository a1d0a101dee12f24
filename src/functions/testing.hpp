// For tests of functions: a zip as the deploy API stores a function (libarchive, in memory),
// and a call of it.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "functions/invocation.hpp"

namespace replideploy::functions::testing {

// A zip of `files` (name -> content), regular files of mode 0644, at most 1 MiB in all.
inline std::string Zip(const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<char> buffer(std::size_t{1} << 20);
  size_t used = 0;
  archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  archive_write_open_memory(a, buffer.data(), buffer.size(), &used);
  for (const auto& [name, content] : files) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_write_header(a, e);
    archive_write_data(a, content.data(), content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buffer.data(), used);
}

// A call of function `name` of deploy `deploy` whose zip has the digest `sha256`: GET
// /.netlify/functions/<name> of the site "mysite" (site-1, production) from 203.0.113.7, with
// the request id "req-1".
inline FunctionRequest RequestFor(const std::string& sha256, const std::string& name = "fn",
                                  const std::string& deploy = "d1") {
  FunctionRequest r;
  r.deploy_id = deploy;
  r.function_name = name;
  r.bundle_sha256 = sha256;
  r.site_id = "site-1";
  r.site_name = "mysite";
  r.site_url = "http://mysite.localhost";
  r.deploy_context = "production";
  r.method = "GET";
  r.path = "/.netlify/functions/" + name;
  r.raw_url = "http://mysite.localhost" + r.path;
  r.client_ip = "203.0.113.7";
  r.request_id = "req-1";
  return r;
}

}  // namespace replideploy::functions::testing
