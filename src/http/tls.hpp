// TLS for the server's HTTPS listener: the certificates it answers with, chosen per connection by
// SNI, and where they come from. No Asio or OpenSSL types here; the listener reaches the
// OpenSSL side through http/tls_internal.hpp.
//
// Certificates come from a CertificateSource (files today; the certificate store in the
// database, filled by the ACME client, implements the same interface). The server holds one
// CertificateStore; Reload() loads the source again and swaps the whole set at once: handshakes
// that start afterwards get the new certificates, connections already open keep theirs, nothing
// restarts.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace replideploy::http {

// One certificate: the host names it answers for (exact names and one-level wildcards such as
// "*.example.com", lower case), its chain (leaf first, PEM) and its private key (PEM).
struct CertificateEntry {
  std::vector<std::string> names;
  std::string chain_pem;
  std::string key_pem;
};

// Where certificates come from. Load() returns every certificate to serve now; it is called at
// start and on every reload, from whichever thread reloads (never an I/O thread). An error
// keeps the certificates loaded before.
class CertificateSource {
 public:
  virtual ~CertificateSource() = default;
  virtual Result<std::vector<CertificateEntry>> Load() = 0;
};

// Certificates from PEM files: explicit (chain file, key file) pairs, and directories holding
// `<name>.crt` (or `.pem`) beside `<name>.key`. Each certificate's names are read from its
// subjectAltName DNS entries (its subject CN when it has none). Files are read again on every
// Load(), so replacing them and reloading swaps the certificate.
class FileCertificateSource : public CertificateSource {
 public:
  struct Pair {
    std::string chain_file;
    std::string key_file;
  };
  FileCertificateSource(std::vector<Pair> pairs, std::vector<std::string> directories);
  Result<std::vector<CertificateEntry>> Load() override;

 private:
  std::vector<Pair> pairs_;
  std::vector<std::string> directories_;
};

// The DNS names (lower case) of a PEM certificate's leaf: its subjectAltName DNS entries, or its
// subject CN when it has none. Fails when the PEM does not hold a certificate.
Result<std::vector<std::string>> CertificateNames(std::string_view chain_pem);

// One session-ticket key as a key source hands it over: a 16-byte name (sent in the ticket, so
// that the key is found again), a 32-byte AES-256-CBC key and a 32-byte HMAC-SHA256 key.
struct TicketKey {
  std::string name;
  std::string aes;
  std::string hmac;
};

struct TlsOptions {
  // The name whose certificate answers handshakes without SNI (clients that connect by IP
  // address) or with a name no certificate covers. Empty: such handshakes fail.
  std::string default_name;
  // Session tickets are encrypted with a key made at random in memory and replaced this often;
  // tickets of the two previous keys are still accepted (and renewed). 0 makes a new key for
  // every ticket (tests). Without `ticket_keys` only.
  std::chrono::seconds ticket_key_rotation{3600};
  // Ticket keys from elsewhere (the database, shared by every process serving TLS): called when
  // the store is made and then every `ticket_key_refresh` from a thread of the store's own,
  // never from an I/O thread. It returns the keys, newest first: the first encrypts, the next
  // two still decrypt (and renew). An error, or a key of the wrong size, keeps the keys in use
  // (at first, a key made in memory). Unset: keys are made in memory as above.
  std::function<Result<std::vector<TicketKey>>()> ticket_keys;
  std::chrono::milliseconds ticket_key_refresh{60'000};
  // Offer HTTP/2 by ALPN ("h2", then "http/1.1").
  bool http2 = true;
  // Staple an OCSP response to certificates whose leaf names an OCSP responder (and whose
  // chain holds the issuer): fetched when the certificate is installed and again at installs
  // once `ocsp_refresh` has passed, stapled only when it says "good" and is current. Install()
  // blocks for the fetches: never call it on an I/O thread.
  bool ocsp_stapling = true;
  std::chrono::milliseconds ocsp_timeout{5000};
  std::chrono::seconds ocsp_refresh{3600};
  // On-demand TLS: called from the handshake (an I/O thread) with the SNI name, lower case,
  // when no loaded certificate covers it (before the default certificate answers). Must be
  // cheap and must not block: it may queue the name for issuance. Unset: nothing is called.
  std::function<void(std::string_view name)> on_unknown_name;
};

// The certificates being served, by name. Thread-safe: Install()/Reload() may run while
// handshakes look names up on the I/O threads. TLS 1.2 and 1.3 only, Mozilla's "intermediate"
// cipher list, session tickets (keys rotated, shared by all certificates), ALPN, OCSP stapling.
class CertificateStore {
 public:
  explicit CertificateStore(TlsOptions options);
  ~CertificateStore();
  CertificateStore(const CertificateStore&) = delete;
  CertificateStore& operator=(const CertificateStore&) = delete;

  // Replaces the whole set with `entries`. An entry that cannot be used (bad PEM, key not
  // matching, no names) is left out and named in the error; the others are installed all the
  // same. With no usable entry at all, the set loaded before stays.
  Status Install(const std::vector<CertificateEntry>& entries);
  // Install(source.Load()).
  Status Reload(CertificateSource& source);

  // Loads the ticket keys from options().ticket_keys now (the store's thread does it
  // periodically). Blocks on the source: never call it on an I/O thread.
  Status RefreshTicketKeys();

  // True when a loaded certificate covers `host` by its exact name or a one-level wildcard
  // (not by being the default). `host` may carry a port; case is ignored.
  bool Covers(std::string_view host) const;
  // How many certificates are loaded.
  std::size_t size() const;
  const TlsOptions& options() const;

  class Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace replideploy::http
