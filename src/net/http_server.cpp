#include "net/http_server.h"

#include <cerrno>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/log.h"
#include "core/thread_name.h"
#include "net/http_session.h"

namespace tug::net {

using detail::asio::ip::tcp;
namespace asio = detail::asio;

struct HttpServer::Impl {
  detail::ServerContext context;
  std::unique_ptr<asio::io_context> io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> accept_retry;
  std::vector<std::thread> threads;
  uint16_t port = 0;

  void Accept();
  void Run();
  void Teardown();
};

namespace {

std::string ListenReason(const boost::system::error_code& ec) {
  switch (ec.value()) {
    case EADDRINUSE:
      return "address in use";
    case EACCES:
      return "permission denied";
    case EADDRNOTAVAIL:
      return "address not available on this machine";
    default:
      break;
  }
  std::string m = ec.message();
  if (!m.empty()) m[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(m[0])));
  return m;
}

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor->async_accept(*io, [this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
    if (ec) {
      // Out of file descriptors and the like: back off instead of spinning on the error.
      log::Warn("http accept failed", {{"error", ec.message()}});
      accept_retry->expires_after(std::chrono::milliseconds(100));
      accept_retry->async_wait([this](boost::system::error_code wec) {
        if (!wec) Accept();
      });
      return;
    }
    std::make_shared<detail::Session>(std::move(socket), context)->Start();
    Accept();
  });
}

void HttpServer::Impl::Run() {
  // The root of every handler chain: sessions catch handler exceptions themselves, so anything
  // arriving here is a bug in src/net; log it and keep serving.
  while (true) {
    try {
      io->run();
      return;
    } catch (const std::exception& e) {
      log::Error("http io thread caught an exception", {{"error", e.what()}});
    } catch (...) {
      log::Error("http io thread caught an unknown exception", {});
    }
  }
}

void HttpServer::Impl::Teardown() {
  if (io) io->stop();
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
  threads.clear();
  if (context.gate) {
    // Sessions waiting for a Deferred's reply close here, while their io_context still exists;
    // a reply that comes later finds the gate closed.
    std::unordered_map<detail::Session*, std::shared_ptr<detail::Session>> waiting;
    {
      std::lock_guard lock(context.gate->mu);
      context.gate->open = false;
      waiting.swap(context.gate->waiting);
    }
    waiting.clear();
    context.gate.reset();
  }
  work.reset();
  acceptor.reset();
  accept_retry.reset();
  // Destroying the io_context destroys the pending handlers and with them every session they
  // own: sockets close and stream sources are released here, on the stopping thread.
  io.reset();
}

HttpServer::HttpServer(ServerOptions options, Router router, CompletionHook hook)
    : impl_(std::make_unique<Impl>()) {
  impl_->context.options = std::move(options);
  impl_->context.router = std::move(router);
  impl_->context.hook = std::move(hook);
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  Impl& s = *impl_;
  if (s.io) return FailedPrecondition("the http server is already started; stop it first");
  const ServerOptions& o = s.context.options;
  int threads = std::max(1, o.threads);
  s.io = std::make_unique<asio::io_context>(threads);
  std::string where = fmt::format("{}:{}", o.host, o.port);

  boost::system::error_code ec;
  tcp::endpoint endpoint;
  auto address = asio::ip::make_address(o.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, o.port);
  } else {
    tcp::resolver resolver(*s.io);
    auto results = resolver.resolve(o.host, std::to_string(o.port), ec);
    if (ec || results.empty()) {
      s.io.reset();
      return InvalidArgument(fmt::format(
          "listen {}: the host does not resolve; use an IP address such as 127.0.0.1", where));
    }
    endpoint = results.begin()->endpoint();
  }

  s.acceptor.emplace(*s.io);
  auto fail = [&](const boost::system::error_code& err) -> Status {
    s.acceptor.reset();
    s.io.reset();
    return Unavailable(
        fmt::format("listen {}: {}; pick another with --listen", where, ListenReason(err)),
        err.message());
  };
  if (s.acceptor->open(endpoint.protocol(), ec); ec) return fail(ec);
  if (s.acceptor->set_option(asio::socket_base::reuse_address(true), ec); ec) return fail(ec);
  if (s.acceptor->bind(endpoint, ec); ec) return fail(ec);
  if (s.acceptor->listen(asio::socket_base::max_listen_connections, ec); ec) return fail(ec);
  s.port = s.acceptor->local_endpoint(ec).port();
  if (ec) return fail(ec);

  s.context.gate = std::make_shared<detail::ReplyGate>();
  s.accept_retry.emplace(*s.io);
  s.work.emplace(s.io->get_executor());
  s.Accept();
  s.threads.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) {
    s.threads.emplace_back([&s] {
      SetThreadName("tug-http");
      s.Run();
    });
  }
  return OkStatus();
}

uint16_t HttpServer::port() const { return impl_->port; }

void HttpServer::Stop() {
  if (impl_ && impl_->io) impl_->Teardown();
}

}  // namespace tug::net
