#include "net/http_pool.h"

#include <sys/socket.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <openssl/x509_vfy.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "core/log.h"
#include "core/thread_name.h"
#include "net/client_common.h"
#include "net/http.h"

namespace tug::net {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;
using detail::FormatTimeout;
using detail::Reason;

bool IsHttpError(const error_code& ec) {
  return ec.category() == make_error_code(http::error::bad_target).category();
}

// One upstream connection. Owned by exactly one exchange while a request is on it, or by its
// endpoint's idle list (then no operation is pending on it).
struct Conn : detail::TcpOrTls {
  beast::flat_buffer buffer;
  Clock::time_point idle_since;

  // No TLS close_notify: it could wait on a peer that stopped reading, and the answers are
  // length-delimited, so nothing depends on a clean TLS shutdown.
  void Close() {
    error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().close();
  }
  // Whether the peer closed (or reset) the connection while it was kept. A peek that does not
  // wait: end of stream or an error means closed. Plain HTTP: bytes nobody asked for also mean
  // the connection cannot be trusted. TLS: the peer may have sent a record (a session ticket),
  // which is fine; a close there shows up as a stale write or read, which is retried.
  bool PeerClosed(bool https) {
    char byte = 0;
    ssize_t n = ::recv(Lowest().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
    return !https;
  }
};

// Where connections go: an origin (scheme, host, port) with one set of TLS settings.
struct Endpoint {
  std::string key;
  std::string host;
  std::string port;
  bool https = false;
  std::string verify_name;
  TlsOptions tls;
  bool cached = false;  // in the pool's map; an uncached endpoint keeps no connections
  std::shared_ptr<ssl::context> tls_ctx;
  std::vector<std::unique_ptr<Conn>> idle;  // guarded by Impl::mu; back = most recently used
};

bool SameTls(const TlsOptions& a, const TlsOptions& b) {
  return a.ca_pem == b.ca_pem && a.insecure_skip_verify == b.insecure_skip_verify &&
         a.server_name == b.server_name && a.client_cert_pem == b.client_cert_pem &&
         a.client_key_pem == b.client_key_pem;
}

}  // namespace

struct HttpPool::Impl {
  HttpPoolOptions options;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;

  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> opened{0};
  std::atomic<uint64_t> reused{0};
  std::atomic<uint64_t> stale_retries{0};
  std::atomic<uint64_t> discarded{0};

  mutable std::mutex mu;
  std::map<std::string, std::shared_ptr<Endpoint>> endpoints;  // guarded by mu
  size_t idle_total = 0;                                       // guarded by mu
  asio::steady_timer sweep{io};                                // armed and read under mu
  bool sweep_armed = false;                                    // guarded by mu

  Result<std::shared_ptr<Endpoint>> EndpointFor(const detail::BaseUrl& url, const TlsOptions& tls);
  std::unique_ptr<Conn> Take(Endpoint& ep);
  void Release(const std::shared_ptr<Endpoint>& ep, std::unique_ptr<Conn> conn);
  void ArmSweep(Clock::time_point at);  // with mu held
  void Sweep();
};

Result<std::shared_ptr<Endpoint>> HttpPool::Impl::EndpointFor(const detail::BaseUrl& url,
                                                              const TlsOptions& tls) {
  std::string key = fmt::format("{}://{}|{}|{}", url.https ? "https" : "http", url.host_header,
                                url.port, url.verify_name);
  {
    std::lock_guard lock(mu);
    auto it = endpoints.find(key);
    if (it != endpoints.end() && (!url.https || SameTls(it->second->tls, tls))) return it->second;
  }
  auto ep = std::make_shared<Endpoint>();
  ep->key = key;
  ep->host = url.host;
  ep->port = url.port;
  ep->https = url.https;
  ep->verify_name = url.verify_name;
  if (url.https) {
    // Loading CA bundles takes a while: done once per endpoint, outside the lock.
    ep->tls = tls;
    ep->tls_ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    RETURN_IF_ERROR(detail::ConfigureTls(*ep->tls_ctx, tls));
  }
  std::lock_guard lock(mu);
  auto [it, inserted] = endpoints.try_emplace(key, ep);
  if (inserted) {
    ep->cached = true;
    return ep;
  }
  // Someone else made it meanwhile: use theirs if it has the same settings. Otherwise this one
  // runs without keeping connections, so a connection never changes credentials.
  if (!url.https || SameTls(it->second->tls, tls)) return it->second;
  return ep;
}

std::unique_ptr<Conn> HttpPool::Impl::Take(Endpoint& ep) {
  std::lock_guard lock(mu);
  Clock::time_point now = Clock::now();
  while (!ep.idle.empty()) {
    std::unique_ptr<Conn> conn = std::move(ep.idle.back());
    ep.idle.pop_back();
    --idle_total;
    if (now - conn->idle_since >= options.idle_timeout) {
      conn->Close();
      continue;
    }
    if (conn->PeerClosed(ep.https)) {
      discarded.fetch_add(1, std::memory_order_relaxed);
      conn->Close();
      continue;
    }
    return conn;
  }
  return nullptr;
}

void HttpPool::Impl::Release(const std::shared_ptr<Endpoint>& ep, std::unique_ptr<Conn> conn) {
  if (!ep->cached) return conn->Close();
  std::lock_guard lock(mu);
  // The sweep drops endpoints without idle connections; one still in use comes back here.
  auto& slot = endpoints[ep->key];
  if (!slot) slot = ep;
  if (slot != ep || slot->idle.size() >= options.max_idle_per_endpoint ||
      idle_total >= options.max_idle) {
    return conn->Close();
  }
  conn->idle_since = Clock::now();
  slot->idle.push_back(std::move(conn));
  ++idle_total;
  if (!sweep_armed) ArmSweep(Clock::now() + options.idle_timeout);
}

void HttpPool::Impl::ArmSweep(Clock::time_point at) {
  sweep_armed = true;
  sweep.expires_at(at);
  sweep.async_wait([this](error_code ec) {
    if (!ec) Sweep();
  });
}

// Closes connections kept longer than idle_timeout (a driver's Jetty closes its end after 30 s;
// ours go first) and forgets endpoints that keep nothing.
void HttpPool::Impl::Sweep() {
  std::lock_guard lock(mu);
  sweep_armed = false;
  Clock::time_point now = Clock::now();
  std::optional<Clock::time_point> next;
  for (auto it = endpoints.begin(); it != endpoints.end();) {
    auto& idle = it->second->idle;
    for (auto c = idle.begin(); c != idle.end();) {
      if (now - (*c)->idle_since >= options.idle_timeout) {
        (*c)->Close();
        c = idle.erase(c);
        --idle_total;
      } else {
        Clock::time_point due = (*c)->idle_since + options.idle_timeout;
        if (!next || due < *next) next = due;
        ++c;
      }
    }
    it = idle.empty() ? endpoints.erase(it) : std::next(it);
  }
  if (next) ArmSweep(*next);
}

namespace {

// One request: take a kept connection or make one, write, read, and give the connection back.
// A single chain of operations on the connection's strand, so it needs no lock of its own.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(HttpPool::Impl& pool, std::shared_ptr<Endpoint> ep, std::string base,
           http::request<http::string_body> req, std::string peer,
           std::chrono::milliseconds timeout, int64_t max_bytes, HttpPool::Callback done)
      : pool_(pool),
        ep_(std::move(ep)),
        base_(std::move(base)),
        req_(std::move(req)),
        peer_(std::move(peer)),
        timeout_(timeout),
        max_bytes_(max_bytes),
        deadline_(Clock::now() + timeout),
        done_(std::move(done)),
        resolver_(pool.io) {}

  void Start() {
    conn_ = pool_.Take(*ep_);
    if (conn_) {
      reused_ = true;
      pool_.reused.fetch_add(1, std::memory_order_relaxed);
      // Onto the connection's strand, where its stream's handlers run.
      return asio::dispatch(conn_->Lowest().get_executor(),
                            [self = shared_from_this()] { self->Write(); });
    }
    Resolve();
  }

 private:
  bool Idempotent() const {
    return req_.method() == http::verb::get || req_.method() == http::verb::head;
  }

  void Resolve() {
    reused_ = false;
    error_code ec;
    auto address = asio::ip::make_address(ep_->host, ec);
    unsigned port = 0;
    const char* end = ep_->port.data() + ep_->port.size();
    auto [at, perr] = std::from_chars(ep_->port.data(), end, port);
    if (!ec && perr == std::errc() && at == end && port <= 65535) {
      // Drivers are reached by pod IP: no resolver round trip.
      return Connect({tcp::endpoint(address, static_cast<uint16_t>(port))});
    }
    // getaddrinfo runs on Asio's resolver thread, not on ours. The deadline is checked once
    // it answers.
    resolver_.async_resolve(
        ep_->host, ep_->port,
        [self = shared_from_this()](error_code rec, const tcp::resolver::results_type& results) {
          if (rec) return self->Finish(self->Unreachable(rec));
          if (Clock::now() >= self->deadline_) return self->Finish(self->ConnectTimedOut());
          std::vector<tcp::endpoint> eps;
          for (const auto& r : results) eps.push_back(r.endpoint());
          self->Connect(eps);
        });
  }

  void Connect(const std::vector<tcp::endpoint>& endpoints) {
    conn_ = std::make_unique<Conn>();
    // Each connection on its own strand: the stream's timeout timer and its operations may
    // otherwise run at once on two pool threads.
    auto strand = asio::make_strand(pool_.io);
    if (ep_->https) {
      conn_->tls.emplace(strand, *ep_->tls_ctx);
    } else {
      conn_->plain.emplace(strand);
    }
    pool_.opened.fetch_add(1, std::memory_order_relaxed);
    conn_->Lowest().expires_at(deadline_);
    conn_->Lowest().async_connect(
        endpoints, [self = shared_from_this()](error_code ec, const tcp::endpoint&) {
          if (ec) {
            self->conn_->Close();
            if (ec == beast::error::timeout) return self->Finish(self->ConnectTimedOut());
            return self->Finish(self->Unreachable(ec));
          }
          error_code ignored;
          self->conn_->Lowest().socket().set_option(tcp::no_delay(true), ignored);
          if (self->ep_->https) return self->Handshake();
          self->Write();
        });
  }

  void Handshake() {
    detail::PrepareHandshake(conn_->tls->native_handle(), ep_->verify_name,
                             ep_->tls.insecure_skip_verify);
    conn_->Lowest().expires_at(deadline_);
    conn_->tls->async_handshake(
        ssl::stream_base::client, [self = shared_from_this()](error_code ec) {
          if (ec) {
            Error err = ec == beast::error::timeout ? self->TimedOut() : self->HandshakeFailed(ec);
            self->conn_->Close();
            return self->Finish(std::move(err));
          }
          self->Write();
        });
  }

  void Write() {
    conn_->Lowest().expires_at(deadline_);
    conn_->Visit([&](auto& stream) {
      http::async_write(stream, req_, [self = shared_from_this()](error_code ec, size_t) {
        if (ec) return self->Failed(ec, false);
        self->Read();
      });
    });
  }

  void Read() {
    parser_.emplace();
    if (max_bytes_ > 0) {
      parser_->body_limit(static_cast<uint64_t>(max_bytes_));
    } else {
      parser_->body_limit(boost::none);
    }
    if (req_.method() == http::verb::head) parser_->skip(true);
    conn_->Visit([&](auto& stream) {
      http::async_read(stream, conn_->buffer, *parser_,
                       [self = shared_from_this()](error_code ec, size_t) {
                         if (ec) return self->Failed(ec, self->parser_->got_some());
                         self->Done();
                       });
    });
  }

  void Done() {
    auto& msg = parser_->get();
    ClientResponse out;
    out.status = static_cast<int>(msg.result_int());
    out.content_type = std::string(msg[http::field::content_type]);
    out.body = std::move(msg.body());
    for (const auto& field : msg) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    // Kept only after a complete exchange the peer wants to keep, with nothing left over.
    if (msg.keep_alive() && conn_->buffer.size() == 0) {
      conn_->Lowest().expires_never();
      pool_.Release(ep_, std::move(conn_));
    } else {
      conn_->Close();
    }
    Finish(std::move(out));
  }

  // A kept connection the peer closed while idle shows up as a failed write, or as the
  // connection ending before the first byte of the answer; the peer never saw the request, so
  // an idempotent one may go again, once, on a new connection.
  static bool LooksStale(const error_code& ec, bool got_some) {
    if (got_some) return false;
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == asio::error::connection_aborted || ec == ssl::error::stream_truncated;
  }

  void Failed(error_code ec, bool got_some) {
    conn_->Close();
    conn_.reset();
    if (reused_ && !retried_ && Idempotent() && LooksStale(ec, got_some) &&
        Clock::now() < deadline_) {
      retried_ = true;
      pool_.stale_retries.fetch_add(1, std::memory_order_relaxed);
      return Resolve();
    }
    if (ec == http::error::body_limit) {
      return Finish(ResourceExhausted(
          fmt::format("the response from {} at {} is larger than {}; ask for less", peer_, base_,
                      HumanBytes(static_cast<uint64_t>(max_bytes_)))));
    }
    if (ec == beast::error::timeout) return Finish(TimedOut());
    if (IsHttpError(ec) && ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return Finish(Unavailable(fmt::format("{} at {} sent a malformed HTTP response ({}); check "
                                            "the server address",
                                            peer_, base_, Reason(ec)),
                                ec.message()));
    }
    Finish(Unavailable(
        fmt::format("lost the connection to {} at {} ({}); retry", peer_, base_, Reason(ec)),
        ec.message()));
  }

  Error Unreachable(const error_code& ec) const {
    return Unavailable(fmt::format("cannot reach {} at {} ({}); check the address and that it is "
                                   "running",
                                   peer_, base_, Reason(ec)),
                       ec.message());
  }

  Error ConnectTimedOut() const {
    return Error(Code::kDeadlineExceeded,
                 fmt::format("cannot reach {} at {} (no answer within {}); check the address "
                             "and that it is running",
                             peer_, base_, FormatTimeout(timeout_)));
  }

  Error TimedOut() const {
    return Error(Code::kDeadlineExceeded,
                 fmt::format("{} at {} did not answer within {}; check that it is healthy, or "
                             "retry",
                             peer_, base_, FormatTimeout(timeout_)));
  }

  Error HandshakeFailed(const error_code& ec) const {
    long verify = SSL_get_verify_result(conn_->tls->native_handle());
    if (verify != X509_V_OK) {
      return Unavailable(
          fmt::format("cannot verify the TLS certificate of {} at {} ({}, checked as '{}'); "
                      "check the CA certificate and the server name",
                      peer_, base_, X509_verify_cert_error_string(verify), ep_->verify_name),
          ec.message());
    }
    return Unavailable(fmt::format("TLS handshake with {} at {} failed ({}); check that it "
                                   "speaks https and accepts this client",
                                   peer_, base_, Reason(ec)),
                       ec.message());
  }

  // The root of the chain: the callback is the caller's code, and an exception from it must
  // not unwind into the pool's threads.
  void Finish(Result<ClientResponse> result) {
    HttpPool::Callback done = std::move(done_);
    try {
      done(std::move(result));
    } catch (...) {
      log::Error("http pool callback threw", {{"peer", peer_}});
    }
  }

  HttpPool::Impl& pool_;
  std::shared_ptr<Endpoint> ep_;
  std::string base_;
  http::request<http::string_body> req_;
  std::string peer_;
  std::chrono::milliseconds timeout_;
  int64_t max_bytes_;
  Clock::time_point deadline_;
  HttpPool::Callback done_;
  tcp::resolver resolver_;
  std::unique_ptr<Conn> conn_;
  std::optional<http::response_parser<http::string_body>> parser_;
  bool reused_ = false;
  bool retried_ = false;
};

}  // namespace

HttpPool::HttpPool(HttpPoolOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.options = options;
  if (s.options.threads < 1) s.options.threads = 1;
  if (s.options.idle_timeout.count() <= 0) s.options.idle_timeout = std::chrono::seconds(15);
  s.work.emplace(s.io.get_executor());
  for (int i = 0; i < s.options.threads; ++i) {
    s.threads.emplace_back([&s] {
      SetThreadName("tug-upstream");
      // The root of every exchange: they catch their callbacks' exceptions themselves, so
      // anything arriving here is a bug in the pool; log it and keep going.
      while (true) {
        try {
          s.io.run();
          return;
        } catch (const std::exception& e) {
          log::Error("http pool thread caught an exception", {{"error", e.what()}});
        } catch (...) {
          log::Error("http pool thread caught an unknown exception", {});
        }
      }
    });
  }
}

HttpPool::~HttpPool() {
  Impl& s = *impl_;
  s.work.reset();
  s.io.stop();
  for (auto& t : s.threads) t.join();
  {
    // Kept connections go while their io_context is still there; exchanges in flight are
    // destroyed with the io_context's pending handlers (impl_'s destructor), callbacks uncalled.
    std::lock_guard lock(s.mu);
    s.endpoints.clear();
    s.idle_total = 0;
  }
}

Status HttpPool::Send(const std::string& base_url, const HttpClientOptions& options,
                      PoolRequest request, Callback done) {
  ASSIGN_OR_RETURN(detail::BaseUrl url, detail::ParseBaseUrl(base_url, options.tls));
  ASSIGN_OR_RETURN(std::shared_ptr<Endpoint> ep, impl_->EndpointFor(url, options.tls));
  http::request<http::string_body> req;
  http::verb verb = http::string_to_verb(request.method);
  if (verb == http::verb::unknown) {
    req.method_string(request.method);
  } else {
    req.method(verb);
  }
  req.target(url.prefix + request.target);
  req.version(11);
  req.set(http::field::host, url.host_header);
  req.set(http::field::user_agent, options.user_agent);
  if (options.headers) {
    for (const auto& [name, value] : options.headers()) req.set(name, value);
  }
  for (const auto& [name, value] : request.headers) req.set(name, value);
  if (!request.body.empty() || verb == http::verb::post || verb == http::verb::put ||
      verb == http::verb::patch) {
    req.set(http::field::content_type, request.content_type);
    req.body() = std::move(request.body);
  }
  req.keep_alive(true);
  req.prepare_payload();
  std::chrono::milliseconds timeout =
      options.timeout.count() > 0 ? options.timeout : std::chrono::milliseconds(30000);
  auto exchange =
      std::make_shared<Exchange>(*impl_, std::move(ep), url.base, std::move(req), options.peer,
                                 timeout, options.max_response_bytes, std::move(done));
  impl_->requests.fetch_add(1, std::memory_order_relaxed);
  // Never from inside Send: the caller may hold locks or be about to publish what the callback
  // needs.
  asio::post(impl_->io, [exchange] { exchange->Start(); });
  return OkStatus();
}

HttpPoolStats HttpPool::stats() const {
  HttpPoolStats out;
  out.requests = impl_->requests.load(std::memory_order_relaxed);
  out.connections_opened = impl_->opened.load(std::memory_order_relaxed);
  out.reused = impl_->reused.load(std::memory_order_relaxed);
  out.stale_retries = impl_->stale_retries.load(std::memory_order_relaxed);
  out.discarded_on_check = impl_->discarded.load(std::memory_order_relaxed);
  std::lock_guard lock(impl_->mu);
  out.idle = impl_->idle_total;
  return out;
}

}  // namespace tug::net
