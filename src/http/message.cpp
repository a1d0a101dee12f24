#include "http/message.hpp"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>

#include "core/crypto.hpp"
#include "core/text.hpp"

namespace replideploy::http {

namespace {

using core::EqualsIgnoreCase;
using core::PercentEscapeAt;

std::string DecodeQueryComponent(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      // A NUL is kept as the literal "%00": downstream code treats strings as C strings.
      const int byte = PercentEscapeAt(s, i);
      if (byte > 0) {
        out.push_back(static_cast<char>(byte));
        i += 2;
      } else {
        out.push_back('%');
      }
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not valid.
std::size_t Utf8SequenceLength(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t len = 0;
  unsigned int code_point = 0;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    code_point = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    code_point = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    code_point = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr unsigned int kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code_point < kMinForLength[len] || code_point > 0x10FFFF) return 0;
  if (code_point >= 0xD800 && code_point <= 0xDFFF) return 0;
  return len;
}

// Error messages may quote client input; JSON must stay valid UTF-8 whatever was sent.
std::string ToValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t len = Utf8SequenceLength(s, i);
    if (len == 0) {
      out.append("\xEF\xBF\xBD");  // U+FFFD
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  return out;
}

}  // namespace

std::vector<Headers::Item>& Headers::Mutable() {
  if (!block_) {
    block_ = std::make_shared<Block>();
  } else if (block_.use_count() > 1) {
    // Shared (a cached list): this copy gets a list of its own.
    auto own = std::make_shared<Block>();
    own->items = block_->items;
    block_ = std::move(own);
  } else if (block_->has_rendered) {
    block_->has_rendered = false;
    block_->rendered.clear();
  }
  return block_->items;
}

void Headers::Add(std::string name, std::string value) {
  Mutable().emplace_back(std::move(name), std::move(value));
}

void Headers::AddCopy(std::string_view name, std::string_view value) {
  std::vector<Item>& items = Mutable();
  std::vector<Item>& spare = block_->spare;
  if (spare.empty()) {
    items.emplace_back(name, value);
    return;
  }
  Item& item = items.emplace_back(std::move(spare.back()));
  spare.pop_back();
  item.first.assign(name);
  item.second.assign(value);
}

void Headers::Set(std::string name, std::string value) {
  std::vector<Item>& items = Mutable();
  auto first = std::find_if(items.begin(), items.end(),
                            [&](const auto& item) { return EqualsIgnoreCase(item.first, name); });
  if (first == items.end()) {
    items.emplace_back(std::move(name), std::move(value));
    return;
  }
  // Keep the position of the first occurrence so the header order stays stable.
  first->first = std::move(name);
  first->second = std::move(value);
  const std::string_view kept = first->first;
  items.erase(std::remove_if(std::next(first), items.end(),
                             [&](const auto& item) { return EqualsIgnoreCase(item.first, kept); }),
              items.end());
}

const std::vector<Headers::Item>& Headers::All() const {
  static const std::vector<Item> kNone;
  return block_ ? block_->items : kNone;
}

std::string_view Headers::Get(std::string_view name) const {
  for (const auto& [key, value] : All()) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

bool Headers::Has(std::string_view name) const {
  const std::vector<Item>& items = All();
  return std::any_of(items.begin(), items.end(),
                     [&](const auto& item) { return EqualsIgnoreCase(item.first, name); });
}

void Headers::Clear() {
  if (block_ && block_.use_count() == 1) {
    std::vector<Item>& items = block_->items;
    // Bounded, for a list cleared and refilled with Add over and over.
    constexpr std::size_t kMaxSpare = 64;
    for (auto item = items.rbegin(); item != items.rend() && block_->spare.size() < kMaxSpare;
         ++item) {
      block_->spare.push_back(std::move(*item));
    }
    items.clear();
    block_->has_rendered = false;
    block_->rendered.clear();
  } else {
    block_.reset();
  }
}

bool Headers::Prerender() {
  static constexpr std::string_view kServerOwned[] = {"Content-Length", "Transfer-Encoding",
                                                      "Connection", "Server", "X-Request-Id"};
  std::string rendered;
  for (const auto& [name, value] : All()) {
    if (!IsToken(name) || HasLineBreakOrNul(value)) return false;
    for (std::string_view owned : kServerOwned) {
      if (EqualsIgnoreCase(name, owned)) return false;
    }
    rendered.append(name).append(": ").append(value).append("\r\n");
  }
  Mutable();  // unshared, so that the rendering belongs to this list only
  block_->rendered = std::move(rendered);
  block_->has_rendered = true;
  return true;
}

const std::string* Headers::Rendered() const {
  return block_ && block_->has_rendered ? &block_->rendered : nullptr;
}

// A plain loop: find_first_of calls memchr over the three characters once per character of
// `s`, and this runs for every response header (memchr was 2-4 % of the edge's profile).
bool HasLineBreakOrNul(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

bool IsToken(std::string_view s) {
  static constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kSymbols.find(c) != std::string_view::npos;
  });
}

std::string Request::HostName() const {
  std::string out;
  HostNameTo(out);
  return out;
}

void Request::HostNameTo(std::string& out) const {
  std::string_view host = headers.Get("Host");
  if (!host.empty() && host.front() == '[') {
    // IPv6 literal: "[::1]:8080" -> "[::1]".
    const std::size_t close = host.find(']');
    if (close != std::string_view::npos) host = host.substr(0, close + 1);
  } else if (const std::size_t colon = host.find(':');
             colon != std::string_view::npos &&
             host.find(':', colon + 1) == std::string_view::npos) {
    host = host.substr(0, colon);
  }
  out.assign(host);
  std::transform(out.begin(), out.end(), out.begin(), core::AsciiLower);
}

std::optional<std::string> Request::QueryParam(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return value;
  }
  return std::nullopt;
}

std::vector<std::string> SplitHeaderTokens(std::string_view value) {
  std::vector<std::string> out;
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    std::string_view token = value.substr(0, comma);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
      token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (!token.empty()) out.emplace_back(token);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

std::optional<std::pair<std::string, std::string>> BasicCredentials(std::string_view header) {
  constexpr std::string_view kBasic = "basic ";
  if (header.size() <= kBasic.size() ||
      !EqualsIgnoreCase(header.substr(0, kBasic.size()), kBasic)) {
    return std::nullopt;
  }
  auto decoded = core::Base64Decode(header.substr(kBasic.size()));
  if (!decoded.ok()) return std::nullopt;
  const std::size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::pair{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

std::optional<Response> ParseCgiOutput(std::string_view out) {
  std::size_t end = out.find("\r\n\r\n");
  std::size_t separator = 4;
  if (const std::size_t bare = out.find("\n\n"); bare < end) {
    end = bare;
    separator = 2;
  }
  if (end == std::string_view::npos) return std::nullopt;
  Response response;
  std::string_view head = out.substr(0, end);
  while (!head.empty()) {
    const std::size_t newline = head.find('\n');
    std::string_view line = head.substr(0, newline);
    head.remove_prefix(newline == std::string_view::npos ? head.size() : newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (EqualsIgnoreCase(name, "status")) {
      const int status = std::atoi(std::string(value.substr(0, value.find(' '))).c_str());
      response.status = status >= 100 && status <= 599 ? status : 500;
    } else if (!EqualsIgnoreCase(name, "content-length") &&
               !EqualsIgnoreCase(name, "transfer-encoding")) {
      response.headers.Add(std::string(name), std::string(value));
    }
  }
  response.body = std::string(out.substr(end + separator));
  return response;
}

namespace {

// The tokens of every `name` header.
std::vector<std::string> HeaderTokens(const Headers& headers, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [key, value] : headers.All()) {
    if (!EqualsIgnoreCase(key, name)) continue;
    auto tokens = SplitHeaderTokens(value);
    out.insert(out.end(), tokens.begin(), tokens.end());
  }
  return out;
}

}  // namespace

bool IsWebSocketUpgrade(const Request& request) {
  if (request.method != "GET") return false;
  const auto upgrade = HeaderTokens(request.headers, "Upgrade");
  const auto connection = HeaderTokens(request.headers, "Connection");
  return std::any_of(upgrade.begin(), upgrade.end(),
                     [](const std::string& t) { return EqualsIgnoreCase(t, "websocket"); }) &&
         std::any_of(connection.begin(), connection.end(),
                     [](const std::string& t) { return EqualsIgnoreCase(t, "upgrade"); }) &&
         !request.Header("Sec-WebSocket-Key").empty();
}

std::vector<std::string> WebSocketProtocols(const Request& request) {
  return HeaderTokens(request.headers, "Sec-WebSocket-Protocol");
}

Response Response::Json(int status, std::string json_body) {
  Response response;
  response.status = status;
  response.headers.Set("Content-Type", "application/json; charset=utf-8");
  response.body = std::move(json_body);
  return response;
}

Response Response::Error(int status, std::string_view code, std::string_view message) {
  boost::json::object error;
  error["code"] = ToValidUtf8(code);
  error["message"] = ToValidUtf8(message);
  boost::json::object root;
  root["error"] = std::move(error);
  return Json(status, boost::json::serialize(root));
}

Response Response::Text(int status, std::string text, std::string content_type) {
  Response response;
  response.status = status;
  response.headers.Set("Content-Type", std::move(content_type));
  response.body = std::move(text);
  return response;
}

std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (piece.empty()) continue;
    const std::size_t eq = piece.find('=');
    if (eq == std::string_view::npos) {
      out.emplace_back(DecodeQueryComponent(piece), std::string());
    } else {
      out.emplace_back(DecodeQueryComponent(piece.substr(0, eq)),
                       DecodeQueryComponent(piece.substr(eq + 1)));
    }
  }
  return out;
}

std::optional<std::string> PercentDecode(std::string_view s) {
  // A NUL (even encoded) is refused: downstream code treats strings as C strings.
  if (s.find('\0') != std::string_view::npos) return std::nullopt;
  std::optional<std::string> out = core::PercentDecodeStrict(s);
  if (out && out->find('\0') != std::string::npos) return std::nullopt;
  return out;
}

std::optional<std::string_view> CookieValue(std::string_view header, std::string_view name) {
  std::size_t start = 0;
  while (start <= header.size()) {
    std::size_t end = header.find(';', start);
    if (end == std::string_view::npos) end = header.size();
    std::string_view pair = header.substr(start, end - start);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const std::size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      std::string_view value = pair.substr(eq + 1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return value;
    }
    start = end + 1;
  }
  return std::nullopt;
}

}  // namespace replideploy::http
