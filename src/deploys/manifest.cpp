#include "deploys/manifest.hpp"

#include <array>
#include <bit>
#include <cstring>
#include <functional>
#include <limits>
#include <mutex>
#include <unordered_set>

namespace replideploy::deploys {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool Sha256Digest::ParseHex(std::string_view hex) {
  if (hex.size() != 2 * bytes.size()) return false;
  std::array<std::uint8_t, 32> parsed{};
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    const int hi = HexValue(hex[2 * i]);
    const int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    parsed[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  bytes = parsed;
  return true;
}

Sha256Hex Sha256Digest::Hex() const {
  // Two digits per byte from one table (the edge renders a digest for every file it serves).
  static constexpr auto kPairs = [] {
    constexpr char kDigits[] = "0123456789abcdef";
    std::array<char, 512> pairs{};
    for (std::size_t b = 0; b < 256; ++b) {
      pairs[2 * b] = kDigits[b >> 4];
      pairs[2 * b + 1] = kDigits[b & 0xf];
    }
    return pairs;
  }();
  Sha256Hex hex;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::memcpy(&hex.chars[2 * i], &kPairs[2 * std::size_t{bytes[i]}], 2);
  }
  return hex;
}

std::string_view InternContentType(std::string_view content_type) {
  if (content_type.empty()) return {};
  // Never freed: a few dozen short strings for the process (node-based set: views stay valid).
  static std::mutex mu;
  static auto* interned = new std::unordered_set<std::string>();
  std::lock_guard lock(mu);
  return *interned->emplace(content_type).first;
}

void ManifestFiles::Reserve(std::size_t files, std::size_t path_bytes) {
  entries_.reserve(files);
  paths_.reserve(path_bytes);
  if (2 * files > index_.size()) Rehash(std::bit_ceil(std::max<std::size_t>(2 * files, 8)));
}

std::size_t ManifestFiles::Slot(std::string_view path) const {
  return std::hash<std::string_view>{}(path) & (index_.size() - 1);
}

void ManifestFiles::Rehash(std::size_t slots) {
  index_.assign(slots, 0);
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    std::size_t slot = Slot(Path(entries_[i]));
    while (index_[slot] != 0) slot = (slot + 1) & (slots - 1);
    index_[slot] = static_cast<std::uint32_t>(i + 1);
  }
}

bool ManifestFiles::Insert(std::string_view path, std::string_view sha256_hex, std::int64_t size,
                           std::string_view content_type, bool has_br, bool has_gzip) {
  ManifestEntry entry;
  if (!entry.digest.ParseHex(sha256_hex)) return false;
  entry.size = size;
  entry.content_type = InternContentType(content_type);
  entry.has_br = has_br;
  entry.has_gzip = has_gzip;
  return Add(path, entry);
}

bool ManifestFiles::InsertCopy(std::string_view path, const ManifestEntry& entry) {
  return Add(path, entry);
}

bool ManifestFiles::Add(std::string_view path, ManifestEntry entry) {
  if (Find(path) != nullptr) return false;
  if (paths_.size() + path.size() > std::numeric_limits<std::uint32_t>::max() ||
      entries_.size() + 1 >= std::numeric_limits<std::uint32_t>::max()) {
    return false;
  }
  entry.path_offset = static_cast<std::uint32_t>(paths_.size());
  entry.path_size = static_cast<std::uint32_t>(path.size());
  paths_.append(path);
  entries_.push_back(entry);
  // At most half full, so a miss ends after a probe or two.
  if (2 * entries_.size() > index_.size()) {
    Rehash(std::max<std::size_t>(8, 2 * index_.size()));
  } else {
    std::size_t slot = Slot(path);
    while (index_[slot] != 0) slot = (slot + 1) & (index_.size() - 1);
    index_[slot] = static_cast<std::uint32_t>(entries_.size());
  }
  return true;
}

void ManifestFiles::ShrinkToFit() {
  entries_.shrink_to_fit();
  paths_.shrink_to_fit();
}

const ManifestEntry* ManifestFiles::Find(std::string_view path) const {
  if (index_.empty()) return nullptr;
  const std::size_t mask = index_.size() - 1;
  for (std::size_t slot = Slot(path); index_[slot] != 0; slot = (slot + 1) & mask) {
    const ManifestEntry& entry = entries_[index_[slot] - 1];
    if (Path(entry) == path) return &entry;
  }
  return nullptr;
}

std::size_t ManifestFiles::MemoryBytes() const {
  return entries_.capacity() * sizeof(ManifestEntry) + paths_.capacity() +
         index_.capacity() * sizeof(std::uint32_t);
}

std::size_t DeployManifest::MemoryBytes() const {
  // Functions are few per deploy; count their map nodes roughly.
  constexpr std::size_t kPerFunction = 256;
  return sizeof(DeployManifest) + files.MemoryBytes() + deploy_id.capacity() + site_id.capacity() +
         functions.size() * kPerFunction;
}

}  // namespace replideploy::deploys
