#include "store/content_type.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace replideploy::store {
namespace {

TEST(ContentTypeForPath, CommonWebFiles) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/index.html", "text/html; charset=utf-8"},
      {"/style.css", "text/css; charset=utf-8"},
      {"/app.js", "text/javascript; charset=utf-8"},
      {"/app.mjs", "text/javascript; charset=utf-8"},
      {"/data.json", "application/json; charset=utf-8"},
      {"/app.js.map", "application/json; charset=utf-8"},
      {"/robots.txt", "text/plain; charset=utf-8"},
      {"/sitemap.xml", "application/xml; charset=utf-8"},
      {"/logo.svg", "image/svg+xml"},
      {"/a.png", "image/png"},
      {"/a.jpg", "image/jpeg"},
      {"/a.jpeg", "image/jpeg"},
      {"/a.gif", "image/gif"},
      {"/a.webp", "image/webp"},
      {"/a.avif", "image/avif"},
      {"/favicon.ico", "image/x-icon"},
      {"/f.woff", "font/woff"},
      {"/f.woff2", "font/woff2"},
      {"/f.ttf", "font/ttf"},
      {"/f.otf", "font/otf"},
      {"/f.eot", "application/vnd.ms-fontobject"},
      {"/m.wasm", "application/wasm"},
      {"/doc.pdf", "application/pdf"},
      {"/v.mp4", "video/mp4"},
      {"/v.webm", "video/webm"},
      {"/s.mp3", "audio/mpeg"},
      {"/s.wav", "audio/wav"},
      {"/s.ogg", "audio/ogg"},
      {"/a.zip", "application/zip"},
      {"/a.tar.gz", "application/gzip"},
      {"/site.webmanifest", "application/manifest+json; charset=utf-8"},
      {"/README.md", "text/markdown; charset=utf-8"},
      {"/t.csv", "text/csv; charset=utf-8"},
      {"/c.yaml", "application/yaml; charset=utf-8"},
      {"/c.yml", "application/yaml; charset=utf-8"},
      {"/c.toml", "application/toml; charset=utf-8"},
  };
  for (const auto& [path, type] : cases) EXPECT_EQ(ContentTypeForPath(path), type) << path;
}

TEST(ContentTypeForPath, ExtensionRules) {
  EXPECT_EQ(ContentTypeForPath("INDEX.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeForPath("/Photo.JpG"), "image/jpeg");
  EXPECT_EQ(ContentTypeForPath("/.well-known/x.json"), "application/json; charset=utf-8");
  EXPECT_EQ(ContentTypeForPath("/.eslintrc.json"), "application/json; charset=utf-8");
  for (const char* path : {"", "/", "/Makefile", "/.htaccess", "/dir.html/file", "/file.",
                           "/a.unknownext", "/a.averyveryverylongextension", "/a.HTML5"}) {
    EXPECT_EQ(ContentTypeForPath(path), kDefaultContentType) << path;
  }
}

}  // namespace
}  // namespace replideploy::store
