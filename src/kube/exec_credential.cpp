#include "kube/exec_credential.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

extern char** environ;  // NOLINT(readability-identifier-naming): POSIX

namespace tug::kube {
namespace {

Error Unauthenticated(std::string message, std::string detail = {}) {
  return Error(Code::kUnauthenticated, std::move(message), std::move(detail));
}

std::string FirstLine(std::string_view text) {
  size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return "";
  text.remove_prefix(start);
  text = text.substr(0, text.find('\n'));
  while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
  return std::string(text.substr(0, 300));
}

bool Digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// The pipes' read ends, closed whatever happens.
struct Fd {
  int fd = -1;
  Fd() = default;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Close(); }
  void Close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

}  // namespace

Result<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view s) {
  auto bad = [&] {
    return InvalidArgument(fmt::format("'{}' is not an RFC 3339 time", s.substr(0, 64)));
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!Digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, month) ||
      s[7] != '-' || !Digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') ||
      !Digits(s, 11, 2, hour) || s[13] != ':' || !Digits(s, 14, 2, minute) || s[16] != ':' ||
      !Digits(s, 17, 2, second)) {
    return bad();
  }
  size_t pos = 19;
  std::chrono::microseconds frac{0};
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t scale = 100000;
    size_t first = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac += std::chrono::microseconds((s[pos] - '0') * scale);
      scale /= 10;
      ++pos;
    }
    if (pos == first) return bad();
  }
  int offset_minutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = 0, om = 0;
    if (!Digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, om)) {
      return bad();
    }
    offset_minutes = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size() || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
      minute > 59 || second > 60) {
    return bad();
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  time_t t = timegm(&tm);
  return std::chrono::system_clock::from_time_t(t) - std::chrono::minutes(offset_minutes) +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(frac);
}

Result<ExecCredential> ParseExecCredential(std::string_view text, const std::string& command) {
  auto bad = [&](std::string_view why) {
    return Unauthenticated(fmt::format(
        "exec credential plugin '{}' printed {}; it must print an ExecCredential", command, why));
  };
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return bad("no JSON object");
  const auto& o = v.get_object();
  const auto* kind = o.if_contains("kind");
  if (kind == nullptr || !kind->is_string() || kind->get_string() != "ExecCredential") {
    return bad("an object whose kind is not ExecCredential");
  }
  const auto* status = o.if_contains("status");
  if (status == nullptr || !status->is_object()) return bad("an ExecCredential without status");
  const auto& st = status->get_object();
  auto field = [&](std::string_view key) -> std::string {
    const auto* f = st.if_contains(key);
    return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string();
  };
  ExecCredential out;
  out.token = field("token");
  out.client_cert_pem = field("clientCertificateData");
  out.client_key_pem = field("clientKeyData");
  if (out.client_cert_pem.empty() != out.client_key_pem.empty()) {
    return bad("only one of status.clientCertificateData and status.clientKeyData");
  }
  if (out.token.empty() && out.client_cert_pem.empty()) {
    return bad("neither status.token nor status.clientCertificateData");
  }
  if (std::string ts = field("expirationTimestamp"); !ts.empty()) {
    auto t = ParseRfc3339(ts);
    if (!t.ok())
      return bad(fmt::format("a bad status.expirationTimestamp ({})", t.error().message()));
    out.expiry = *t;
  }
  return out;
}

Result<ExecCredential> RunExecPlugin(const ClusterConfig::Exec& exec,
                                     std::chrono::milliseconds timeout) {
  const std::string& command = exec.command;
  if (command.empty()) return Unauthenticated("the exec credential plugin has no command");
  boost::json::object info;
  info["apiVersion"] =
      exec.api_version.empty() ? "client.authentication.k8s.io/v1beta1" : exec.api_version;
  info["kind"] = "ExecCredential";
  info["spec"] = boost::json::object{{"interactive", false}};

  // The environment: ours, then the kubeconfig's env entries, then KUBERNETES_EXEC_INFO.
  std::vector<std::string> env;
  auto overridden = [&](std::string_view entry) {
    std::string_view name = entry.substr(0, entry.find('='));
    return name == "KUBERNETES_EXEC_INFO" || exec.env.count(std::string(name)) > 0;
  };
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (!overridden(*e)) env.emplace_back(*e);
  }
  for (const auto& [name, value] : exec.env) env.push_back(name + '=' + value);
  env.push_back("KUBERNETES_EXEC_INFO=" + boost::json::serialize(info));
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args_store{command};
  args_store.insert(args_store.end(), exec.args.begin(), exec.args.end());
  std::vector<char*> argv;
  argv.reserve(args_store.size() + 1);
  for (auto& a : args_store) argv.push_back(a.data());
  argv.push_back(nullptr);

  // Close-on-exec pipes, so a plugin spawned concurrently on another thread does not inherit
  // these ends (it would keep our reads from seeing EOF).
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return ErrnoError("exec plugin: pipe", errno);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    int err = errno;
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return ErrnoError("exec plugin: pipe", err);
  }
  Fd out_r, err_r;
  out_r.fd = out_pipe[0];
  err_r.fd = err_pipe[0];
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  pid_t pid = -1;
  int rc = command.find('/') != std::string::npos
               ? posix_spawn(&pid, command.c_str(), &actions, nullptr, argv.data(), envp.data())
               : posix_spawnp(&pid, command.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    return Unauthenticated(
        fmt::format("cannot run the exec credential plugin '{}' ({}); install it or fix "
                    "users[].user.exec.command in the kubeconfig",
                    command, std::strerror(rc)));
  }

  std::string out;
  std::string err;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  while (out_r.fd >= 0 || err_r.fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2] = {{out_r.fd, POLLIN, 0}, {err_r.fd, POLLIN, 0}};
    int n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    Fd* ends[2] = {&out_r, &err_r};
    std::string* sinks[2] = {&out, &err};
    for (int i = 0; i < 2; ++i) {
      if (ends[i]->fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t got = ::read(ends[i]->fd, buf, sizeof(buf));
      if (got > 0) {
        if (sinks[i]->size() < (1 << 20)) sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ends[i]->Close();
      }
    }
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    std::string limit = timeout.count() % 1000 == 0 ? fmt::format("{}s", timeout.count() / 1000)
                                                    : fmt::format("{}ms", timeout.count());
    return Unauthenticated(
        fmt::format("exec credential plugin '{}' did not finish within {}", command, limit));
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    std::string how = WIFEXITED(wstatus) ? fmt::format("exit status {}", WEXITSTATUS(wstatus))
                                         : fmt::format("signal {}", WTERMSIG(wstatus));
    std::string line = FirstLine(err);
    return Unauthenticated(fmt::format("exec credential plugin '{}' failed ({}){}{}", command, how,
                                       line.empty() ? "" : ": ", line),
                           err.substr(0, 4096));
  }
  return ParseExecCredential(out, command);
}

}  // namespace tug::kube
