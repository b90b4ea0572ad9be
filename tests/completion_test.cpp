// `tug completion bash|zsh|fish` from the real binary: each script parses in its shell, and the
// bash one completes every subcommand `tug --help` lists, nested ones and options, by calling its
// function the way bash's programmable completion does (COMP_WORDS, COMP_CWORD).
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace tug::testing {
namespace {

bool Have(const std::string& program) {
  return RunCommand({"/bin/sh", "-c", "command -v " + program}).exit_code == 0;
}

class CompletionTest : public ::testing::Test {
 protected:
  std::string Script(const std::string& shell) {
    CommandResult r = RunCommand({TugBinary(), "completion", shell});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return dir_.Write("tug." + shell, r.out);
  }
  // What the bash function offers for the typed words (the last one being completed).
  std::vector<std::string> Complete(const std::string& script, const std::string& words) {
    const std::string cmd = "source '" + script + "'; COMP_WORDS=(" + words +
                            "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _tug; "
                            "printf '%s\\n' \"${COMPREPLY[@]}\"";
    CommandResult r = RunCommand({"bash", "-c", cmd});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> out;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) out.push_back(line);
    }
    return out;
  }
  TempDir dir_;
};

TEST_F(CompletionTest, BashScriptParsesAndCompletesTheCommandTree) {
  const std::string script = Script("bash");
  CommandResult syntax = RunCommand({"bash", "-n", script});
  EXPECT_EQ(syntax.exit_code, 0) << syntax.err;

  using ::testing::Contains;
  using ::testing::ElementsAre;
  EXPECT_THAT(Complete(script, "tug ru"), ElementsAre("run"));
  EXPECT_THAT(Complete(script, "tug token cr"), ElementsAre("create"));
  EXPECT_THAT(Complete(script, "tug run hello --wa"), ElementsAre("--wait"));
  EXPECT_THAT(Complete(script, "tug run hello -"), Contains("--param"));
  EXPECT_THAT(Complete(script, "tug get runs --"), Contains("--server"));  // global, after
  // After an option that takes a value nothing is offered (bash falls back to file names).
  EXPECT_THAT(Complete(script, "tug apply -f ''"), ElementsAre());

  // Every subcommand the binary's help lists completes: the script follows the command tree.
  CommandResult help = RunCommand({TugBinary(), "--help"});
  std::istringstream in(help.out);
  bool in_subcommands = false;
  int listed = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Subcommands:", 0) == 0) {
      in_subcommands = true;
      continue;
    }
    if (!in_subcommands || line.size() < 3 || line[0] != ' ') continue;
    std::istringstream words(line);
    std::string name;
    words >> name;
    EXPECT_THAT(Complete(script, "tug " + name), Contains(name)) << line;
    ++listed;
  }
  EXPECT_GT(listed, 10) << help.out;
}

TEST_F(CompletionTest, ZshScriptParses) {
  if (!Have("zsh")) GTEST_SKIP() << "zsh is not installed (scripts/setup.sh installs it)";
  CommandResult r = RunCommand({"zsh", "-n", Script("zsh")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(CompletionTest, FishScriptParsesAndCompletes) {
  if (!Have("fish")) GTEST_SKIP() << "fish is not installed (scripts/setup.sh installs it)";
  const std::string script = Script("fish");
  CommandResult syntax = RunCommand({"fish", "--no-execute", script});
  EXPECT_EQ(syntax.exit_code, 0) << syntax.err;
  CommandResult r =
      RunCommand({"fish", "-c", "source '" + script + "'; complete -C 'tug token cr'"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("create"));
}

TEST_F(CompletionTest, AnUnknownShellIsAUsageError) {
  CommandResult r = RunCommand({TugBinary(), "completion", "tcsh"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, ::testing::HasSubstr("tcsh"));
}

}  // namespace
}  // namespace tug::testing
