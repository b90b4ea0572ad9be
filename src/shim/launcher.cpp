#include "shim/launcher.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "engine/local/state_files.h"
#include "shim/shim.h"

namespace tug::engine::local {

namespace {

// The attempt directory (at most PATH_MAX) and up to two fds.
constexpr size_t kMaxRequest = 4096;
constexpr int kMaxFds = 2;

void WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

void ReapChildren() {
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

// The child: becomes the attempt's shim. Never returns.
[[noreturn]] void BecomeShim(const char* argv0, std::string dir, int handshake, int lock,
                             const sigset_t& original_mask) {
  ::sigprocmask(SIG_SETMASK, &original_mask, nullptr);
  ::setsid();
  ::setenv(kHandshakeFdEnv, std::to_string(handshake).c_str(), 1);
  if (lock >= 0) {
    ::setenv(kLockFdEnv, std::to_string(lock).c_str(), 1);
  } else {
    ::unsetenv(kLockFdEnv);
  }
  WriteAll(handshake, fmt::format("pid {}\n", ::getpid()));
  std::string arg0 = argv0;
  char* args[] = {arg0.data(), dir.data(), nullptr};
  int rc = RunShim(2, args);
  std::fflush(nullptr);
  // Not exit(): the launcher's atexit handlers and static destructors are not the shim's.
  ::_exit(rc);
}

}  // namespace

int RunLauncher(int argc, char** argv) {
  const int sock = TakeFdFromEnv(kLauncherFdEnv);
  if (sock < 0) {
    std::fprintf(stderr, "usage: %s --launcher (started by the local engine of tug server)\n",
                 argc > 0 ? argv[0] : "tug-shim");
    return 2;
  }
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigset_t original{};
  ::sigprocmask(SIG_BLOCK, &chld, &original);
  const int sfd = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) {
    std::fprintf(stderr, "tug-shim launcher: signalfd: %s\n", std::strerror(errno));
    return 1;
  }
  for (;;) {
    pollfd fds[2] = {{sock, POLLIN, 0}, {sfd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "tug-shim launcher: poll: %s\n", std::strerror(errno));
      return 1;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      signalfd_siginfo info{};
      while (::read(sfd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      }
      ReapChildren();
    }
    if (fds[0].revents == 0) continue;
    char data[kMaxRequest];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
    iovec iov{data, sizeof data};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;  // the engine closed its end (or the socket failed): done
    int received[kMaxFds] = {-1, -1};
    int count = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t j = 0; j < k; ++j) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(c) + j * sizeof(int), sizeof fd);
        if (count < kMaxFds) {
          received[count++] = fd;
        } else {
          ::close(fd);
        }
      }
    }
    const int handshake = received[0];
    const int lock = received[1];
    auto close_received = [&] {
      for (int fd : received) {
        if (fd >= 0) ::close(fd);
      }
    };
    if (handshake < 0) {
      std::fprintf(stderr, "tug-shim launcher: a request without a handshake pipe, ignored\n");
      close_received();
      continue;
    }
    if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
      WriteAll(handshake, "error internal the launch request was truncated\n");
      close_received();
      continue;
    }
    std::string dir(data, static_cast<size_t>(n));
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(sock);
      ::close(sfd);
      BecomeShim(argv[0], std::move(dir), handshake, lock, original);
    }
    if (pid < 0) {
      WriteAll(handshake, fmt::format("error internal the shim launcher could not fork: {}\n",
                                      std::strerror(errno)));
    }
    close_received();
  }
  ReapChildren();
  return 0;
}

}  // namespace tug::engine::local
