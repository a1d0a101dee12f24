#include "http/tls.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <stop_token>
#include <thread>
#include <unordered_map>

#include "http/client.hpp"
#include "http/tls_internal.hpp"

namespace replideploy::http {

namespace {

// Mozilla's "intermediate" configuration (TLS 1.2 suites; TLS 1.3 keeps OpenSSL's own).
constexpr const char* kCipherList =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
constexpr const char* kGroups = "X25519:prime256v1:secp384r1";
constexpr unsigned char kSessionIdContext[] = "replideploy";
// Ticket keys kept for decryption besides the current one.
constexpr std::size_t kPreviousTicketKeys = 2;

struct CtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using CtxPtr = std::shared_ptr<SSL_CTX>;

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  std::array<char, 256> text{};
  ERR_error_string_n(code, text.data(), text.size());
  return text.data();
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "Example.COM.:443" -> "example.com"; "[::1]:443" -> "[::1]".
std::string NormalizeHost(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close != std::string_view::npos) host = host.substr(0, close + 1);
  } else if (const std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return Lower(host);
}

std::unique_ptr<BIO, BioFree> MemoryBio(std::string_view pem) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kBadRequest, fmt::format("cannot read {}", path));
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

struct LiveTicketKey {
  std::array<unsigned char, 16> name{};
  std::array<unsigned char, 32> aes{};
  std::array<unsigned char, 32> hmac{};
  std::chrono::steady_clock::time_point created;
};

LiveTicketKey NewTicketKey() {
  LiveTicketKey key;
  if (RAND_bytes(key.name.data(), static_cast<int>(key.name.size())) != 1 ||
      RAND_bytes(key.aes.data(), static_cast<int>(key.aes.size())) != 1 ||
      RAND_bytes(key.hmac.data(), static_cast<int>(key.hmac.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  key.created = std::chrono::steady_clock::now();
  return key;
}

// Certificates by name; immutable once built, replaced as a whole.
struct CertMap {
  std::unordered_map<std::string, CtxPtr> exact;
  // "*.example.com" is kept under "example.com".
  std::unordered_map<std::string, CtxPtr> wildcard;
  CtxPtr fallback;
  std::size_t count = 0;

  SSL_CTX* Find(const std::string& host) const {
    if (const auto it = exact.find(host); it != exact.end()) return it->second.get();
    const std::size_t dot = host.find('.');
    if (dot != std::string::npos && dot > 0) {
      if (const auto it = wildcard.find(host.substr(dot + 1)); it != wildcard.end()) {
        return it->second.get();
      }
    }
    return nullptr;
  }
};

int ExDataIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// The DER OCSP response stapled by a certificate's context, owned by the context (freed with
// it), so that a swap of the map never frees one a handshake is using.
void FreeStaple(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/,
                void* /*argp*/) {
  delete static_cast<std::string*>(ptr);
}

int StapleIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, &FreeStaple);
  return index;
}

int OnStatusRequest(SSL* ssl, void* /*arg*/) {
  const auto* der =
      static_cast<const std::string*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), StapleIndex()));
  if (der == nullptr || der->empty()) return SSL_TLSEXT_ERR_NOACK;
  auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(der->size()));
  if (copy == nullptr) return SSL_TLSEXT_ERR_NOACK;
  std::memcpy(copy, der->data(), der->size());
  SSL_set_tlsext_status_ocsp_resp(ssl, copy, static_cast<long>(der->size()));  // takes `copy`
  return SSL_TLSEXT_ERR_OK;
}

// The OCSP response for `leaf` from the responder its certificate names, when it says "good"
// and is current; nullopt otherwise (no responder URL, no issuer in the chain, network error,
// any other status). Blocks for up to `timeout`.
std::optional<std::string> FetchOcspResponse(X509* leaf, X509* issuer,
                                             std::chrono::milliseconds timeout) {
  if (issuer == nullptr) return std::nullopt;
  STACK_OF(OPENSSL_STRING)* urls = X509_get1_ocsp(leaf);
  if (urls == nullptr) return std::nullopt;
  std::string url = sk_OPENSSL_STRING_num(urls) > 0 ? sk_OPENSSL_STRING_value(urls, 0) : "";
  X509_email_free(urls);
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) return std::nullopt;

  std::unique_ptr<OCSP_CERTID, decltype(&OCSP_CERTID_free)> id(
      OCSP_cert_to_id(nullptr, leaf, issuer), &OCSP_CERTID_free);
  std::unique_ptr<OCSP_REQUEST, decltype(&OCSP_REQUEST_free)> request(OCSP_REQUEST_new(),
                                                                      &OCSP_REQUEST_free);
  if (!id || !request ||
      OCSP_request_add0_id(request.get(), OCSP_CERTID_dup(id.get())) == nullptr) {
    ERR_clear_error();
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int der_length = i2d_OCSP_REQUEST(request.get(), &der);
  if (der_length <= 0) return std::nullopt;
  ClientRequest call;
  call.method = "POST";
  call.url = url;
  call.body.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(der_length));
  OPENSSL_free(der);
  call.headers.Set("Content-Type", "application/ocsp-request");
  call.timeout = timeout;
  call.max_response_bytes = std::size_t{64} << 10;
  const auto answer = Fetch(call);
  if (!answer.ok() || answer->status != 200) {
    spdlog::warn("OCSP: no answer from {}", url);
    return std::nullopt;
  }

  const auto* p = reinterpret_cast<const unsigned char*>(answer->body.data());
  std::unique_ptr<OCSP_RESPONSE, decltype(&OCSP_RESPONSE_free)> response(
      d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(answer->body.size())), &OCSP_RESPONSE_free);
  if (!response || OCSP_response_status(response.get()) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    ERR_clear_error();
    spdlog::warn("OCSP: unusable answer from {}", url);
    return std::nullopt;
  }
  std::unique_ptr<OCSP_BASICRESP, decltype(&OCSP_BASICRESP_free)> basic(
      OCSP_response_get1_basic(response.get()), &OCSP_BASICRESP_free);
  int status = -1;
  int reason = 0;
  ASN1_GENERALIZEDTIME* revoked_at = nullptr;
  ASN1_GENERALIZEDTIME* this_update = nullptr;
  ASN1_GENERALIZEDTIME* next_update = nullptr;
  const bool good = basic &&
                    OCSP_resp_find_status(basic.get(), id.get(), &status, &reason, &revoked_at,
                                          &this_update, &next_update) == 1 &&
                    status == V_OCSP_CERTSTATUS_GOOD &&
                    OCSP_check_validity(this_update, next_update, 300, -1) == 1;
  ERR_clear_error();
  if (!good) {
    spdlog::warn("OCSP: {} does not say the certificate is good", url);
    return std::nullopt;
  }
  return answer->body;
}

}  // namespace

Result<std::vector<std::string>> CertificateNames(std::string_view chain_pem) {
  auto bio = MemoryBio(chain_pem);
  std::unique_ptr<X509, X509Free> leaf(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!leaf) {
    ERR_clear_error();
    return MakeError(ErrorCode::kBadRequest, "no PEM certificate found");
  }
  std::vector<std::string> names;
  auto* alt = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(leaf.get(), NID_subject_alt_name, nullptr, nullptr));
  if (alt != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(alt); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(alt, i);
      if (name->type != GEN_DNS) continue;
      const ASN1_STRING* dns = name->d.dNSName;
      names.push_back(
          Lower(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                 static_cast<std::size_t>(ASN1_STRING_length(dns)))));
    }
    GENERAL_NAMES_free(alt);
  }
  if (names.empty()) {
    X509_NAME* subject = X509_get_subject_name(leaf.get());
    const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (index >= 0) {
      const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
      names.push_back(
          Lower(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                                 static_cast<std::size_t>(ASN1_STRING_length(cn)))));
    }
  }
  ERR_clear_error();
  return names;
}

FileCertificateSource::FileCertificateSource(std::vector<Pair> pairs,
                                             std::vector<std::string> directories)
    : pairs_(std::move(pairs)), directories_(std::move(directories)) {}

Result<std::vector<CertificateEntry>> FileCertificateSource::Load() {
  std::vector<Pair> pairs = pairs_;
  for (const std::string& directory : directories_) {
    std::error_code ec;
    std::vector<Pair> found;
    for (const auto& file : std::filesystem::directory_iterator(directory, ec)) {
      const auto& path = file.path();
      if (path.extension() != ".crt" && path.extension() != ".pem") continue;
      auto key = path;
      key.replace_extension(".key");
      if (std::filesystem::exists(key, ec)) found.push_back({path.string(), key.string()});
    }
    if (ec) {
      return MakeError(ErrorCode::kBadRequest,
                       fmt::format("cannot list {}: {}", directory, ec.message()));
    }
    std::sort(found.begin(), found.end(),
              [](const Pair& a, const Pair& b) { return a.chain_file < b.chain_file; });
    pairs.insert(pairs.end(), found.begin(), found.end());
  }
  std::vector<CertificateEntry> entries;
  for (const Pair& pair : pairs) {
    CertificateEntry entry;
    RD_TRY(entry.chain_pem, ReadFile(pair.chain_file));
    RD_TRY(entry.key_pem, ReadFile(pair.key_file));
    auto names = CertificateNames(entry.chain_pem);
    if (!names.ok()) {
      return MakeError(ErrorCode::kBadRequest,
                       fmt::format("{}: {}", pair.chain_file, names.error().message));
    }
    entry.names = std::move(*names);
    entries.push_back(std::move(entry));
  }
  return entries;
}

class CertificateStore::Impl {
 public:
  explicit Impl(TlsOptions options)
      : options_(std::move(options)),
        handshake_(NewContext()),
        current_key_(NewTicketKey()),
        map_(std::make_shared<const CertMap>()) {
    SSL_CTX_set_tlsext_servername_callback(handshake_.native_handle(), &Impl::OnServerName);
    SSL_CTX_set_tlsext_servername_arg(handshake_.native_handle(), this);
    Configure(handshake_.native_handle());
    if (options_.ticket_keys) {
      const Status loaded = RefreshTicketKeys();
      if (!loaded.ok()) spdlog::warn("TLS ticket keys: {}", loaded.error().message);
      refresher_ =
          std::jthread([this](const std::stop_token& stop) { RefreshTicketKeysUntil(stop); });
    }
  }

  Status Install(const std::vector<CertificateEntry>& entries) {
    auto map = std::make_shared<CertMap>();
    std::vector<std::string> problems;
    for (const CertificateEntry& entry : entries) {
      auto ctx = BuildContext(entry);
      if (!ctx.ok()) {
        const std::string who = entry.names.empty() ? "(no names)" : entry.names.front();
        problems.push_back(fmt::format("{}: {}", who, ctx.error().message));
        continue;
      }
      for (const std::string& raw : entry.names) {
        const std::string name = NormalizeHost(raw);
        if (name.rfind("*.", 0) == 0) {
          map->wildcard.insert_or_assign(name.substr(2), *ctx);
        } else if (!name.empty()) {
          map->exact.insert_or_assign(name, *ctx);
        }
      }
      ++map->count;
    }
    if (!options_.default_name.empty()) {
      if (SSL_CTX* found = map->Find(NormalizeHost(options_.default_name))) {
        // Find returns a raw pointer; keep the shared owner.
        for (const auto* table : {&map->exact, &map->wildcard}) {
          for (const auto& [name, ctx] : *table) {
            if (ctx.get() == found) map->fallback = ctx;
          }
        }
      }
    }
    if (map->count == 0 && !entries.empty()) {
      return MakeError(ErrorCode::kBadRequest,
                       fmt::format("no usable certificate: {}", fmt::join(problems, "; ")));
    }
    {
      std::lock_guard lock(map_mu_);
      map_ = std::move(map);
    }
    spdlog::debug("TLS: {} certificate(s) loaded", Snapshot()->count);
    if (!problems.empty()) {
      return MakeError(ErrorCode::kBadRequest,
                       fmt::format("certificates left out: {}", fmt::join(problems, "; ")));
    }
    return {};
  }

  std::shared_ptr<const CertMap> Snapshot() const {
    std::lock_guard lock(map_mu_);
    return map_;
  }

  const TlsOptions& options() const { return options_; }
  boost::asio::ssl::context& handshake() { return handshake_; }

 private:
  static boost::asio::ssl::context NewContext() {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) throw std::runtime_error("SSL_CTX_new failed: " + OpenSslError());
    return boost::asio::ssl::context(ctx);
  }

  // What every context shares, the handshake context and each certificate's: the connection
  // keeps the handshake context's versions and ciphers, and takes ALPN and tickets from the
  // context it ends up with.
  void Configure(SSL_CTX* ctx) {
    SSL_CTX_set_ex_data(ctx, ExDataIndex(), this);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, 0);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_cipher_list(ctx, kCipherList);
    SSL_CTX_set1_groups_list(ctx, kGroups);
    SSL_CTX_set_dh_auto(ctx, 1);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    // Resumption by tickets only: no session cache to share between processes.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof kSessionIdContext - 1);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &Impl::OnTicketKey);
    SSL_CTX_set_alpn_select_cb(ctx, &Impl::OnAlpn, this);
  }

  Result<CtxPtr> BuildContext(const CertificateEntry& entry) {
    if (entry.names.empty()) {
      return MakeError(ErrorCode::kBadRequest, "certificate has no names");
    }
    CtxPtr ctx(SSL_CTX_new(TLS_server_method()), CtxFree{});
    if (!ctx) return MakeError(ErrorCode::kInternal, OpenSslError());
    Configure(ctx.get());
    auto chain = MemoryBio(entry.chain_pem);
    std::unique_ptr<X509, X509Free> leaf(
        PEM_read_bio_X509_AUX(chain.get(), nullptr, nullptr, nullptr));
    if (!leaf || SSL_CTX_use_certificate(ctx.get(), leaf.get()) != 1) {
      return MakeError(ErrorCode::kBadRequest, "bad certificate: " + OpenSslError());
    }
    X509* issuer = nullptr;  // owned by the context once added
    while (X509* extra = PEM_read_bio_X509(chain.get(), nullptr, nullptr, nullptr)) {
      if (issuer == nullptr && X509_check_issued(extra, leaf.get()) == X509_V_OK) issuer = extra;
      if (SSL_CTX_add0_chain_cert(ctx.get(), extra) != 1) {
        X509_free(extra);
        return MakeError(ErrorCode::kBadRequest, "bad chain: " + OpenSslError());
      }
    }
    ERR_clear_error();  // the end of the chain reads as "no start line"
    auto key_bio = MemoryBio(entry.key_pem);
    std::unique_ptr<EVP_PKEY, PkeyFree> key(
        PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    if (!key || SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1) {
      return MakeError(ErrorCode::kBadRequest, "bad private key: " + OpenSslError());
    }
    if (SSL_CTX_check_private_key(ctx.get()) != 1) {
      return MakeError(ErrorCode::kBadRequest,
                       "private key does not match the certificate: " + OpenSslError());
    }
    if (options_.ocsp_stapling) {
      const std::string staple = Staple(entry.chain_pem, leaf.get(), issuer);
      if (!staple.empty()) {
        SSL_CTX_set_ex_data(ctx.get(), StapleIndex(), new std::string(staple));
        SSL_CTX_set_tlsext_status_cb(ctx.get(), &OnStatusRequest);
      }
    }
    return ctx;
  }

  // The OCSP response for a chain: fetched again only once the one kept (or the failure to get
  // one) is ocsp_refresh old, so that reloading every minute does not ask the CA every minute.
  std::string Staple(const std::string& chain_pem, X509* leaf, X509* issuer) {
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(staples_mu_);
      const auto it = staples_.find(chain_pem);
      if (it != staples_.end() && now - it->second.fetched < options_.ocsp_refresh) {
        return it->second.der;
      }
    }
    std::string der = FetchOcspResponse(leaf, issuer, options_.ocsp_timeout).value_or("");
    std::lock_guard lock(staples_mu_);
    if (staples_.size() > 10'000) staples_.clear();
    staples_[chain_pem] = {der, now};
    return der;
  }

  static Impl* From(SSL* ssl) {
    return static_cast<Impl*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ExDataIndex()));
  }

  static int OnServerName(SSL* ssl, int* alert, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    const auto map = self->Snapshot();
    const char* sent = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    SSL_CTX* ctx = nullptr;
    if (sent != nullptr) {
      const std::string name = NormalizeHost(sent);
      ctx = map->Find(name);
      if (ctx == nullptr && self->options_.on_unknown_name && !name.empty()) {
        self->options_.on_unknown_name(name);
      }
    }
    if (ctx == nullptr) ctx = map->fallback.get();
    if (ctx == nullptr) {
      *alert = SSL_AD_UNRECOGNIZED_NAME;
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    // The connection holds a reference to the context: a swap of the map cannot free it.
    SSL_set_SSL_CTX(ssl, ctx);
    return SSL_TLSEXT_ERR_OK;
  }

  static int OnAlpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen,
                    const unsigned char* in, unsigned int inlen, void* arg) {
    const auto* self = static_cast<Impl*>(arg);
    const auto offered = [&](std::string_view protocol) -> const unsigned char* {
      for (unsigned int i = 0; i < inlen;) {
        const unsigned int length = in[i];
        if (i + 1 + length > inlen) return nullptr;
        if (std::string_view(reinterpret_cast<const char*>(in + i + 1), length) == protocol) {
          return in + i + 1;
        }
        i += 1 + length;
      }
      return nullptr;
    };
    for (std::string_view protocol : {std::string_view("h2"), std::string_view("http/1.1")}) {
      if (protocol == "h2" && !self->options_.http2) continue;
      if (const unsigned char* found = offered(protocol)) {
        *out = found;
        *outlen = static_cast<unsigned char>(protocol.size());
        return SSL_TLSEXT_ERR_OK;
      }
    }
    return SSL_TLSEXT_ERR_NOACK;
  }

  static int OnTicketKey(SSL* ssl, unsigned char key_name[16], unsigned char* iv,
                         EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypt) {
    Impl* self = From(ssl);
    if (self == nullptr) return -1;
    LiveTicketKey key;
    int result = 1;
    if (encrypt == 1) {
      key = self->CurrentTicketKey();
      if (RAND_bytes(iv, EVP_CIPHER_iv_length(EVP_aes_256_cbc())) != 1) return -1;
      std::memcpy(key_name, key.name.data(), key.name.size());
      if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) != 1) {
        return -1;
      }
    } else {
      const auto found = self->FindTicketKey(key_name, result);
      if (!found) return 0;  // unknown key: a full handshake, and a new ticket
      key = *found;
      if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) != 1) {
        return -1;
      }
    }
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac.data(), key.hmac.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end()};
    if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
    return result;
  }

  LiveTicketKey CurrentTicketKey() {
    std::lock_guard lock(ticket_mu_);
    if (!shared_keys_ &&
        std::chrono::steady_clock::now() - current_key_.created >= options_.ticket_key_rotation) {
      previous_keys_.push_front(current_key_);
      if (previous_keys_.size() > kPreviousTicketKeys) previous_keys_.pop_back();
      current_key_ = NewTicketKey();
    }
    return current_key_;
  }

  // `result` becomes 2 (accept and renew the ticket) for a previous key.
  std::optional<LiveTicketKey> FindTicketKey(const unsigned char* name, int& result) {
    std::lock_guard lock(ticket_mu_);
    if (std::memcmp(name, current_key_.name.data(), 16) == 0) return current_key_;
    for (const LiveTicketKey& key : previous_keys_) {
      if (std::memcmp(name, key.name.data(), 16) == 0) {
        result = 2;
        return key;
      }
    }
    return std::nullopt;
  }

 public:
  // Called at construction, by the refresh thread and by CertificateStore::RefreshTicketKeys.
  Status RefreshTicketKeys() {
    if (!options_.ticket_keys) return {};
    auto keys = options_.ticket_keys();
    if (!keys.ok()) return keys.error();
    if (keys->empty()) return MakeError(ErrorCode::kInternal, "no ticket keys");
    std::vector<LiveTicketKey> live;
    for (const TicketKey& key : *keys) {
      if (live.size() > kPreviousTicketKeys) break;
      LiveTicketKey k;
      if (key.name.size() != k.name.size() || key.aes.size() != k.aes.size() ||
          key.hmac.size() != k.hmac.size()) {
        return MakeError(ErrorCode::kInternal, "a ticket key has the wrong size");
      }
      std::memcpy(k.name.data(), key.name.data(), k.name.size());
      std::memcpy(k.aes.data(), key.aes.data(), k.aes.size());
      std::memcpy(k.hmac.data(), key.hmac.data(), k.hmac.size());
      live.push_back(k);
    }
    std::lock_guard lock(ticket_mu_);
    current_key_ = live.front();
    previous_keys_.assign(live.begin() + 1, live.end());
    shared_keys_ = true;
    return {};
  }

 private:
  // The refresh thread: every ticket_key_refresh until the store goes.
  void RefreshTicketKeysUntil(const std::stop_token& stop) {
    std::mutex mu;
    std::condition_variable_any wake;
    std::unique_lock lock(mu);
    while (!wake.wait_for(lock, stop, options_.ticket_key_refresh, [] { return false; })) {
      if (stop.stop_requested()) return;
      const Status refreshed = RefreshTicketKeys();
      if (!refreshed.ok()) spdlog::warn("TLS ticket keys: {}", refreshed.error().message);
    }
  }

  struct StapleEntry {
    std::string der;  // empty: none to staple
    std::chrono::steady_clock::time_point fetched;
  };

  const TlsOptions options_;
  boost::asio::ssl::context handshake_;
  std::mutex staples_mu_;
  std::unordered_map<std::string, StapleEntry> staples_;  // by chain PEM
  std::mutex ticket_mu_;
  LiveTicketKey current_key_;
  std::deque<LiveTicketKey> previous_keys_;
  bool shared_keys_ = false;  // the keys come from options_.ticket_keys: no rotation here
  mutable std::mutex map_mu_;
  std::shared_ptr<const CertMap> map_;
  std::jthread refresher_;  // last: stopped before the rest goes
};

CertificateStore::CertificateStore(TlsOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

CertificateStore::~CertificateStore() = default;

Status CertificateStore::Install(const std::vector<CertificateEntry>& entries) {
  return impl_->Install(entries);
}

Status CertificateStore::Reload(CertificateSource& source) {
  auto entries = source.Load();
  if (!entries.ok()) return entries.error();
  return impl_->Install(*entries);
}

Status CertificateStore::RefreshTicketKeys() { return impl_->RefreshTicketKeys(); }

bool CertificateStore::Covers(std::string_view host) const {
  return impl_->Snapshot()->Find(NormalizeHost(host)) != nullptr;
}

std::size_t CertificateStore::size() const { return impl_->Snapshot()->count; }

const TlsOptions& CertificateStore::options() const { return impl_->options(); }

namespace tls_internal {

boost::asio::ssl::context& HandshakeContext(CertificateStore& store) {
  return store.impl().handshake();
}

}  // namespace tls_internal

}  // namespace replideploy::http
