// The `replideploy` command line: serve, migrate, version. Returns the process exit code.
#pragma once

namespace replideploy::cli {

int Main(int argc, char** argv);

}  // namespace replideploy::cli
