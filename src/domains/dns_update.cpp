#include "domains/dns_update.hpp"

// spdlog (fmt) before ldns: ldns/common.h defines true/false as macros.
#include <spdlog/spdlog.h>
// clang-format off
#include <ldns/ldns.h>
// clang-format on

#include <algorithm>
#include <cctype>
#include <memory>
#include <thread>

#include "core/crypto.hpp"
#include "domains/acme_crypto.hpp"

namespace replideploy::domains {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string WithoutDot(std::string_view name) {
  while (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return Lower(name);
}

bool IsDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
    if (++label > 63) return false;
  }
  return label > 0;
}

bool InZone(const std::string& fqdn, const std::string& zone) {
  return fqdn == zone || (fqdn.size() > zone.size() &&
                          fqdn.compare(fqdn.size() - zone.size(), zone.size(), zone) == 0 &&
                          fqdn[fqdn.size() - zone.size() - 1] == '.');
}

struct ResolverFree {
  void operator()(ldns_resolver* r) const { ldns_resolver_deep_free(r); }
};
using ResolverPtr = std::unique_ptr<ldns_resolver, ResolverFree>;
struct PktFree {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktFree>;

Result<ResolverPtr> MakeResolver(const DnsUpdateOptions& o, bool with_tsig) {
  ResolverPtr res(ldns_resolver_new());
  if (!res) return MakeError(ErrorCode::kInternal, "ldns_resolver_new failed");
  const bool v6 = o.server_ip.find(':') != std::string::npos;
  ldns_rdf* addr =
      ldns_rdf_new_frm_str(v6 ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, o.server_ip.c_str());
  if (addr == nullptr) {
    return MakeError(ErrorCode::kBadRequest, "not an IP address: " + o.server_ip);
  }
  const ldns_status pushed = ldns_resolver_push_nameserver(res.get(), addr);
  ldns_rdf_deep_free(addr);
  if (pushed != LDNS_STATUS_OK) return MakeError(ErrorCode::kInternal, "ldns nameserver");
  ldns_resolver_set_port(res.get(), o.port);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(o.timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((o.timeout.count() % 1000) * 1000);
  ldns_resolver_set_timeout(res.get(), tv);
  ldns_resolver_set_retry(res.get(), 2);
  ldns_resolver_set_recursive(res.get(), false);
  if (with_tsig) {
    ldns_resolver_set_tsig_keyname(res.get(), (o.tsig_name + ".").c_str());
    ldns_resolver_set_tsig_algorithm(res.get(), (o.tsig_algorithm + ".").c_str());
    ldns_resolver_set_tsig_keydata(res.get(), o.tsig_secret_base64.c_str());
  }
  return res;
}

}  // namespace

Result<DnsUpdateOptions> ParseDnsUpdateOptions(std::string_view server, std::string_view zone,
                                               std::string_view tsig) {
  DnsUpdateOptions o;
  std::string_view host = server;
  if (!server.empty() && server.front() == '[') {
    const auto close = server.find(']');
    if (close == std::string_view::npos) {
      return MakeError(ErrorCode::kBadRequest, "--dns-update-server: unclosed '['");
    }
    host = server.substr(1, close - 1);
    server.remove_prefix(close + 1);
    if (!server.empty() && server.front() != ':') {
      return MakeError(ErrorCode::kBadRequest, "--dns-update-server: expected ':' after ']'");
    }
    if (!server.empty()) server.remove_prefix(1);
  } else if (const auto colon = server.rfind(':');
             colon != std::string_view::npos && server.find(':') == colon) {
    host = server.substr(0, colon);
    server.remove_prefix(colon + 1);
  } else {
    server = "";
  }
  if (!server.empty()) {
    if (server.size() > 5 || !std::all_of(server.begin(), server.end(),
                                          [](unsigned char c) { return std::isdigit(c); })) {
      return MakeError(ErrorCode::kBadRequest, "--dns-update-server: bad port");
    }
    const int port = std::stoi(std::string(server));
    if (port < 1 || port > 65535) {
      return MakeError(ErrorCode::kBadRequest, "--dns-update-server: port out of range");
    }
    o.port = static_cast<std::uint16_t>(port);
  }
  o.server_ip = std::string(host);
  ldns_rdf* probe = ldns_rdf_new_frm_str(
      o.server_ip.find(':') != std::string::npos ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A,
      o.server_ip.c_str());
  if (probe == nullptr) {
    return MakeError(ErrorCode::kBadRequest,
                     "--dns-update-server: not an IP address: " + o.server_ip);
  }
  ldns_rdf_deep_free(probe);
  o.zone = WithoutDot(zone);
  if (!IsDnsName(o.zone)) return MakeError(ErrorCode::kBadRequest, "--dns-update-zone: bad name");
  const auto c1 = tsig.find(':');
  const auto c2 = c1 == std::string_view::npos ? c1 : tsig.find(':', c1 + 1);
  if (c2 == std::string_view::npos) {
    return MakeError(ErrorCode::kBadRequest,
                     "--dns-update-tsig: expected name:hmac-sha256:base64secret");
  }
  o.tsig_name = WithoutDot(tsig.substr(0, c1));
  o.tsig_algorithm = Lower(tsig.substr(c1 + 1, c2 - c1 - 1));
  o.tsig_secret_base64 = std::string(tsig.substr(c2 + 1));
  if (!IsDnsName(o.tsig_name)) {
    return MakeError(ErrorCode::kBadRequest, "--dns-update-tsig: bad key name");
  }
  if (o.tsig_algorithm != "hmac-sha256" && o.tsig_algorithm != "hmac-sha512") {
    return MakeError(ErrorCode::kBadRequest,
                     "--dns-update-tsig: algorithm must be hmac-sha256 or hmac-sha512");
  }
  auto secret = core::Base64Decode(o.tsig_secret_base64);
  if (!secret.ok() || secret->size() < 16) {
    return MakeError(ErrorCode::kBadRequest,
                     "--dns-update-tsig: the secret must be base64 of at least 16 bytes");
  }
  return o;
}

Status DnsUpdater::Update(const std::string& fqdn_in, const std::string& value, bool add) {
  const std::string fqdn = WithoutDot(fqdn_in);
  if (!IsDnsName(fqdn) || !InZone(fqdn, options_.zone)) {
    return MakeError(ErrorCode::kUnprocessable, "dns_outside_zone",
                     fqdn + " is not in the DNS update zone " + options_.zone);
  }
  if (!std::all_of(value.begin(), value.end(),
                   [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; })) {
    return MakeError(ErrorCode::kBadRequest, "TXT values here are base64url");
  }
  RD_TRY(ResolverPtr res, MakeResolver(options_, true));
  ldns_rr* rr = nullptr;
  const std::string text = fqdn + ". " + std::to_string(options_.ttl) + " IN TXT \"" + value + "\"";
  if (ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK) {
    return MakeError(ErrorCode::kInternal, "cannot build the TXT record " + text);
  }
  if (!add) {
    // RFC 2136 2.5.4: delete an RR from an RRset: class NONE, TTL 0.
    ldns_rr_set_class(rr, LDNS_RR_CLASS_NONE);
    ldns_rr_set_ttl(rr, 0);
  }
  ldns_rr_list* updates = ldns_rr_list_new();
  ldns_rr_list_push_rr(updates, rr);
  ldns_rdf* zone = ldns_dname_new_frm_str((options_.zone + ".").c_str());
  PktPtr pkt(ldns_update_pkt_new(zone, LDNS_RR_CLASS_IN, nullptr, updates, nullptr));
  ldns_rr_list_deep_free(updates);
  if (!pkt) {
    ldns_rdf_deep_free(zone);
    return MakeError(ErrorCode::kInternal, "cannot build the DNS update");
  }
  if (ldns_update_pkt_tsig_add(pkt.get(), res.get()) != LDNS_STATUS_OK) {
    return MakeError(ErrorCode::kInternal, "cannot sign the DNS update (TSIG)");
  }
  ldns_pkt* answer_raw = nullptr;
  const ldns_status sent = ldns_resolver_send_pkt(&answer_raw, res.get(), pkt.get());
  PktPtr answer(answer_raw);
  if (sent != LDNS_STATUS_OK || !answer) {
    return MakeError(ErrorCode::kUnavailable, "dns_update_failed",
                     "DNS update to " + options_.server_ip + ":" + std::to_string(options_.port) +
                         " failed: " + ldns_get_errorstr_by_id(sent));
  }
  const ldns_pkt_rcode rcode = ldns_pkt_get_rcode(answer.get());
  if (rcode != LDNS_RCODE_NOERROR) {
    const ldns_lookup_table* t = ldns_lookup_by_id(ldns_rcodes, static_cast<int>(rcode));
    return MakeError(ErrorCode::kUnavailable, "dns_update_refused",
                     "the DNS server refused the update of " + fqdn + ": " +
                         (t != nullptr ? t->name : std::to_string(rcode)));
  }
  return {};
}

Status DnsUpdater::AddTxt(const std::string& fqdn, const std::string& value) {
  return Update(fqdn, value, true);
}

Status DnsUpdater::RemoveTxt(const std::string& fqdn, const std::string& value) {
  return Update(fqdn, value, false);
}

Result<bool> DnsUpdater::ServerHasTxt(const std::string& fqdn_in, const std::string& value) {
  const std::string fqdn = WithoutDot(fqdn_in);
  if (!IsDnsName(fqdn)) return MakeError(ErrorCode::kUnprocessable, "not a DNS name: " + fqdn);
  RD_TRY(ResolverPtr res, MakeResolver(options_, false));
  ldns_rdf* name = ldns_dname_new_frm_str((fqdn + ".").c_str());
  if (name == nullptr) return MakeError(ErrorCode::kUnprocessable, "not a DNS name: " + fqdn);
  ldns_pkt* answer_raw = nullptr;
  const ldns_status sent = ldns_resolver_query_status(&answer_raw, res.get(), name,
                                                      LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN, 0);
  ldns_rdf_deep_free(name);
  PktPtr answer(answer_raw);
  if (sent != LDNS_STATUS_OK || !answer) {
    return MakeError(ErrorCode::kUnavailable, "dns_query_failed",
                     std::string("DNS query failed: ") + ldns_get_errorstr_by_id(sent));
  }
  const ldns_rr_list* rrs = ldns_pkt_answer(answer.get());
  for (std::size_t i = 0; i < ldns_rr_list_rr_count(rrs); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(rrs, i);
    if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TXT) continue;
    std::string joined;
    for (std::size_t j = 0; j < ldns_rr_rd_count(rr); ++j) {
      const ldns_rdf* rdf = ldns_rr_rdf(rr, j);
      // A character-string: one length byte, then the bytes.
      const auto* data = ldns_rdf_data(rdf);
      const std::size_t size = ldns_rdf_size(rdf);
      if (size >= 1)
        joined.append(reinterpret_cast<const char*>(data) + 1,
                      std::min<std::size_t>(data[0], size - 1));
    }
    if (joined == value) return true;
  }
  return false;
}

Status Dns01Solver::Present(const std::string& name, const std::string& /*token*/,
                            const std::string& key_authorization) {
  const std::string fqdn = "_acme-challenge." + name;
  const std::string value = Dns01TxtValue(key_authorization);
  RD_TRY_STATUS(updater_.AddTxt(fqdn, value));
  const auto& o = updater_.options();
  const auto deadline = std::chrono::steady_clock::now() + o.propagation_timeout;
  for (;;) {
    auto has = updater_.ServerHasTxt(fqdn, value);
    if (has.ok() && *has) return {};
    if (std::chrono::steady_clock::now() >= deadline) {
      return MakeError(ErrorCode::kUnavailable, "dns_not_propagated",
                       "the DNS server does not answer the TXT record at " + fqdn);
    }
    std::this_thread::sleep_for(o.poll_interval);
  }
}

void Dns01Solver::CleanUp(const std::string& name, const std::string& /*token*/,
                          const std::string& key_authorization) {
  const std::string fqdn = "_acme-challenge." + name;
  auto removed = updater_.RemoveTxt(fqdn, Dns01TxtValue(key_authorization));
  if (!removed.ok()) spdlog::warn("acme: removing TXT at {}: {}", fqdn, removed.error().message);
}

}  // namespace replideploy::domains
