#pragma once
/// Test support: a loopback HTTP upstream whose connections follow a script written against the
/// raw socket (answer and keep, close without answering, never answer, ...), counting the
/// connections it accepted. Blocking sockets, a thread per connection; stopped by its destructor.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace tug::net::testing {

class ScriptedUpstream {
 public:
  using Script = std::function<void(int fd, int index)>;

  explicit ScriptedUpstream(Script script) : script_(std::move(script)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] {
      while (true) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        int index = accepted_++;
        std::lock_guard lock(mu_);
        if (stopping_) {
          ::close(c);
          return;
        }
        conns_.push_back(c);
        workers_.emplace_back([this, c, index] { script_(c, index); });
      }
    });
  }

  ~ScriptedUpstream() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      for (int c : conns_) ::shutdown(c, SHUT_RDWR);
    }
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    acceptor_.join();
    for (auto& w : workers_) w.join();
    for (int c : conns_) ::close(c);
  }

  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int accepted() const { return accepted_.load(); }

  /// Reads one request header (requests here have no body); false when the peer closed.
  static bool ReadRequest(int fd, std::string* first_line = nullptr) {
    std::string data;
    char buf[1024];
    while (data.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return false;
      data.append(buf, static_cast<size_t>(n));
    }
    if (first_line != nullptr) *first_line = data.substr(0, data.find("\r\n"));
    return true;
  }

  static void Answer(int fd, const std::string& body, bool keep_alive = true) {
    std::string out = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n" +
                      (keep_alive ? "" : "Connection: close\r\n") + "\r\n" + body;
    ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
  }

 private:
  Script script_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::mutex mu_;
  bool stopping_ = false;             // guarded by mu_
  std::vector<int> conns_;            // guarded by mu_
  std::vector<std::thread> workers_;  // guarded by mu_ until the acceptor is joined
};

}  // namespace tug::net::testing
