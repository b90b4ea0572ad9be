#pragma once
/// Internal to src/net: one server connection. Includes Asio/Beast; never include it outside
/// src/net.
///
/// A Session is one async chain: read a request → run the handler → write the response (or the
/// stream's chunks) → read the next one. Only that chain touches the socket, the parser and the
/// buffers, so no strand is needed. A second, lazy chain (the watchdog timer) enforces the
/// timeouts: the main chain only stores a deadline (an atomic), and the watchdog shuts the
/// socket down at the OS level when the deadline passes, which makes the pending operation of
/// the main chain fail. close_mu_ orders that shutdown against the main chain closing the fd.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/http_server.h"

namespace tug::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

class Session;

/// Where replies given later through a net::Deferred go. A Deferred may outlive the server (a
/// writer thread or an upstream pool still holds it at Stop), so the closure it holds neither
/// owns its session nor touches the io_context directly: the gate owns the sessions that wait,
/// and the server closes it (dropping them while their io_context still exists) before it
/// destroys the io_context. Replies that come later are dropped.
struct ReplyGate {
  std::mutex mu;
  bool open = true;                                                // guarded by mu
  std::unordered_map<Session*, std::shared_ptr<Session>> waiting;  // guarded by mu
};

/// What every session of one server shares; read-only while the server runs (the gate is
/// replaced at each Start, and guards itself).
struct ServerContext {
  ServerOptions options;
  Router router;
  CompletionHook hook;
  std::shared_ptr<ReplyGate> gate;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const ServerContext& context);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start();

 private:
  // Reading.
  void ReadHeader();
  void OnHeader(beast::error_code ec);
  void ReadBody();
  void OnBody(beast::error_code ec);
  void OnReadError(beast::error_code ec);

  // Handling and writing.
  void Dispatch();
  void FillRequest();
  void ReplyError(const Error& error, int status);
  void WriteResponse();
  void OnWritten(beast::error_code ec);
  void Complete();
  void Finish(bool ok);

  // Streaming (http_stream.cpp).
  void PollStream();
  void WriteChunk(std::string data, bool done);
  void OnChunkWritten(beast::error_code ec);
  bool PeerAlive() const;
  void EndStream(bool ok);
  void SubscribeStream();
  void Wake();

  // Closing and timeouts.
  void Close();
  void LingerClose();
  void Linger();
  void SetDeadline(Clock::duration timeout);
  void ClearDeadline();
  void ArmWatchdog(Clock::time_point at);
  void OnWatchdog();

  tcp::socket socket_;
  const ServerContext& context_;
  const int fd_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;

  Request request_;
  Response response_;
  std::string route_;
  std::string head_;        // status line and headers of the response being written
  std::string chunk_head_;  // "<hex size>\r\n" of the chunk being written
  std::string chunk_;
  std::string chunk_tail_;
  Clock::time_point started_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_only_ = false;
  bool stream_done_ = false;
  bool completed_ = false;  // the hook ran for the current request
  size_t linger_bytes_ = 0;

  std::shared_ptr<StreamSource> stream_;
  Clock::duration stream_interval_{};  // between polls of an idle stream
  // A push source (StreamSource::Subscribe) wakes the chain from other threads by cancelling
  // the timer; wake_mu_ orders that against the chain arming it.
  std::mutex wake_mu_;
  bool wake_pending_ = false;        // guarded by wake_mu_
  asio::steady_timer stream_timer_;  // guarded by wake_mu_

  asio::steady_timer watchdog_;
  Clock::duration watchdog_tick_;
  std::atomic<int64_t> deadline_ns_;  // Clock epoch nanoseconds; INT64_MAX = none
  std::mutex close_mu_;               // guards closed_ and the fd against the watchdog
  bool closed_ = false;
  std::atomic<bool> timed_out_{false};
};

}  // namespace tug::net::detail
