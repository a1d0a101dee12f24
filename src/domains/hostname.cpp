#include "domains/hostname.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace replideploy::domains {

namespace {

Error Invalid(std::string message) { return Unprocessable("invalid_domain", std::move(message)); }

std::vector<std::string_view> Labels(std::string_view name) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = name.find('.', start);
    out.push_back(name.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}

bool IsLdhLabel(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

Result<std::string> NormalizeDomainName(std::string_view name, std::string_view base_domain) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (!out.empty() && out.back() == '.') out.pop_back();
  if (out.empty()) return Invalid("name must not be empty");
  if (out.size() > 253) return Invalid("name must be at most 253 characters");
  const std::vector<std::string_view> labels = Labels(out);
  for (std::string_view label : labels) {
    if (!IsLdhLabel(label)) {
      return Invalid(
          "'" + out +
          "' is not a valid host name: each label must be 1-63 letters, digits or hyphens, not "
          "starting or ending with a hyphen (write international names in punycode, xn--...)");
    }
  }
  if (labels.size() < 2) return Invalid("name must have at least two labels (example.com)");
  // No top-level domain is numeric: this refuses IPv4 literals and their look-alikes.
  const std::string_view tld = labels.back();
  if (std::all_of(tld.begin(), tld.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Invalid("name must be a host name, not an IP address");
  }
  if (!base_domain.empty() &&
      (out == base_domain || (out.size() > base_domain.size() && out.ends_with(base_domain) &&
                              out[out.size() - base_domain.size() - 1] == '.'))) {
    return Invalid("names under " + std::string(base_domain) +
                   " belong to the platform; a site already has <name>." +
                   std::string(base_domain));
  }
  return out;
}

bool IsApexDomain(std::string_view name) { return std::count(name.begin(), name.end(), '.') == 1; }

std::optional<std::string> PairedDomainName(std::string_view name) {
  if (IsApexDomain(name)) return "www." + std::string(name);
  if (name.starts_with("www.") && IsApexDomain(name.substr(4))) return std::string(name.substr(4));
  return std::nullopt;
}

}  // namespace replideploy::domains
