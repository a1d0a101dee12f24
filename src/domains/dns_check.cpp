#include "domains/dns_check.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "domains/hostname.hpp"

namespace replideploy::domains {

namespace {

namespace json = boost::json;

// Where a name leads for one address type, following CNAMEs.
struct Followed {
  std::vector<std::string> cnames;     // the chain, in order
  std::vector<std::string> addresses;  // at its end
  bool nxdomain = false;
  bool loop = false;
  bool too_long = false;
  std::string error;  // DNS did not answer
};

Followed Follow(DnsResolver& resolver, const std::string& name, DnsType type) {
  Followed f;
  std::string current = name;
  std::set<std::string> seen{name};
  for (int query = 0; query < kMaxDnsQueries; ++query) {
    auto answer = resolver.Query(current, type);
    if (!answer.ok()) {
      f.error = answer.error().message;
      return f;
    }
    bool advanced = false;
    // A server may put the whole chain in one answer: walk it from `current`.
    while (true) {
      for (const DnsRecord& r : answer->records) {
        if (r.owner == current && r.type == type) f.addresses.push_back(r.data);
      }
      if (!f.addresses.empty()) return f;
      auto cname = std::find_if(answer->records.begin(), answer->records.end(), [&](const auto& r) {
        return r.owner == current && r.type == DnsType::kCname;
      });
      if (cname == answer->records.end()) break;
      f.cnames.push_back(cname->data);
      if (!seen.insert(cname->data).second) {
        f.loop = true;
        return f;
      }
      current = cname->data;
      advanced = true;
    }
    if (!advanced) {
      f.nxdomain = answer->nxdomain;
      return f;
    }
  }
  f.too_long = true;
  return f;
}

std::string Join(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : std::string(separator)) + item;
  return out;
}

bool Contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// Why the chain from `name` could not be read, or "" when it could.
std::string ChainProblem(const std::string& name, const Followed& f) {
  if (!f.error.empty()) return "the DNS lookup of " + name + " failed: " + f.error;
  if (f.loop) return name + " has a CNAME loop (" + name + " -> " + Join(f.cnames, " -> ") + ")";
  if (f.too_long) {
    return name + " has a CNAME chain longer than " + std::to_string(kMaxDnsQueries) + " names";
  }
  return "";
}

DnsRecordCheck CheckCname(DnsResolver& resolver, const DnsTarget& t) {
  DnsRecordCheck c{t.name, "CNAME", {t.site_host}, {}, false, ""};
  const Followed f = Follow(resolver, t.name, DnsType::kA);
  c.found = f.cnames;
  if (Contains(f.cnames, t.site_host)) {
    c.ok = true;
    if (f.cnames.front() != t.site_host)
      c.note = "reaches " + t.site_host + " through a CNAME chain";
    return c;
  }
  // A wrong first CNAME is the answer, whatever became of the names after it.
  if (!f.cnames.empty() && !f.loop) {
    c.note = t.name + " has CNAME " + f.cnames.front() + ", expected " + t.site_host;
  } else if (std::string problem = ChainProblem(t.name, f); !problem.empty()) {
    c.note = problem;
  } else if (!f.addresses.empty()) {
    const bool at_edge =
        !t.ipv4.empty() && std::all_of(f.addresses.begin(), f.addresses.end(),
                                       [&](const auto& a) { return Contains(t.ipv4, a); });
    if (at_edge) {
      c.ok = true;
      c.found = f.addresses;
      c.note = "A records point at the edge (a flattened CNAME)";
      return c;
    }
    c.found = f.addresses;
    c.note = t.name + " has A " + Join(f.addresses) + ", expected a CNAME to " + t.site_host;
  } else if (f.nxdomain) {
    c.note = t.name + " does not exist in DNS (NXDOMAIN), expected a CNAME to " + t.site_host;
  } else {
    c.note = t.name + " has no CNAME record, expected " + t.site_host;
  }
  return c;
}

// The A or AAAA records of an apex. With `required` false (AAAA beside A), no records is ok.
DnsRecordCheck CheckAddresses(DnsResolver& resolver, const DnsTarget& t, DnsType type,
                              const std::vector<std::string>& expected, bool required) {
  const std::string type_name(DnsTypeName(type));
  DnsRecordCheck c{t.name, type_name, expected, {}, false, ""};
  const Followed f = Follow(resolver, t.name, type);
  c.found = f.addresses;
  if (std::string problem = ChainProblem(t.name, f); !problem.empty()) {
    c.note = problem;
    return c;
  }
  if (f.addresses.empty()) {
    if (!required) {
      c.ok = true;
      return c;
    }
    c.note =
        t.name +
        (f.nxdomain ? " does not exist in DNS (NXDOMAIN)" : " has no " + type_name + " record") +
        ", expected " + type_name + " " + Join(expected);
    return c;
  }
  const auto stray = std::find_if(f.addresses.begin(), f.addresses.end(),
                                  [&](const auto& a) { return !Contains(expected, a); });
  if (stray == f.addresses.end()) {
    c.ok = true;
    return c;
  }
  c.note = expected.empty() ? t.name + " has " + type_name + " " + Join(f.addresses) +
                                  ", but this platform serves no " +
                                  (type == DnsType::kA ? "IPv4" : "IPv6") + ": remove them"
                            : t.name + " has " + type_name + " " + Join(f.addresses) +
                                  ", expected " + type_name + " " + Join(expected);
  return c;
}

}  // namespace

std::vector<DnsInstruction> DnsInstructions(const DnsTarget& target) {
  std::vector<DnsInstruction> out;
  if (!IsApexDomain(target.name)) {
    out.push_back({target.name, "CNAME", target.site_host});
    return out;
  }
  for (const auto& a : target.ipv4) out.push_back({target.name, "A", a});
  for (const auto& a : target.ipv6) out.push_back({target.name, "AAAA", a});
  return out;
}

DnsReport CheckDomainDns(DnsResolver& resolver, const DnsTarget& target) {
  DnsReport report;
  if (!IsApexDomain(target.name)) {
    report.records.push_back(CheckCname(resolver, target));
  } else if (target.ipv4.empty() && target.ipv6.empty()) {
    report.reason =
        "this platform has no edge addresses configured (--edge-ipv4, --edge-ipv6), so an apex "
        "domain cannot point at it; ask the operator, or use a subdomain such as www." +
        target.name;
    return report;
  } else {
    report.records.push_back(
        CheckAddresses(resolver, target, DnsType::kA, target.ipv4, !target.ipv4.empty()));
    report.records.push_back(
        CheckAddresses(resolver, target, DnsType::kAaaa, target.ipv6, target.ipv4.empty()));
  }
  report.ok =
      std::all_of(report.records.begin(), report.records.end(), [](const auto& r) { return r.ok; });
  for (const auto& r : report.records) {
    if (!r.ok) {
      report.reason = r.note;
      break;
    }
  }
  return report;
}

std::string DnsReportJson(const DnsReport& report, std::int64_t checked_at_millis) {
  json::array records;
  for (const auto& r : report.records) {
    json::array expected(r.expected.begin(), r.expected.end());
    json::array found(r.found.begin(), r.found.end());
    records.push_back(json::object{{"name", r.name},
                                   {"type", r.type},
                                   {"expected", std::move(expected)},
                                   {"found", std::move(found)},
                                   {"ok", r.ok},
                                   {"note", r.note}});
  }
  return json::serialize(json::object{{"ok", report.ok},
                                      {"reason", report.reason},
                                      {"checked_at", checked_at_millis},
                                      {"records", std::move(records)}});
}

std::string OwnershipRecordName(std::string_view name) {
  return "_replideploy-challenge." + std::string(name);
}

Result<bool> HasOwnershipRecord(DnsResolver& resolver, std::string_view name,
                                std::string_view token) {
  const std::string owner = OwnershipRecordName(name);
  RD_TRY(DnsAnswer answer, resolver.Query(owner, DnsType::kTxt));
  return std::any_of(answer.records.begin(), answer.records.end(), [&](const DnsRecord& r) {
    return r.type == DnsType::kTxt && r.owner == owner && r.data == token;
  });
}

Result<std::string> NormalizeIpAddress(std::string_view address) {
  const std::string text(address);
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN] = {};
  for (int family : {AF_INET, AF_INET6}) {
    if (::inet_pton(family, text.c_str(), buf) == 1 &&
        ::inet_ntop(family, buf, out, sizeof out) != nullptr) {
      return std::string(out);
    }
  }
  return MakeError(ErrorCode::kBadRequest, "'" + text + "' is not an IP address");
}

}  // namespace replideploy::domains
