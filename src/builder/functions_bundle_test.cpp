#include "builder/functions_bundle.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>

#include "core/subprocess.hpp"

namespace replideploy::builder {
namespace {

namespace fs = std::filesystem;

// name -> content of every entry of a zip, read back with libarchive.
std::map<std::string, std::string> Unzip(const std::string& zip) {
  std::map<std::string, std::string> out;
  archive* a = archive_read_new();
  archive_read_support_format_zip(a);
  EXPECT_EQ(archive_read_open_memory(a, zip.data(), zip.size()), ARCHIVE_OK);
  archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string data(static_cast<std::size_t>(archive_entry_size(e)), '\0');
    archive_read_data(a, data.data(), data.size());
    out[archive_entry_pathname(e)] = data;
  }
  archive_read_free(a);
  return out;
}

class Functions : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rd-functions-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& content) {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel) << content;
  }
  fs::path dir_;
};

// Runs `module` (an ES module's text) with Node.js and prints what its default export's
// Response says: how the runtime's bootstrap calls a v2 function.
// A v1 function (`exports.handler`) is found as bootstrap.mjs finds it: `handler`, else
// `default.handler`.
std::string RunWithNode(const fs::path& dir, const std::string& module, bool v1 = false) {
  const fs::path file = dir / "run-me.mjs";
  std::ofstream(file) << module;
  core::ProcessSpec spec;
  spec.argv = {
      "node", "--input-type=module", "-e",
      v1 ? "const m = await import(process.argv[1]); "
           "const h = m.handler ?? m.default?.handler; "
           "process.stdout.write((await h({})).body);"
         : "const m = await import(process.argv[1]); "
           "process.stdout.write(await (await m.default(new Request('http://x/'))).text());",
      file.string()};
  spec.merge_stderr = true;
  spec.cwd = dir.string();  // as the runtime's /var/task
  auto ran = core::RunProcess(spec);
  return ran.ok() ? ran->out : ran.error().message;
}

class Bundling : public Functions {
 protected:
  void SetUp() override {
    Functions::SetUp();
    esbuild_ = FindEsbuild();
    if (esbuild_.empty()) GTEST_SKIP() << "esbuild is not installed (scripts/install-deps.sh)";
    if (::access("/usr/bin/node", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/node";
  }
  std::string esbuild_;
};

TEST_F(Functions, FindsFilesFoldersAndGo) {
  Write("hello.js", "export default () => new Response('hi')");
  Write("api/index.mjs", "export default async () => 1");
  Write("api/lib/util.js", "module.exports = 2");
  Write("own/own.ts", "export default 1");
  Write("own/index.js", "export default 2");  // <name>.* comes before index.*
  Write("notes/readme.txt", "a folder without an entry file is not a function");
  Write("README.md", "not a function");
  Write("built.zip", "a zip is not a source");
  Write("gofn/main.go", "package main");
  Write("gofn/go.mod", "module gofn");
  fs::create_symlink("/etc/passwd", dir_ / "leak.js");
  auto tree = sandbox::UntrustedTree::Open(dir_.string(), "");
  ASSERT_TRUE(tree.ok());
  auto sources = FindFunctions(*tree);
  ASSERT_TRUE(sources.ok()) << sources.error().message;
  std::vector<std::string> found;
  for (const auto& s : *sources) found.push_back(s.name + ":" + s.runtime + ":" + s.entry);
  EXPECT_EQ(found, (std::vector<std::string>{"api:js:api/index.mjs", "gofn:go:",
                                             "hello:js:hello.js", "own:js:own/own.ts"}));
  EXPECT_EQ((*sources)[1].files,
            (std::map<std::string, std::string>{{"gofn/go.mod", "module gofn"},
                                                {"gofn/main.go", "package main"}}));
  const auto args = EsbuildArgs(*sources, "netlify/functions", "/out");
  EXPECT_EQ(args.back(), "own=netlify/functions/own/own.ts");
  EXPECT_NE(std::find(args.begin(), args.end(), "--format=esm"), args.end());
  EXPECT_NE(std::find(args.begin(), args.end(), "--platform=node"), args.end());
}

TEST_F(Functions, GoIsZippedAsItIsAndNeedsNoEsbuild) {
  Write("gofn.go", "package main");
  auto bundles = BundleFunctions(dir_, "");
  ASSERT_TRUE(bundles.ok()) << bundles.error().message;
  ASSERT_EQ(bundles->size(), 1u);
  EXPECT_EQ((*bundles)[0].runtime, "go");
  EXPECT_EQ(Unzip((*bundles)[0].zip).at("gofn.go"), "package main");
}

TEST_F(Functions, BadNamesDuplicatesAndMissingFolder) {
  Write("bad name.js", "1");
  auto bad = BundleFunctions(dir_, "");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().detail_code, "invalid_function");
  fs::remove(dir_ / "bad name.js");
  Write("twice.js", "1");
  Write("twice/index.ts", "1");
  auto twice = BundleFunctions(dir_, "");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message.find("two functions are named 'twice'"), std::string::npos);
  auto none = BundleFunctions(dir_ / "missing", "");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// A TypeScript function importing a CommonJS package from node_modules (which requires a Node
// builtin) and a module of its own folder becomes one ES module that runs alone.
TEST_F(Bundling, TypeScriptWithAPackageAndARelativeModuleRunsAlone) {
  Write("node_modules/padder/package.json", R"({"name":"padder","main":"lib.js"})");
  Write("node_modules/padder/lib.js",
        "const os = require('node:os');\n"
        "module.exports = (s) => '<<' + s + '>>' + (typeof os.cpus === 'function' ? '' : '!');\n");
  Write("functions/greet/greet.mts",
        "import pad from 'padder';\nimport { who } from './who';\n"
        "import { sep } from 'node:path';\n"
        "export default async (req: Request): Promise<Response> =>\n"
        "  new Response(pad(who('ts')) + sep);\n");
  Write("functions/greet/who.ts", "export const who = (s: string): string => `from ${s}`;\n");
  Write("functions/plain.js", "exports.handler = async () => ({ statusCode: 200, body: 'v1' });");
  auto bundles = BundleFunctions(dir_ / "functions", esbuild_);
  ASSERT_TRUE(bundles.ok()) << bundles.error().message;
  ASSERT_EQ(bundles->size(), 2u);
  EXPECT_EQ((*bundles)[0].name, "greet");
  const auto files = Unzip((*bundles)[0].zip);
  ASSERT_EQ(files.size(), 1u);
  const std::string code = files.at("greet.mjs");
  EXPECT_NE(code.find("from \"node:path\""), std::string::npos) << "builtins stay imports";
  // Nothing else of the folder is needed: the module runs from a folder of its own.
  const fs::path alone = dir_ / "alone";
  fs::create_directories(alone);
  EXPECT_EQ(RunWithNode(alone, code), "<<from ts>>/");
  EXPECT_EQ((*bundles)[1].name, "plain");
  EXPECT_EQ(RunWithNode(alone, Unzip((*bundles)[1].zip).at("plain.mjs"), /*v1=*/true), "v1");

  // Deterministic: the same sources give the same zips, whatever the files' times.
  fs::last_write_time(dir_ / "functions/greet/who.ts",
                      fs::file_time_type::clock::now() - std::chrono::hours(5));
  auto again = BundleFunctions(dir_ / "functions", esbuild_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].zip, (*bundles)[0].zip);
  EXPECT_EQ((*again)[1].zip, (*bundles)[1].zip);
}

// `export const config` becomes the routes netlify-cli would send; a module without one, one
// whose import throws, and one that keeps the event loop busy get none and stop nothing.
TEST_F(Bundling, ConfigExportsBecomeRoutes) {
  Write("functions/items.mts",
        "export default async () => new Response('x');\n"
        "export const config = { path: ['/items/:id', '/things/*'], method: 'get',\n"
        "  excludedPath: '/items/static', preferStatic: true };\n");
  Write("functions/plain.js", "exports.handler = async () => ({ statusCode: 200 });\n");
  Write("functions/tick.mjs",
        "export default async () => {};\nexport const config = { schedule: '@hourly' };\n");
  Write("functions/throws.mjs",
        "throw new Error('top level');\nexport const config = {path:'/t'};\n");
  Write("functions/busy.mjs",
        "setInterval(() => {}, 1000);\nexport default async () => new Response('b');\n"
        "export const config = { path: '/busy' };\n");
  auto bundles = BundleFunctions(dir_ / "functions", esbuild_);
  ASSERT_TRUE(bundles.ok()) << bundles.error().message;
  std::map<std::string, std::string> configs;
  for (const auto& b : *bundles) configs[b.name] = b.config;
  EXPECT_EQ(configs["items"],
            R"({"routes":[{"pattern":"/items/:id","methods":["GET"],"prefer_static":true},)"
            R"({"pattern":"/things/*","methods":["GET"],"prefer_static":true}],)"
            R"("excluded_routes":[{"pattern":"/items/static"}]})");
  EXPECT_EQ(
      configs["busy"],
      R"({"routes":[{"pattern":"/busy","methods":[],"prefer_static":false}],"excluded_routes":[]})");
  EXPECT_EQ(configs["plain"], "");
  EXPECT_EQ(configs["throws"], "");
  EXPECT_EQ(configs["tick"], R"({"routes":[],"excluded_routes":[],"schedule":"@hourly"})");
  // netlify.toml's [functions."name"] schedule: for functions whose code sets none.
  ApplyTomlSchedules({{"tick", "0 0 * * *"}, {"plain", "*/5 * * * *"}, {"absent", "@daily"}},
                     *bundles);
  configs.clear();
  for (const auto& b : *bundles) configs[b.name] = b.config;
  EXPECT_EQ(configs["tick"], R"({"routes":[],"excluded_routes":[],"schedule":"@hourly"})");
  EXPECT_EQ(configs["plain"], R"({"schedule":"*/5 * * * *"})");
  EXPECT_FALSE(configs.contains("absent"));
  // The same without reading configs: nothing is run.
  auto unread = BundleFunctions(dir_ / "functions", esbuild_, /*read_configs=*/false);
  ASSERT_TRUE(unread.ok());
  for (const auto& b : *unread) EXPECT_EQ(b.config, "") << b.name;

  std::vector<FunctionBundle> mine{{"a", "js", "", ""}};
  EXPECT_FALSE(ApplyFunctionConfigs("[1]", mine).ok());
  EXPECT_FALSE(ApplyFunctionConfigs(R"({"a": 3})", mine).ok());
  EXPECT_TRUE(ApplyFunctionConfigs(R"({"b": {}})", mine).ok());
  EXPECT_EQ(mine[0].config, "");
}

TEST_F(Bundling, ErrorsCarryEsbuildsMessage) {
  Write("broken.ts", "export default async ( => new Response('x');\n");
  auto broken = BundleFunctions(dir_, esbuild_);
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().detail_code, "bundling_failed");
  EXPECT_NE(broken.error().message.find("broken.ts:1:"), std::string::npos)
      << broken.error().message;
  EXPECT_NE(broken.error().message.find("Unexpected"), std::string::npos) << broken.error().message;
  fs::remove(dir_ / "broken.ts");
  Write("missing.js", "import x from 'not-installed'; export default x;");
  auto missing = BundleFunctions(dir_, esbuild_);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("Could not resolve \"not-installed\""), std::string::npos)
      << missing.error().message;
  auto nowhere = BundleFunctions(dir_, "/nonexistent/esbuild");
  ASSERT_FALSE(nowhere.ok());
  EXPECT_EQ(nowhere.error().detail_code, "bundling_failed");
}

TEST(IncludedFiles, PatternsMatchLikeNetlify) {
  EXPECT_TRUE(IncludedPatternMatches("data/**", "data/a.json"));
  EXPECT_TRUE(IncludedPatternMatches("data/**", "data/x/y/z.txt"));
  EXPECT_FALSE(IncludedPatternMatches("data/**", "database/a.json"));
  EXPECT_TRUE(IncludedPatternMatches("data", "data/x/y.txt")) << "a folder takes what is under it";
  EXPECT_TRUE(IncludedPatternMatches("files/*.md", "files/post.md"));
  EXPECT_FALSE(IncludedPatternMatches("files/*.md", "files/sub/post.md"));
  EXPECT_TRUE(IncludedPatternMatches("**/*.md", "post.md"));
  EXPECT_TRUE(IncludedPatternMatches("**/*.md", "a/b/post.md"));
  EXPECT_TRUE(IncludedPatternMatches("a/**/c.txt", "a/c.txt"));
  EXPECT_TRUE(IncludedPatternMatches("a/**/c.txt", "a/b/b/c.txt"));
  EXPECT_TRUE(IncludedPatternMatches("netlify.toml", "netlify.toml"));
  EXPECT_FALSE(IncludedPatternMatches("netlify.toml", "x/netlify.toml"));
}

// netlify.toml's included_files: the matched files go into the zip at their paths relative to
// the base directory, and the function reads them from its working directory (or next to its
// module) at run time. Negations, per-function lists, limits, links out and ".." are refused.
TEST_F(Bundling, IncludedFilesAreZippedAndReadAtRunTime) {
  Write("netlify/functions/reader.mjs",
        "import fs from 'node:fs';\nimport path from 'node:path';\n"
        "export default async () => new Response(\n"
        "  fs.readFileSync(path.join(process.cwd(), 'data/greeting.txt'), 'utf8') +\n"
        "  fs.readFileSync(new URL('./data/sub/more.txt', import.meta.url), 'utf8') +\n"
        "  String(fs.existsSync('data/secret.txt')));\n");
  Write("netlify/functions/other.mjs", "export default async () => new Response('other');\n");
  Write("data/greeting.txt", "hello ");
  Write("data/sub/more.txt", "world ");
  Write("data/secret.txt", "do not ship");
  auto base = sandbox::UntrustedTree::Open(dir_.string(), "");
  ASSERT_TRUE(base.ok());
  const std::vector<std::string> patterns{"data/**", "!data/secret.txt"};
  auto included =
      CollectIncludedFiles(*base, patterns, {{"other", {"!data"}}}, {"other", "reader"});
  ASSERT_TRUE(included.ok()) << included.error().message;
  EXPECT_TRUE(included->at("other").empty()) << "its own '!data' drops the global files";
  auto bundles = BundleFunctions(dir_ / "netlify/functions", esbuild_, false, *included);
  ASSERT_TRUE(bundles.ok()) << bundles.error().message;
  ASSERT_EQ(bundles->size(), 2u);
  EXPECT_EQ(Unzip((*bundles)[0].zip).size(), 1u) << "other.mjs alone";
  const auto files = Unzip((*bundles)[1].zip);
  std::vector<std::string> names;
  for (const auto& [name, data] : files) names.push_back(name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"data/greeting.txt", "data/sub/more.txt", "reader.mjs"}));
  // Unpacked as the runtime does, the function reads them.
  const fs::path task = dir_ / "task";
  for (const auto& [name, data] : files) {
    fs::create_directories((task / name).parent_path());
    std::ofstream(task / name) << data;
  }
  EXPECT_EQ(RunWithNode(task, files.at("reader.mjs")), "hello world false");

  IncludedFilesLimits tight;
  tight.max_files = 1;
  auto too_many = CollectIncludedFiles(*base, patterns, {}, {"reader"}, tight);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().detail_code, "invalid_included_files");
  auto up = CollectIncludedFiles(*base, {"../elsewhere/**"}, {}, {"reader"});
  ASSERT_FALSE(up.ok());
  EXPECT_EQ(up.error().detail_code, "invalid_included_files");
  fs::create_symlink("/etc/passwd", dir_ / "data/leak.txt");
  auto leak = CollectIncludedFiles(*base, patterns, {}, {"reader"});
  ASSERT_FALSE(leak.ok());
  EXPECT_NE(leak.error().message.find("data/leak.txt is a link that leads outside"),
            std::string::npos)
      << leak.error().message;
}

}  // namespace
}  // namespace replideploy::builder
