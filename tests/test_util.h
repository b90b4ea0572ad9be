#pragma once
// Helpers for end-to-end tests: run the real `tug` binary as a server and as a CLI.
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace tug::testing {

struct CommandResult {
  int exit_code = -1;  // 128+signal when killed
  std::string out;
  std::string err;
};

/// Runs argv to completion (killed after `timeout`), capturing stdout and stderr.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::seconds timeout = std::chrono::seconds(120),
                         const std::string& stdin_text = "");

/// The tug binary under test ($TUG_BINARY, set by CTest).
std::string TugBinary();

/// A temporary directory removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

/// A `tug server` child process on a free loopback port with its own data dir.
class ServerProcess {
 public:
  /// `listen`: the --listen address (port 0: a free one, read from the server's first line).
  explicit ServerProcess(std::string data_dir, std::vector<std::string> extra_args = {},
                         std::string listen = "127.0.0.1:0");
  ~ServerProcess();
  /// Starts and waits for the "listening on" line; returns false (with the log) on failure.
  bool Start(std::string* error);
  /// SIGKILL, no cleanup: a crash.
  void Kill();
  /// SIGTERM and wait.
  void Terminate();
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string Log() const;
  /// `tug --server URL args...`
  CommandResult Tug(std::vector<std::string> args,
                    std::chrono::seconds timeout = std::chrono::seconds(120)) const;

 private:
  std::string data_dir_;
  std::vector<std::string> extra_args_;
  std::string listen_;
  pid_t pid_ = -1;
  int port_ = 0;
};

/// Polls fn every 50 ms until it returns true or `timeout` passes.
bool WaitFor(const std::function<bool()>& fn,
             std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace tug::testing
