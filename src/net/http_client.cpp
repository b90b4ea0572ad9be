#include "net/http_client.h"

#include <array>
#include <cctype>
#include <optional>

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>

namespace tug::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

std::string Reason(const error_code& ec) {
  std::string m = ec.message();
  if (!m.empty()) m[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(m[0])));
  return m;
}

bool IsHttpError(const error_code& ec) {
  return ec.category() == make_error_code(http::error::bad_target).category();
}

std::string FormatTimeout(std::chrono::milliseconds t) {
  if (t.count() % 1000 == 0) return fmt::format("{}s", t.count() / 1000);
  return fmt::format("{}ms", t.count());
}

}  // namespace

struct HttpClient::Impl {
  std::string base;         // "http://127.0.0.1:8080"
  std::string host;         // what to resolve: "127.0.0.1", "::1", "tug.example"
  std::string port;         // "8080"
  std::string host_header;  // "127.0.0.1:8080", "[::1]:8080"
  std::string prefix;       // a path prefix of the base URL, without the trailing '/'
  std::chrono::milliseconds timeout;
  asio::io_context io{1};
  // Plain TCP today; a TLS stream goes here later, next to it.
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  // Runs queued operations to completion. Each operation sets its own error code.
  void Run() {
    io.restart();
    io.run();
  }

  void Disconnect() {
    if (stream) {
      error_code ignored;
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream->close();
      stream.reset();
    }
    buffer.consume(buffer.size());
  }

  Error Unreachable(const error_code& ec) const {
    return Unavailable(fmt::format("cannot reach the tug server at {} ({}); start it with `tug "
                                   "server` or point --server/TUG_SERVER at it",
                                   base, Reason(ec)),
                       ec.message());
  }

  Error Failed(const error_code& ec) const {
    if (ec == beast::error::timeout) {
      return Error(Code::kDeadlineExceeded,
                   fmt::format("the tug server at {} did not answer within {}; check that it is "
                               "healthy, or retry",
                               base, FormatTimeout(timeout)));
    }
    if (IsHttpError(ec) && ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return Unavailable(fmt::format("the server at {} sent a malformed HTTP response ({}); check "
                                     "that --server points at a tug server",
                                     base, Reason(ec)),
                         ec.message());
    }
    return Unavailable(
        fmt::format("lost the connection to the tug server at {} ({}); retry", base, Reason(ec)),
        ec.message());
  }

  [[nodiscard]] Status Connect() {
    Disconnect();
    error_code ec;
    tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(host, port, ec);
    if (ec) return Unreachable(ec);
    stream.emplace(io);
    stream->expires_after(timeout);
    stream->async_connect(endpoints, [&ec](error_code e, const tcp::endpoint&) { ec = e; });
    Run();
    if (ec == beast::error::timeout) {
      Disconnect();
      return Error(Code::kDeadlineExceeded,
                   fmt::format("cannot reach the tug server at {} (no answer within {}); check "
                               "the address and that it is running",
                               base, FormatTimeout(timeout)));
    }
    if (ec) {
      Disconnect();
      return Unreachable(ec);
    }
    error_code ignored;
    stream->socket().set_option(tcp::no_delay(true), ignored);
    return OkStatus();
  }

  http::request<http::string_body> MakeRequest(const std::string& method, const std::string& target,
                                               const std::string& body,
                                               const std::string& content_type) const {
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
    req.set(http::field::user_agent, "tug");
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
    stream->expires_after(timeout);
    http::async_write(*stream, req, [&ec](error_code e, size_t) { ec = e; });
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
           ec == asio::error::connection_aborted;
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;
HttpClient::~HttpClient() = default;

Result<HttpClient> HttpClient::Create(const std::string& base_url,
                                      std::chrono::milliseconds timeout) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument(
        fmt::format("server URL '{}' {}; use the form http://127.0.0.1:8080", base_url, why));
  };
  auto parsed = boost::urls::parse_absolute_uri(base_url);
  if (!parsed) return bad("is not a URL");
  const auto& url = *parsed;
  std::string scheme(url.scheme());
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme == "https") return InvalidArgument("https is not supported yet");
  if (scheme != "http") return bad("has an unknown scheme");
  if (!url.has_authority() || url.encoded_host().empty()) return bad("has no host");
  if (url.has_userinfo()) return bad("has credentials in it; remove them");
  if (url.has_query() || url.has_fragment()) return bad("has a query or fragment");
  auto impl = std::make_unique<Impl>();
  impl->timeout = timeout.count() > 0 ? timeout : std::chrono::milliseconds(30000);
  impl->host = url.host_address();
  impl->port = url.has_port() ? std::string(url.port()) : "80";
  if (impl->port.empty()) impl->port = "80";
  impl->host_header = std::string(url.encoded_host());
  if (url.has_port()) impl->host_header += ":" + impl->port;
  impl->prefix = std::string(url.encoded_path());
  while (!impl->prefix.empty() && impl->prefix.back() == '/') impl->prefix.pop_back();
  impl->base = base_url;
  while (!impl->base.empty() && impl->base.back() == '/') impl->base.pop_back();
  return HttpClient(std::move(impl));
}

const std::string& HttpClient::base_url() const { return impl_->base; }

void HttpClient::Disconnect() { impl_->Disconnect(); }

Result<ClientResponse> HttpClient::Send(const std::string& method, const std::string& target,
                                        const std::string& body, const std::string& content_type) {
  Impl& s = *impl_;
  auto req = s.MakeRequest(method, target, body, content_type);
  for (int attempt = 0;; ++attempt) {
    bool reused = s.stream.has_value();
    if (!reused) RETURN_IF_ERROR(s.Connect());
    error_code ec = s.Write(req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    if (req.method() == http::verb::head) parser.skip(true);
    if (!ec) {
      http::async_read(*s.stream, s.buffer, parser, [&ec](error_code e, size_t) { ec = e; });
      s.Run();
    }
    if (!ec) {
      auto& msg = parser.get();
      ClientResponse out;
      out.status = static_cast<int>(msg.result_int());
      out.content_type = std::string(msg[http::field::content_type]);
      out.body = std::move(msg.body());
      if (!msg.keep_alive()) s.Disconnect();
      return out;
    }
    bool got_some = parser.got_some();
    s.Disconnect();
    if (reused && attempt == 0 && Impl::LooksStale(ec, got_some)) continue;
    return s.Failed(ec);
  }
}

Status HttpClient::Stream(const std::string& method, const std::string& target,
                          const std::function<bool(std::string_view)>& on_data, int* status_out) {
  Impl& s = *impl_;
  auto req = s.MakeRequest(method, target, "", "");
  std::optional<http::response_parser<http::buffer_body>> parser;
  for (int attempt = 0;; ++attempt) {
    bool reused = s.stream.has_value();
    if (!reused) RETURN_IF_ERROR(s.Connect());
    error_code ec = s.Write(req);
    parser.emplace();
    parser->body_limit(boost::none);
    if (req.method() == http::verb::head) parser->skip(true);
    if (!ec) {
      http::async_read_header(*s.stream, s.buffer, *parser,
                              [&ec](error_code e, size_t) { ec = e; });
      s.Run();
    }
    if (!ec) break;
    bool got_some = parser->got_some();
    s.Disconnect();
    if (reused && attempt == 0 && Impl::LooksStale(ec, got_some)) continue;
    return s.Failed(ec);
  }
  if (status_out != nullptr) *status_out = static_cast<int>(parser->get().result_int());
  // A followed log may stay quiet for a long time; only the header had to arrive in time.
  s.stream->expires_never();
  std::array<char, 16 * 1024> chunk{};
  while (!parser->is_done()) {
    auto& body = parser->get().body();
    body.data = chunk.data();
    body.size = chunk.size();
    error_code ec;
    http::async_read_some(*s.stream, s.buffer, *parser, [&ec](error_code e, size_t) { ec = e; });
    s.Run();
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      s.Disconnect();
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
