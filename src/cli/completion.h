#pragma once
/// `tug completion bash|zsh|fish`: a completion script generated from the parsed command tree
/// (subcommands at every depth, their options and the global ones), so it lists what the binary
/// that prints it accepts. Completes subcommand names and option names; an option's value (a file,
/// a run id) falls back to the shell's default (file names).
#include <string>
#include <string_view>

namespace CLI {
class App;
}

namespace tug::cli {

/// The script for `shell` ("bash", "zsh" or "fish"; anything else: bash).
std::string CompletionScript(const CLI::App& app, std::string_view shell);

}  // namespace tug::cli
