#include "net/http_client.h"

#include <array>
#include <atomic>
#include <cctype>
#include <optional>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

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
using detail::FormatTimeout;
using detail::Reason;

constexpr std::string_view kDefaultPeer = "the tug server";

bool IsHttpError(const error_code& ec) {
  return ec.category() == make_error_code(http::error::bad_target).category();
}

}  // namespace

struct HttpClient::Impl {
  std::string base;         // "http://127.0.0.1:8080"
  std::string host;         // what to resolve: "127.0.0.1", "::1", "tug.example"
  std::string port;         // "8080"
  std::string host_header;  // "127.0.0.1:8080", "[::1]:8080"
  std::string prefix;       // a path prefix of the base URL, without the trailing '/'
  bool https = false;
  std::string verify_name;  // the name checked against the server's certificate (https)
  HttpClientOptions options;
  std::atomic<bool> cancelled{false};
  // Declared before the streams: they refer to both and must be destroyed first.
  asio::io_context io;
  std::optional<ssl::context> tls_ctx;
  detail::TcpOrTls conn;
  beast::flat_buffer buffer;

  // Runs queued operations to completion. Each operation sets its own error code.
  void Run() {
    io.restart();
    io.run();
  }

  void Disconnect() {
    if (conn.connected()) {
      // No TLS close_notify: it could block on a peer that stopped reading, and nothing here
      // depends on a clean TLS shutdown (the responses are length-delimited).
      error_code ignored;
      conn.Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
      conn.Lowest().close();
      conn.tls.reset();
      conn.plain.reset();
    }
    buffer.consume(buffer.size());
  }

  bool DefaultPeer() const { return options.peer == kDefaultPeer; }

  Error Cancelled() const {
    return Error(Code::kCancelled,
                 fmt::format("the request to {} at {} was cancelled", options.peer, base));
  }

  Error Unreachable(const error_code& ec) const {
    if (DefaultPeer()) {
      return Unavailable(fmt::format("cannot reach the tug server at {} ({}); start it with `tug "
                                     "server` or point --server/TUG_SERVER at it",
                                     base, Reason(ec)),
                         ec.message());
    }
    return Unavailable(fmt::format("cannot reach {} at {} ({}); check the address and that it is "
                                   "running",
                                   options.peer, base, Reason(ec)),
                       ec.message());
  }

  Error TimedOut(std::chrono::milliseconds t) const {
    return Error(Code::kDeadlineExceeded,
                 fmt::format("{} at {} did not answer within {}; check that it is healthy, or "
                             "retry",
                             options.peer, base, FormatTimeout(t)));
  }

  Error Failed(const error_code& ec) const {
    if (cancelled.load()) return Cancelled();
    if (ec == beast::error::timeout) return TimedOut(options.timeout);
    if (IsHttpError(ec) && ec != http::error::end_of_stream && ec != http::error::partial_message) {
      if (DefaultPeer()) {
        return Unavailable(fmt::format("the server at {} sent a malformed HTTP response ({}); "
                                       "check that --server points at a tug server",
                                       base, Reason(ec)),
                           ec.message());
      }
      return Unavailable(fmt::format("{} at {} sent a malformed HTTP response ({}); check the "
                                     "server address",
                                     options.peer, base, Reason(ec)),
                         ec.message());
    }
    return Unavailable(
        fmt::format("lost the connection to {} at {} ({}); retry", options.peer, base, Reason(ec)),
        ec.message());
  }

  Error HandshakeFailed(const error_code& ec) {
    long verify = conn.tls ? SSL_get_verify_result(conn.tls->native_handle()) : X509_V_OK;
    if (verify != X509_V_OK) {
      return Unavailable(
          fmt::format("cannot verify the TLS certificate of {} at {} ({}, checked as '{}'); "
                      "check the CA certificate and the server name",
                      options.peer, base, X509_verify_cert_error_string(verify), verify_name),
          ec.message());
    }
    return Unavailable(fmt::format("TLS handshake with {} at {} failed ({}); check that it "
                                   "speaks https and accepts this client",
                                   options.peer, base, Reason(ec)),
                       ec.message());
  }

  [[nodiscard]] Status Connect() {
    Disconnect();
    if (cancelled.load()) return Cancelled();
    error_code ec;
    tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(host, port, ec);
    if (ec) return Unreachable(ec);
    if (https) {
      conn.tls.emplace(io, *tls_ctx);
    } else {
      conn.plain.emplace(io);
    }
    conn.Lowest().expires_after(options.timeout);
    conn.Lowest().async_connect(endpoints, [&ec](error_code e, const tcp::endpoint&) { ec = e; });
    Run();
    if (ec || cancelled.load()) {
      Disconnect();
      if (cancelled.load()) return Cancelled();
      if (ec == beast::error::timeout) {
        return Error(Code::kDeadlineExceeded,
                     fmt::format("cannot reach {} at {} (no answer within {}); check the address "
                                 "and that it is running",
                                 options.peer, base, FormatTimeout(options.timeout)));
      }
      return Unreachable(ec);
    }
    error_code ignored;
    conn.Lowest().socket().set_option(tcp::no_delay(true), ignored);
    if (https) RETURN_IF_ERROR(Handshake());
    return OkStatus();
  }

  [[nodiscard]] Status Handshake() {
    detail::PrepareHandshake(conn.tls->native_handle(), verify_name,
                             options.tls.insecure_skip_verify);
    error_code ec;
    conn.Lowest().expires_after(options.timeout);
    conn.tls->async_handshake(ssl::stream_base::client, [&ec](error_code e) { ec = e; });
    Run();
    if (!ec && !cancelled.load()) return OkStatus();
    Error err = cancelled.load()              ? Cancelled()
                : ec == beast::error::timeout ? TimedOut(options.timeout)
                                              : HandshakeFailed(ec);
    Disconnect();
    return err;
  }

  http::request<http::string_body> MakeRequest(const std::string& method, const std::string& target,
                                               const std::string& body,
                                               const std::string& content_type,
                                               const HeaderList& headers) const {
    http::request<http::string_body> req;
    http::verb verb = http::string_to_verb(method);
    if (verb == http::verb::unknown) {
      req.method_string(method);
    } else {
      req.method(verb);
    }
    req.target(prefix + target);
    req.version(11);
    req.set(http::field::host, host_header);
    req.set(http::field::user_agent, options.user_agent);
    if (options.headers) {
      for (const auto& [name, value] : options.headers()) req.set(name, value);
    }
    for (const auto& [name, value] : headers) req.set(name, value);
    if (!body.empty() || verb == http::verb::post || verb == http::verb::put ||
        verb == http::verb::patch) {
      req.set(http::field::content_type, content_type);
      req.body() = body;
    }
    req.keep_alive(true);
    req.prepare_payload();
    return req;
  }

  error_code Write(http::request<http::string_body>& req) {
    error_code ec;
    conn.Lowest().expires_after(options.timeout);
    conn.Visit(
        [&](auto& s) { http::async_write(s, req, [&ec](error_code e, size_t) { ec = e; }); });
    Run();
    return ec;
  }

  // A kept connection the server closed while idle shows up as a failed write, or as the
  // connection ending before the first byte of the response; it is then safe to send again
  // because the server never saw the request.
  static bool LooksStale(const error_code& ec, bool got_some) {
    if (got_some) return false;
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == asio::error::connection_aborted || ec == ssl::error::stream_truncated;
  }
};

std::string ClientResponse::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;
HttpClient::~HttpClient() = default;

Result<HttpClient> HttpClient::Create(const std::string& base_url,
                                      std::chrono::milliseconds timeout) {
  HttpClientOptions options;
  options.timeout = timeout;
  return Create(base_url, std::move(options));
}

Result<HttpClient> HttpClient::Create(const std::string& base_url, HttpClientOptions options) {
  ASSIGN_OR_RETURN(detail::BaseUrl url, detail::ParseBaseUrl(base_url, options.tls));
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  if (impl->options.timeout.count() <= 0) impl->options.timeout = std::chrono::milliseconds(30000);
  if (impl->options.peer.empty()) impl->options.peer = kDefaultPeer;
  impl->https = url.https;
  impl->host = std::move(url.host);
  impl->port = std::move(url.port);
  impl->host_header = std::move(url.host_header);
  impl->prefix = std::move(url.prefix);
  impl->base = std::move(url.base);
  if (impl->https) {
    impl->verify_name = std::move(url.verify_name);
    impl->tls_ctx.emplace(ssl::context::tls_client);
    RETURN_IF_ERROR(detail::ConfigureTls(*impl->tls_ctx, impl->options.tls));
  }
  return HttpClient(std::move(impl));
}

const std::string& HttpClient::base_url() const { return impl_->base; }

void HttpClient::Disconnect() { impl_->Disconnect(); }

void HttpClient::Cancel() {
  Impl* s = impl_.get();
  s->cancelled.store(true);
  // The socket belongs to the thread running the io_context: close it there. post() is
  // thread-safe and wakes a run() blocked in the reactor; if no call is running, the handler
  // waits for the next Run(), which the sticky flag turns into kCancelled anyway.
  asio::post(s->io, [s] {
    if (s->conn.connected()) s->conn.Lowest().close();
  });
}

bool HttpClient::cancelled() const { return impl_->cancelled.load(); }

Result<ClientResponse> HttpClient::Send(const std::string& method, const std::string& target,
                                        const std::string& body, const std::string& content_type,
                                        const HeaderList& headers) {
  Impl& s = *impl_;
  if (s.cancelled.load()) return s.Cancelled();
  auto req = s.MakeRequest(method, target, body, content_type, headers);
  for (int attempt = 0;; ++attempt) {
    bool reused = s.conn.connected();
    if (!reused) RETURN_IF_ERROR(s.Connect());
    error_code ec = s.Write(req);
    http::response_parser<http::string_body> parser;
    if (s.options.max_response_bytes > 0) {
      parser.body_limit(static_cast<uint64_t>(s.options.max_response_bytes));
    } else {
      parser.body_limit(boost::none);
    }
    if (req.method() == http::verb::head) parser.skip(true);
    if (!ec) {
      s.conn.Visit([&](auto& stream) {
        http::async_read(stream, s.buffer, parser, [&ec](error_code e, size_t) { ec = e; });
      });
      s.Run();
    }
    if (!ec && s.cancelled.load()) ec = asio::error::operation_aborted;
    if (!ec) {
      auto& msg = parser.get();
      ClientResponse out;
      out.status = static_cast<int>(msg.result_int());
      out.content_type = std::string(msg[http::field::content_type]);
      out.body = std::move(msg.body());
      for (const auto& field : msg) {
        std::string name(field.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out.headers.emplace_back(std::move(name), std::string(field.value()));
      }
      if (!msg.keep_alive()) s.Disconnect();
      return out;
    }
    bool got_some = parser.got_some();
    s.Disconnect();
    if (reused && attempt == 0 && !s.cancelled.load() && Impl::LooksStale(ec, got_some)) continue;
    if (ec == http::error::body_limit && !s.cancelled.load()) {
      return ResourceExhausted(
          fmt::format("the response from {} at {} is larger than {}; ask for less", s.options.peer,
                      s.base, HumanBytes(static_cast<uint64_t>(s.options.max_response_bytes))));
    }
    return s.Failed(ec);
  }
}

Status HttpClient::Stream(const std::string& method, const std::string& target,
                          const std::function<bool(std::string_view)>& on_data, int* status_out,
                          const HeaderList& headers, std::chrono::milliseconds body_timeout) {
  Impl& s = *impl_;
  if (s.cancelled.load()) return s.Cancelled();
  auto req = s.MakeRequest(method, target, "", "", headers);
  std::optional<http::response_parser<http::buffer_body>> parser;
  for (int attempt = 0;; ++attempt) {
    bool reused = s.conn.connected();
    if (!reused) RETURN_IF_ERROR(s.Connect());
    error_code ec = s.Write(req);
    parser.emplace();
    parser->body_limit(boost::none);
    if (req.method() == http::verb::head) parser->skip(true);
    if (!ec) {
      s.conn.Visit([&](auto& stream) {
        http::async_read_header(stream, s.buffer, *parser, [&ec](error_code e, size_t) { ec = e; });
      });
      s.Run();
    }
    if (!ec && s.cancelled.load()) ec = asio::error::operation_aborted;
    if (!ec) break;
    bool got_some = parser->got_some();
    s.Disconnect();
    if (reused && attempt == 0 && !s.cancelled.load() && Impl::LooksStale(ec, got_some)) continue;
    return s.Failed(ec);
  }
  if (status_out != nullptr) *status_out = static_cast<int>(parser->get().result_int());
  // A followed log may stay quiet for a long time; only the header had to arrive in time.
  if (body_timeout.count() > 0) {
    s.conn.Lowest().expires_after(body_timeout);
  } else {
    s.conn.Lowest().expires_never();
  }
  std::array<char, 16 * 1024> chunk{};
  while (!parser->is_done()) {
    auto& body = parser->get().body();
    body.data = chunk.data();
    body.size = chunk.size();
    error_code ec;
    s.conn.Visit([&](auto& stream) {
      http::async_read_some(stream, s.buffer, *parser, [&ec](error_code e, size_t) { ec = e; });
    });
    s.Run();
    if (ec == http::error::need_buffer) ec = {};
    if (!ec && s.cancelled.load()) ec = asio::error::operation_aborted;
    if (ec) {
      s.Disconnect();
      if (ec == beast::error::timeout && !s.cancelled.load()) return s.TimedOut(body_timeout);
      return s.Failed(ec);
    }
    size_t n = chunk.size() - body.size;
    if (n > 0 && !on_data(std::string_view(chunk.data(), n))) {
      s.Disconnect();  // the rest of the body is unread: the connection cannot be reused
      return OkStatus();
    }
  }
  if (!parser->get().keep_alive()) s.Disconnect();
  return OkStatus();
}

}  // namespace tug::net
