#include "cli/commands.hpp"

int main(int argc, char** argv) { return replideploy::cli::Main(argc, argv); }
