// Baseline for the HTTP benchmarks: the smallest reasonable Beast HTTP/1.1 keep-alive server.
// It answers "hello" to every GET (404 otherwise), with the same threading model as src/net
// (one io_context, N threads, one async chain per connection, no strands) and no timeouts.
// --body-bytes N answers N bytes of HTML instead (the stand-in Spark driver of
// bench/proxy_bench.sh).
//   hello_beast --port 8081 --threads 2 [--body-bytes 16384]
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

std::string g_body = "hello";  // set once in main, before any thread starts
std::string g_content_type = "text/plain";

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket) : socket_(std::move(socket)) {}

  void Read() {
    parser_.emplace();
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->Close();
                       self->Respond();
                     });
  }

 private:
  void Respond() {
    const auto& req = parser_->get();
    response_ = {};
    response_.version(req.version());
    response_.keep_alive(req.keep_alive());
    response_.set(http::field::server, "hello_beast");
    response_.set(http::field::content_type, g_content_type);
    if (req.method() == http::verb::get) {
      response_.result(http::status::ok);
      response_.body() = g_body;
    } else {
      response_.result(http::status::not_found);
    }
    response_.prepare_payload();
    http::async_write(socket_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec || !self->response_.keep_alive()) return self->Close();
                        self->Read();
                      });
  }

  void Close() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    socket_.close(ec);
  }

  tcp::socket socket_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
};

void Accept(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(socket))->Read();
    }
    Accept(acceptor);
  });
}

int Usage() {
  std::fprintf(stderr, "usage: hello_beast [--port N] [--threads T] [--body-bytes N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 8081;
  int threads = 2;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = static_cast<unsigned short>(std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--body-bytes") == 0 && i + 1 < argc) {
      // A page like a Spark UI's: markup padded to the size asked for.
      size_t n = static_cast<size_t>(std::max(0, std::atoi(argv[++i])));
      const std::string row = "<tr><td>x</td></tr>";
      const std::string tail = "</body></html>";
      std::string page = "<!DOCTYPE html><html><head><title>Spark Jobs</title></head><body>";
      while (page.size() + tail.size() < n) {
        page += n - page.size() - tail.size() >= row.size() ? row : " ";
      }
      g_body = page + tail;
      g_content_type = "text/html;charset=utf-8";
    } else {
      return Usage();
    }
  }
  asio::io_context io(threads);
  beast::error_code ec;
  tcp::acceptor acceptor(io);
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::fprintf(stderr, "hello_beast: listen 127.0.0.1:%u: %s\n", port, ec.message().c_str());
    return 1;
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io](beast::error_code, int) { io.stop(); });
  Accept(acceptor);
  std::printf("hello_beast listening on http://127.0.0.1:%u (%d threads)\n",
              acceptor.local_endpoint().port(), threads);
  std::fflush(stdout);
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  return 0;
}
