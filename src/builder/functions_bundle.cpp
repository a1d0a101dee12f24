#include "builder/functions_bundle.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "core/subprocess.hpp"

namespace replideploy::builder {

namespace fs = std::filesystem;

namespace {

bool IsFunctionName(const std::string& name) {
  return !name.empty() && name.size() <= 128 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

std::string Extension(const fs::path& p) { return p.extension().string(); }

// In the order an entry is looked for (the runtime's bootstrap.mjs looks in the same order).
const std::vector<std::string>& JsExtensions() {
  static const std::vector<std::string> kExtensions = {".mjs", ".cjs", ".js",
                                                       ".mts", ".cts", ".ts"};
  return kExtensions;
}

bool IsJsFile(const fs::path& p) {
  const auto& exts = JsExtensions();
  return std::find(exts.begin(), exts.end(), Extension(p)) != exts.end();
}

// A zip of `files` (name in the archive -> content), entries sorted, times fixed.
Result<std::string> Zip(const std::map<std::string, std::string>& files) {
  std::string out;
  std::unique_ptr<archive, decltype(&archive_write_free)> a(archive_write_new(),
                                                            &archive_write_free);
  archive_write_set_format_zip(a.get());
  auto write_cb = [](archive*, void* data, const void* buf, size_t n) -> la_ssize_t {
    auto* sink = static_cast<std::string*>(data);
    if (sink->size() + n > kMaxFunctionZipBytes + (1 << 20)) return -1;
    sink->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  };
  if (archive_write_open(a.get(), &out, nullptr, write_cb, nullptr) != ARCHIVE_OK) {
    return MakeError(ErrorCode::kInternal, "cannot start a zip");
  }
  for (const auto& [name, data] : files) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(),
                                                                    &archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
    archive_entry_set_mtime(e.get(), 315532800, 0);  // 1980-01-01, zip's epoch
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK ||
        archive_write_data(a.get(), data.data(), data.size()) < 0) {
      return Unprocessable("invalid_function", std::string("cannot package a function: ") +
                                                   archive_error_string(a.get()));
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    return Unprocessable("invalid_function", "a function is larger than 50 MiB zipped");
  }
  if (out.size() > kMaxFunctionZipBytes) {
    return Unprocessable("invalid_function", "a function is larger than 50 MiB zipped");
  }
  return out;
}

// What the bundle of a JavaScript function starts with: a `require` for the CommonJS packages
// esbuild bundles into an ES module (their require() of Node's builtins; esbuild renames a
// `require` of the function's own, so the two never collide).
constexpr std::string_view kRequireBanner =
    "import { createRequire as __replideployCreateRequire } from \"node:module\"; "
    "const require = __replideployCreateRequire(import.meta.url);";

}  // namespace

Result<std::vector<FunctionSource>> FindFunctions(const sandbox::UntrustedTree& dir) {
  // Every file of the folder, grouped by its top-level entry (a function each).
  std::map<std::string, std::set<std::string>> groups;
  sandbox::UntrustedTree::WalkOptions options;
  options.limits.max_files = 20'000;
  options.limits.max_bytes = std::int64_t{512} << 20;
  options.skip_directory = [](std::string_view path) {
    const std::size_t slash = path.rfind('/');
    const std::string_view last = slash == std::string_view::npos ? path : path.substr(slash + 1);
    return last.starts_with(".") || last == "node_modules";
  };
  RD_TRY_STATUS(dir.Walk(options, [&](const sandbox::UntrustedTree::File& file) -> Status {
    const std::size_t slash = file.path.find('/');
    const std::string top = file.path.substr(0, slash);
    if (top.starts_with(".")) return {};
    // README.md, package.json, a zip built elsewhere: not functions.
    if (slash == std::string::npos && !IsJsFile(top) && Extension(top) != ".go") return {};
    groups[top].insert(file.path);
    return {};
  }));
  std::vector<FunctionSource> out;
  std::set<std::string> names;
  for (const auto& [top, files] : groups) {
    const bool single_file = files.size() == 1 && *files.begin() == top;
    FunctionSource source;
    source.name = single_file ? fs::path(top).stem().string() : top;
    if (!IsFunctionName(source.name)) {
      return Unprocessable("invalid_function", "function name '" + source.name +
                                                   "' must be letters, digits, '-' or '_' (from " +
                                                   top + ")");
    }
    if (single_file) {
      source.runtime = Extension(top) == ".go" ? "go" : "js";
      source.entry = top;
    } else {
      for (const std::string& stem : {source.name, std::string("index")}) {
        for (const std::string& ext : JsExtensions()) {
          if (source.entry.empty() && files.contains(top + "/" + stem + ext)) {
            source.entry = top + "/" + stem + ext;
          }
        }
      }
      const bool go = std::any_of(files.begin(), files.end(),
                                  [](const std::string& f) { return Extension(f) == ".go"; });
      if (!source.entry.empty()) {
        source.runtime = "js";
      } else if (go) {
        source.runtime = "go";
      } else {
        continue;  // no entry file: not a function
      }
    }
    if (source.runtime == "go") {
      for (const std::string& path : files) {
        RD_TRY(std::optional<std::string> data, dir.ReadFile(path, kMaxFunctionZipBytes));
        if (!data) return MakeError(ErrorCode::kUnprocessable, "cannot read function file " + path);
        source.files.emplace(path, std::move(*data));
      }
    }
    if (!names.insert(source.name).second) {
      return Unprocessable("invalid_function", "two functions are named '" + source.name + "'");
    }
    if (out.size() == kMaxFunctions) {
      return Unprocessable("invalid_function", "more than 1000 functions");
    }
    out.push_back(std::move(source));
  }
  return out;
}

bool NeedsEsbuild(const std::vector<FunctionSource>& sources) {
  return std::any_of(sources.begin(), sources.end(),
                     [](const FunctionSource& s) { return s.runtime == "js"; });
}

std::vector<std::string> EsbuildArgs(const std::vector<FunctionSource>& sources,
                                     const std::string& in_dir, const std::string& out_dir) {
  std::vector<std::string> args = {"--bundle",
                                   "--platform=node",
                                   "--format=esm",
                                   "--outdir=" + out_dir,
                                   "--out-extension:.js=.mjs",
                                   "--banner:js=" + std::string(kRequireBanner),
                                   "--log-level=warning",
                                   "--color=false",
                                   "--charset=utf8"};
  for (const FunctionSource& s : sources) {
    if (s.runtime != "js") continue;
    // name=path: the output is <out_dir>/<name>.mjs whatever the entry's folder and extension.
    args.push_back(s.name + "=" + (in_dir.empty() ? s.entry : in_dir + "/" + s.entry));
  }
  return args;
}

Result<std::vector<FunctionBundle>> PackageFunctions(const std::vector<FunctionSource>& sources,
                                                     const sandbox::UntrustedTree* bundled,
                                                     const IncludedFiles& included) {
  std::vector<FunctionBundle> out;
  // The function's own files first: an included file of the same name does not replace them.
  auto with_included = [&](const std::string& name, std::map<std::string, std::string> files) {
    if (auto it = included.find(name); it != included.end()) {
      for (const auto& [path, data] : it->second) files.emplace(path, data);
    }
    return files;
  };
  for (const FunctionSource& s : sources) {
    if (s.runtime == "go") {
      RD_TRY(std::string zip, Zip(with_included(s.name, s.files)));
      out.push_back({s.name, "go", std::move(zip)});
      continue;
    }
    const std::string file = s.name + ".mjs";
    std::optional<std::string> code;
    if (bundled != nullptr) {
      RD_TRY(code, bundled->ReadFile(file, kMaxFunctionZipBytes * 4));
    }
    if (!code) {
      return Unprocessable("invalid_function", "esbuild wrote no bundle for function " + s.name);
    }
    RD_TRY(std::string zip, Zip(with_included(s.name, {{file, std::move(*code)}})));
    out.push_back({s.name, "js", std::move(zip)});
  }
  return out;
}

std::string_view FunctionConfigScript() {
  // Strings or arrays of strings; anything else is passed on for the server to refuse.
  return R"js(
const [dir, ...names] = process.argv.slice(1);
const list = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
process.on('unhandledRejection', () => {});
const out = {};
for (const name of names) {
  try {
    const m = await import(`${dir}/${name}.mjs`);
    const c = m.config;
    if (c === undefined || c === null || typeof c !== 'object') continue;
    const methods = list(c.method).map((x) => (typeof x === 'string' ? x.toUpperCase() : x));
    const entry = {
      routes: list(c.path).map((pattern) => ({ pattern, methods, prefer_static: c.preferStatic === true })),
      excluded_routes: list(c.excludedPath).map((pattern) => ({ pattern })),
    };
    // A scheduled function's cron expression (checked by the server).
    if (c.schedule !== undefined) entry.schedule = c.schedule;
    if (entry.routes.length > 0 || entry.schedule !== undefined) out[name] = entry;
  } catch (e) {
    console.error(`function ${name}: its config could not be read: ${e && e.message ? e.message : e}`);
  }
}
(await import('node:fs')).writeFileSync(`${dir}/.function-routes.json`, JSON.stringify(out));
process.exit(0);
)js";
}

Status ApplyFunctionConfigs(std::string_view json_text, std::vector<FunctionBundle>& bundles) {
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(json_text, ec);
  if (ec || !doc.is_object()) {
    return Unprocessable("invalid_function_config", "the functions' routes are not a JSON object");
  }
  for (FunctionBundle& b : bundles) {
    const boost::json::value* entry = doc.as_object().if_contains(b.name);
    if (entry == nullptr) continue;
    if (!entry->is_object()) {
      return Unprocessable("invalid_function_config",
                           "the routes of function " + b.name + " are not an object");
    }
    b.config = boost::json::serialize(*entry);
  }
  return {};
}

void ApplyTomlSchedules(const std::map<std::string, std::string>& schedules,
                        std::vector<FunctionBundle>& bundles) {
  for (FunctionBundle& b : bundles) {
    auto it = schedules.find(b.name);
    if (it == schedules.end()) continue;
    boost::json::object config;
    if (!b.config.empty()) {
      boost::system::error_code ec;
      boost::json::value v = boost::json::parse(b.config, ec);
      if (!ec && v.is_object()) config = v.as_object();
    }
    if (!config.contains("schedule")) config["schedule"] = it->second;
    b.config = boost::json::serialize(config);
  }
}

Result<std::vector<FunctionBundle>> BundleFunctions(const fs::path& dir, const std::string& esbuild,
                                                    bool read_configs,
                                                    const IncludedFiles& included) {
  auto tree = sandbox::UntrustedTree::Open(dir.string(), "", "functions folder");
  if (!tree.ok()) return std::vector<FunctionBundle>();
  RD_TRY(std::vector<FunctionSource> sources, FindFunctions(*tree));
  if (!NeedsEsbuild(sources)) return PackageFunctions(sources, nullptr, included);
  if (esbuild.empty()) {
    return Unprocessable("bundling_failed",
                         "esbuild is not installed (scripts/install-deps.sh installs it in "
                         "tools/esbuild; or set REPLIDEPLOY_ESBUILD)");
  }
  char tmpl[] = "/tmp/replideploy-functions-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    return MakeError(ErrorCode::kInternal, "cannot make a folder for the functions' bundles");
  }
  const std::string out_dir = tmpl;
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } cleanup{out_dir};
  core::ProcessSpec spec;
  spec.argv = {esbuild};
  for (std::string& arg : EsbuildArgs(sources, "", out_dir)) spec.argv.push_back(std::move(arg));
  spec.cwd = dir.string();
  spec.merge_stderr = true;
  spec.max_output = 1 << 20;
  RD_TRY(core::ProcessResult ran, core::RunProcess(spec));
  if (!ran.Succeeded()) {
    while (!ran.out.empty() && (ran.out.back() == '\n' || ran.out.back() == ' '))
      ran.out.pop_back();
    return Unprocessable("bundling_failed",
                         ran.exit_code == 127 && ran.out.empty()
                             ? "cannot run esbuild at " + esbuild
                             : "esbuild could not bundle the functions:\n" + ran.out);
  }
  RD_TRY(sandbox::UntrustedTree bundled, sandbox::UntrustedTree::Open(out_dir, "", "bundles"));
  RD_TRY(std::vector<FunctionBundle> bundles, PackageFunctions(sources, &bundled, included));
  if (!read_configs) return bundles;
  core::ProcessSpec node;
  node.argv = {"node", "--input-type=module", "-e", std::string(FunctionConfigScript()), out_dir};
  for (const auto& s : sources) {
    if (s.runtime == "js") node.argv.push_back(s.name);
  }
  node.cwd = dir.string();
  node.merge_stderr = true;
  node.max_output = 1 << 20;
  RD_TRY(core::ProcessResult read, core::RunProcess(node));
  if (!read.Succeeded()) {
    return Unprocessable("bundling_failed",
                         read.exit_code == 127 && read.out.empty()
                             ? std::string("cannot run node to read the functions' config")
                             : "reading the functions' config failed:\n" + read.out);
  }
  if (!read.out.empty()) fmt::print(stderr, "{}", read.out);
  RD_TRY(std::optional<std::string> routes,
         bundled.ReadFile(kFunctionConfigFile, std::size_t{1} << 20));
  if (routes) RD_TRY_STATUS(ApplyFunctionConfigs(*routes, bundles));
  return bundles;
}

std::string FindEsbuild(const std::string& configured) {
  if (!configured.empty()) return configured;
  if (const char* env = std::getenv("REPLIDEPLOY_ESBUILD"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  for (fs::path dir = self.parent_path(); !dir.empty() && dir != dir.root_path();
       dir = dir.parent_path()) {
    const fs::path candidate = dir / "tools/esbuild/node_modules/@esbuild/linux-x64/bin/esbuild";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

}  // namespace replideploy::builder
