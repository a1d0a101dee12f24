// fake_github: the fake GitHub as a process, for end-to-end tests driven from a shell or Node.
//
//   fake_github [--port N] [--state-file PATH] [--client-id ID] [--client-secret SECRET]
//
// Prints "listening on 127.0.0.1:<port>" as its first stdout line, serves until SIGTERM or
// SIGINT, and (with --state-file) rewrites PATH as JSON after every hook or status change.
// Seeded with the user octocat and three repositories: octocat/vite-app (a Vite project, so
// framework detection finds it), octocat/hello-world (plain HTML) and octocat/private-notes
// (private), each a real git repository: `git clone http://127.0.0.1:<port>/octocat/vite-app.git`.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "core/log.hpp"
#include "fake_github/fake_github.hpp"

namespace {

using replideploy::fake_github::FakeGithub;
using replideploy::fake_github::FakeGithubOptions;

constexpr std::string_view kUsage =
    "usage: fake_github [--port N] [--state-file PATH] [--client-id ID] [--client-secret S]\n";

int Usage() {
  std::fputs(kUsage.data(), stderr);
  return 2;
}

void Seed(FakeGithub& github) {
  github.AddUser("octocat");
  github.AddRepo("octocat", "private-notes", "main", {{"README.md", "# Notes\n"}},
                 /*is_private=*/true);
  github.AddRepo("octocat", "hello-world", "main",
                 {{"index.html", "<!DOCTYPE html><title>Hello</title><h1>Hello, world</h1>\n"},
                  {"README.md", "# Hello world\n"}});
  github.AddRepo(
      "octocat", "vite-app", "main",
      {{"package.json",
        "{\"name\":\"vite-app\",\"private\":true,\"scripts\":{\"dev\":\"vite\",\"build\":"
        "\"vite build\"},\"devDependencies\":{\"vite\":\"^5\"}}\n"},
       {"index.html",
        "<!DOCTYPE html><html><head><title>Vite app</title></head><body><div id=\"app\"></div>"
        "<script type=\"module\" src=\"/src/main.js\"></script></body></html>\n"},
       {"src/main.js", "document.querySelector('#app').textContent = 'Hello from Vite';\n"}});
}

}  // namespace

int main(int argc, char** argv) {
  FakeGithubOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage.data(), stdout);
      return 0;
    }
    if (i + 1 >= argc) return Usage();
    const std::string value = argv[++i];
    if (flag == "--port") {
      char* end = nullptr;
      const long port = std::strtol(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0' || port < 0 || port > 65535) return Usage();
      options.port = static_cast<std::uint16_t>(port);
    } else if (flag == "--state-file") {
      options.state_file = value;
    } else if (flag == "--client-id") {
      options.client_id = value;
    } else if (flag == "--client-secret") {
      options.client_secret = value;
    } else {
      return Usage();
    }
  }

  // Logs go to stderr; stdout carries only the "listening on" line.
  if (!replideploy::core::InitLogging("warn").ok()) return 1;
  FakeGithub github(options);
  Seed(github);
  if (replideploy::Status started = github.Start(); !started.ok()) {
    std::fprintf(stderr, "fake_github: %s\n", started.error().message.c_str());
    return 1;
  }
  std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(github.port()));
  std::fflush(stdout);
  github.RunUntilSignal();
  return 0;
}
