#include "domains/dns_resolver.hpp"

#include <arpa/inet.h>
#include <ldns/ldns.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>

namespace replideploy::domains {

namespace {

struct ResolverFree {
  void operator()(ldns_resolver* r) const { ldns_resolver_deep_free(r); }
};
struct PacketFree {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
struct RdfFree {
  void operator()(ldns_rdf* r) const { ldns_rdf_deep_free(r); }
};
using ResolverPtr = std::unique_ptr<ldns_resolver, ResolverFree>;
using PacketPtr = std::unique_ptr<ldns_pkt, PacketFree>;
using RdfPtr = std::unique_ptr<ldns_rdf, RdfFree>;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// A domain name rdf as "example.com" (lower-case, no trailing dot).
std::string DnameText(const ldns_rdf* rdf) {
  char* text = ldns_rdf2str(rdf);
  if (text == nullptr) return "";
  std::string out = Lower(text);
  free(text);  // NOLINT(cppcoreguidelines-no-malloc): ldns allocates with malloc
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

std::string AddressText(const ldns_rdf* rdf, int family) {
  const std::size_t want = family == AF_INET ? 4 : 16;
  if (ldns_rdf_size(rdf) != want) return "";
  char buffer[INET6_ADDRSTRLEN] = {};
  if (::inet_ntop(family, ldns_rdf_data(rdf), buffer, sizeof buffer) == nullptr) return "";
  return buffer;
}

// The character-strings of a TXT record, joined (RFC 7208 3.3 reads them so).
std::string TxtText(const ldns_rr* rr) {
  std::string out;
  for (std::size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
    const ldns_rdf* rdf = ldns_rr_rdf(rr, i);
    const std::uint8_t* data = ldns_rdf_data(rdf);
    const std::size_t size = ldns_rdf_size(rdf);
    if (size == 0) continue;
    const std::size_t length = std::min<std::size_t>(data[0], size - 1);
    out.append(reinterpret_cast<const char*>(data + 1), length);
  }
  return out;
}

ldns_rr_type LdnsType(DnsType type) {
  switch (type) {
    case DnsType::kA:
      return LDNS_RR_TYPE_A;
    case DnsType::kAaaa:
      return LDNS_RR_TYPE_AAAA;
    case DnsType::kCname:
      return LDNS_RR_TYPE_CNAME;
    case DnsType::kTxt:
      return LDNS_RR_TYPE_TXT;
  }
  return LDNS_RR_TYPE_A;
}

class LdnsResolver final : public DnsResolver {
 public:
  LdnsResolver(std::string address, std::uint16_t port, std::chrono::milliseconds timeout)
      : address_(std::move(address)), port_(port), timeout_(timeout) {}

  Result<DnsAnswer> Query(std::string_view name, DnsType type) override {
    RD_TRY(ResolverPtr resolver, Open());
    std::string fqdn(name);
    if (fqdn.empty() || fqdn.back() != '.') fqdn += '.';
    RdfPtr dname(ldns_dname_new_frm_str(fqdn.c_str()));
    if (!dname) return MakeError(ErrorCode::kBadRequest, "not a DNS name: " + std::string(name));
    ldns_pkt* raw = nullptr;
    const ldns_status status = ldns_resolver_query_status(
        &raw, resolver.get(), dname.get(), LdnsType(type), LDNS_RR_CLASS_IN, LDNS_RD);
    PacketPtr packet(raw);
    if (status != LDNS_STATUS_OK || !packet) {
      return MakeError(
          ErrorCode::kUnavailable,
          "no answer from the DNS resolver (" + std::string(ldns_get_errorstr_by_id(status)) + ")");
    }
    DnsAnswer answer;
    const ldns_pkt_rcode rcode = ldns_pkt_get_rcode(packet.get());
    if (rcode == LDNS_RCODE_NXDOMAIN) {
      answer.nxdomain = true;
    } else if (rcode != LDNS_RCODE_NOERROR) {
      const char* what = rcode == LDNS_RCODE_SERVFAIL  ? "SERVFAIL"
                         : rcode == LDNS_RCODE_REFUSED ? "REFUSED"
                                                       : "an error";
      return MakeError(ErrorCode::kUnavailable, std::string("the DNS resolver answered ") + what +
                                                    " (code " + std::to_string(rcode) + ")");
    }
    const ldns_rr_list* section = ldns_pkt_answer(packet.get());
    for (std::size_t i = 0; section != nullptr && i < ldns_rr_list_rr_count(section); ++i) {
      const ldns_rr* rr = ldns_rr_list_rr(section, i);
      if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN || ldns_rr_rd_count(rr) == 0) continue;
      DnsRecord record;
      record.owner = DnameText(ldns_rr_owner(rr));
      switch (ldns_rr_get_type(rr)) {
        case LDNS_RR_TYPE_A:
          record.type = DnsType::kA;
          record.data = AddressText(ldns_rr_rdf(rr, 0), AF_INET);
          break;
        case LDNS_RR_TYPE_AAAA:
          record.type = DnsType::kAaaa;
          record.data = AddressText(ldns_rr_rdf(rr, 0), AF_INET6);
          break;
        case LDNS_RR_TYPE_CNAME:
          record.type = DnsType::kCname;
          record.data = DnameText(ldns_rr_rdf(rr, 0));
          break;
        case LDNS_RR_TYPE_TXT:
          record.type = DnsType::kTxt;
          record.data = TxtText(rr);
          break;
        default:
          continue;
      }
      if (record.data.empty() && record.type != DnsType::kTxt) continue;
      answer.records.push_back(std::move(record));
    }
    return answer;
  }

 private:
  Result<ResolverPtr> Open() const {
    ldns_resolver* raw = nullptr;
    if (address_.empty()) {
      if (ldns_resolver_new_frm_file(&raw, nullptr) != LDNS_STATUS_OK || raw == nullptr) {
        return MakeError(ErrorCode::kUnavailable, "cannot read the system's resolver settings");
      }
    } else {
      raw = ldns_resolver_new();
      if (raw == nullptr) return MakeError(ErrorCode::kInternal, "ldns_resolver_new failed");
      ResolverPtr guard(raw);
      const bool v6 = address_.find(':') != std::string::npos;
      RdfPtr ns(ldns_rdf_new_frm_str(v6 ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, address_.c_str()));
      if (!ns || ldns_resolver_push_nameserver(raw, ns.get()) != LDNS_STATUS_OK) {
        return MakeError(ErrorCode::kBadRequest, "bad DNS resolver address " + address_);
      }
      ldns_resolver_set_port(raw, port_);
      guard.release();
    }
    ResolverPtr resolver(raw);
    ldns_resolver_set_recursive(raw, true);
    ldns_resolver_set_retry(raw, 2);
    ldns_resolver_set_dnssec(raw, false);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(timeout_).count();
    timeval tv{};
    tv.tv_sec = static_cast<decltype(tv.tv_sec)>(micros / 1'000'000);
    tv.tv_usec = static_cast<decltype(tv.tv_usec)>(micros % 1'000'000);
    ldns_resolver_set_timeout(raw, tv);
    return resolver;
  }

  std::string address_;  // "" for resolv.conf
  std::uint16_t port_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

std::string_view DnsTypeName(DnsType type) {
  switch (type) {
    case DnsType::kA:
      return "A";
    case DnsType::kAaaa:
      return "AAAA";
    case DnsType::kCname:
      return "CNAME";
    case DnsType::kTxt:
      return "TXT";
  }
  return "A";
}

Result<std::unique_ptr<DnsResolver>> MakeDnsResolver(const std::string& server,
                                                     std::chrono::milliseconds timeout) {
  if (server.empty()) {
    return std::unique_ptr<DnsResolver>(std::make_unique<LdnsResolver>("", 53, timeout));
  }
  auto bad = [&] {
    return MakeError(ErrorCode::kBadRequest,
                     "dns-resolver must be IPv4[:PORT] or [IPv6][:PORT], got '" + server + "'");
  };
  std::string host;
  std::string_view port_text;
  if (server.front() == '[') {
    const auto close = server.find(']');
    if (close == std::string::npos) return bad();
    host = server.substr(1, close - 1);
    std::string_view rest = std::string_view(server).substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad();
      port_text = rest.substr(1);
    }
  } else {
    const auto colon = server.find(':');
    if (colon != server.rfind(':')) {
      host = server;  // a bare IPv6 address
    } else {
      host = server.substr(0, colon);
      if (colon != std::string::npos) {
        port_text = std::string_view(server).substr(colon + 1);
        if (port_text.empty()) return bad();
      }
    }
  }
  std::uint16_t port = 53;
  if (!port_text.empty()) {
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || port == 0) return bad();
  }
  unsigned char buf[16];
  const int family = host.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  if (::inet_pton(family, host.c_str(), buf) != 1) return bad();
  return std::unique_ptr<DnsResolver>(std::make_unique<LdnsResolver>(host, port, timeout));
}

}  // namespace replideploy::domains
