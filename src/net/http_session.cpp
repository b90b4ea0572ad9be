#include "net/http_session.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

#include <fmt/format.h>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>

#include "core/log.h"

namespace tug::net::detail {
namespace {

constexpr uint32_t kHeaderLimit = 16 * 1024;
constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::max();
// After an error reply we keep reading (and dropping) what the client still sends for a little
// while, so that closing with unread data does not make the kernel send a RST that destroys the
// reply before the client reads it.
constexpr size_t kLingerMaxBytes = 4 << 20;
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerReadBytes = size_t{16} << 10;
// A connection keeps its read buffer between requests unless one big body grew it past this.
constexpr size_t kKeepBufferBytes = size_t{64} << 10;

int64_t ToNanos(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

bool IsHttpError(const beast::error_code& ec) {
  return ec.category() == make_error_code(http::error::bad_target).category();
}

std::string RemoteString(const tcp::socket& socket) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  auto addr = ep.address();
  if (addr.is_v6()) return fmt::format("[{}]:{}", addr.to_string(), ep.port());
  return fmt::format("{}:{}", addr.to_string(), ep.port());
}

bool HasCrLf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

bool IEquals(std::string_view name, std::string_view lower) {
  return name.size() == lower.size() &&
         std::equal(name.begin(), name.end(), lower.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// Headers whose framing meaning the server owns.
bool IsReservedHeader(std::string_view name) {
  return IEquals(name, "content-length") || IEquals(name, "transfer-encoding") ||
         IEquals(name, "connection") || IEquals(name, "server");
}

// RFC 9110: these never carry content, not even a Content-Length of 0 for 1xx and 204.
bool StatusHasNoBody(int status) { return status < 200 || status == 204 || status == 304; }

}  // namespace

Session::Session(tcp::socket socket, const ServerContext& context)
    : socket_(std::move(socket)),
      context_(context),
      fd_(socket_.native_handle()),
      stream_timer_(socket_.get_executor()),
      watchdog_(socket_.get_executor()),
      deadline_ns_(kNoDeadline) {
  auto shortest =
      std::min<Clock::duration>(context_.options.idle_timeout, context_.options.request_timeout);
  watchdog_tick_ = std::clamp<Clock::duration>(shortest / 4, std::chrono::milliseconds(50),
                                               std::chrono::seconds(5));
}

Session::~Session() { Close(); }

void Session::Start() {
  beast::error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
  request_.remote = RemoteString(socket_);
  SetDeadline(context_.options.idle_timeout);
  ArmWatchdog(Clock::now() + watchdog_tick_);
  ReadHeader();
}

// ---- reading ----

void Session::ReadHeader() {
  if (buffer_.size() == 0 && buffer_.capacity() > kKeepBufferBytes) buffer_.shrink_to_fit();
  completed_ = false;
  parser_.emplace();
  parser_->header_limit(kHeaderLimit);
  parser_->body_limit(static_cast<uint64_t>(context_.options.max_body_bytes));
  SetDeadline(context_.options.idle_timeout);
  http::async_read_header(
      socket_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
}

void Session::OnHeader(beast::error_code ec) {
  if (ec) return OnReadError(ec);
  if (parser_->is_done()) return Dispatch();
  auto& msg = parser_->get();
  auto expect = msg[http::field::expect];
  if (beast::iequals(expect, "100-continue")) {
    // The client waits for this before it sends the body (curl does for large ones).
    SetDeadline(context_.options.request_timeout);
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = shared_from_this()](beast::error_code wec, size_t) {
                        if (wec) return self->Close();
                        self->ReadBody();
                      });
    return;
  }
  ReadBody();
}

void Session::ReadBody() {
  SetDeadline(context_.options.request_timeout);
  http::async_read(socket_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
}

void Session::OnBody(beast::error_code ec) {
  if (ec) return OnReadError(ec);
  Dispatch();
}

void Session::OnReadError(beast::error_code ec) {
  if (timed_out_.load(std::memory_order_relaxed)) return Close();
  if (ec == http::error::body_limit) {
    FillRequest();
    return ReplyError(ResourceExhausted(fmt::format(
                          "request body exceeds {}; send less",
                          HumanBytes(static_cast<uint64_t>(context_.options.max_body_bytes)))),
                      413);
  }
  if (ec == http::error::header_limit) {
    FillRequest();
    return ReplyError(ResourceExhausted(fmt::format("request header exceeds {}; send less",
                                                    HumanBytes(kHeaderLimit))),
                      431);
  }
  // end_of_stream: the client closed between requests. partial_message: it went away
  // mid-request. Neither deserves an answer; socket errors cannot get one.
  if (ec == http::error::end_of_stream || ec == http::error::partial_message || !IsHttpError(ec)) {
    return Close();
  }
  FillRequest();
  ReplyError(InvalidArgument(
                 fmt::format("malformed HTTP request ({}); send valid HTTP/1.1", ec.message())),
             400);
}

// ---- handling ----

void Session::FillRequest() {
  auto& msg = parser_->get();
  request_.method.assign(msg.method_string().data(), msg.method_string().size());
  request_.target.assign(msg.target().data(), msg.target().size());
  request_.path.clear();
  request_.query.clear();
  request_.params.clear();
  request_.headers.clear();
  request_.body.clear();
  std::string name;
  for (const auto& field : msg) {
    auto raw = field.name_string();
    name.assign(raw.data(), raw.size());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto value = field.value();
    auto [it, inserted] = request_.headers.try_emplace(name, value.data(), value.size());
    if (!inserted) {
      it->second += ", ";
      it->second.append(value.data(), value.size());
    }
  }
  version_ = msg.version();
  head_only_ = msg.method() == http::verb::head;
}

void Session::Dispatch() {
  started_ = Clock::now();
  ClearDeadline();  // handlers are not interrupted; their own calls carry their timeouts
  FillRequest();
  auto& msg = parser_->get();
  request_.body = std::move(msg.body());
  keep_alive_ = msg.keep_alive();
  response_ = net::Dispatch(context_.router, request_, route_);
  if (response_.deferred) {
    // The reply comes from another thread; bring it back to this connection's executor. The
    // session is idle (no read is pending) until then, and the server's reply gate keeps it
    // alive.
    std::shared_ptr<Deferred> deferred = std::move(response_.deferred);
    std::shared_ptr<ReplyGate> gate = context_.gate;
    {
      std::lock_guard lock(gate->mu);
      gate->waiting.emplace(this, shared_from_this());
    }
    deferred->OnReply([gate, key = this](Response r) {
      std::lock_guard lock(gate->mu);
      if (!gate->open) return;  // the server stopped; the session is gone
      auto it = gate->waiting.find(key);
      if (it == gate->waiting.end()) return;
      std::shared_ptr<Session> self = std::move(it->second);
      gate->waiting.erase(it);
      // Posted under the gate's lock, so the io_context cannot be torn down meanwhile; a post
      // after its threads stopped is destroyed with it, session and all.
      auto shared = std::make_shared<Response>(std::move(r));
      asio::post(self->socket_.get_executor(), [self, shared] {
        self->response_ = std::move(*shared);
        self->response_.deferred.reset();
        self->WriteResponse();
      });
    });
    return;
  }
  WriteResponse();
}

void Session::ReplyError(const Error& error, int status) {
  started_ = Clock::now();
  route_.clear();
  keep_alive_ = false;
  response_ = ErrorResponse(error);
  response_.status = status;
  WriteResponse();
}

void Session::WriteResponse() {
  Response& r = response_;
  if (r.status < 100 || r.status > 599) {
    log::Error("http handler returned an invalid status",
               {{"route", route_}, {"status", std::to_string(r.status)}});
    r = ErrorResponse(Internal("internal error: the handler returned an invalid status"));
  }
  bool no_body = StatusHasNoBody(r.status);
  if (no_body) {
    r.stream.reset();
    r.body.clear();
  }
  bool streaming = r.stream != nullptr && !head_only_;
  if (streaming && version_ < 11) keep_alive_ = false;  // HTTP/1.0: no chunks, body ends at close
  head_.clear();
  head_ += "HTTP/1.1 ";
  head_ += std::to_string(r.status);
  head_ += ' ';
  auto reason = http::obsolete_reason(http::int_to_status(static_cast<unsigned>(r.status)));
  if (reason == "<unknown-status>") {
    head_ += "Status";
  } else {
    head_.append(reason.data(), reason.size());
  }
  head_ += "\r\nServer: tugboat\r\n";
  bool own_content_type = std::any_of(r.headers.begin(), r.headers.end(), [](const auto& h) {
    return IEquals(h.first, "content-type");
  });
  if (!own_content_type && !r.content_type.empty() && !HasCrLf(r.content_type)) {
    head_ += "Content-Type: ";
    head_ += r.content_type;
    head_ += "\r\n";
  }
  for (const auto& [name, value] : r.headers) {
    if (name.empty() || HasCrLf(name) || HasCrLf(value) || name.find(':') != std::string::npos ||
        IsReservedHeader(name)) {
      continue;
    }
    head_ += name;
    head_ += ": ";
    head_ += value;
    head_ += "\r\n";
  }
  if (r.stream != nullptr) {
    if (version_ >= 11) head_ += "Transfer-Encoding: chunked\r\n";
  } else if (!no_body) {
    head_ += "Content-Length: ";
    head_ += std::to_string(r.body.size());
    head_ += "\r\n";
  }
  if (!keep_alive_) {
    head_ += "Connection: close\r\n";
  } else if (version_ < 11) {
    head_ += "Connection: keep-alive\r\n";
  }
  head_ += "\r\n";

  SetDeadline(context_.options.request_timeout);
  if (streaming) {
    stream_ = std::move(r.stream);
    // A stream may stay open for hours (server-sent events, thousands at once): drop the
    // parsed request (its headers and body live on in request_ for the hook) and the read
    // buffer's spare room unless it holds a pipelined request.
    parser_.reset();
    if (buffer_.size() == 0) buffer_.shrink_to_fit();
    SubscribeStream();
    asio::async_write(socket_, asio::buffer(head_),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->EndStream(false);
                        self->PollStream();
                      });
    return;
  }
  r.stream.reset();
  Complete();
  std::array<asio::const_buffer, 2> buffers{asio::buffer(head_), asio::const_buffer()};
  if (!head_only_) buffers[1] = asio::buffer(r.body);
  asio::async_write(socket_, buffers, [self = shared_from_this()](beast::error_code ec, size_t) {
    self->OnWritten(ec);
  });
}

void Session::OnWritten(beast::error_code ec) { Finish(!ec); }

// Runs before the last byte is handed to the socket, so a client that saw the response can
// rely on the hook having run (a test reading /metrics right after a request, for instance).
void Session::Complete() {
  if (completed_ || !context_.hook) return;
  completed_ = true;
  double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
  try {
    context_.hook(request_, route_, response_.status, seconds);
  } catch (...) {
    log::Error("http completion hook threw", {{"route", route_}});
  }
}

void Session::Finish(bool ok) {
  response_.body.clear();
  response_.headers.clear();
  if (!ok) return Close();
  if (!keep_alive_) {
    // After an error reply the client may still be sending (a body we refused to read).
    if (parser_ && !parser_->is_done()) return LingerClose();
    return Close();
  }
  ReadHeader();
}

// ---- closing and timeouts ----

void Session::Close() {
  std::lock_guard<std::mutex> lock(close_mu_);
  if (closed_) return;
  closed_ = true;
  beast::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

void Session::LingerClose() {
  beast::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return Close();
  buffer_.consume(buffer_.size());
  SetDeadline(std::chrono::duration_cast<Clock::duration>(kLingerTime));
  Linger();
}

void Session::Linger() {
  socket_.async_read_some(buffer_.prepare(kLingerReadBytes),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            self->buffer_.consume(self->buffer_.size());
                            self->linger_bytes_ += n;
                            if (ec || self->linger_bytes_ > kLingerMaxBytes) return self->Close();
                            self->Linger();
                          });
}

void Session::SetDeadline(Clock::duration timeout) {
  deadline_ns_.store(ToNanos(Clock::now() + timeout), std::memory_order_relaxed);
}

void Session::ClearDeadline() { deadline_ns_.store(kNoDeadline, std::memory_order_relaxed); }

// The watchdog runs concurrently with the main chain (no strand), so it touches only the timer
// (which the main chain never touches), the atomics, and the fd under close_mu_. It holds a weak
// reference: an idle watchdog never keeps a finished session alive.
void Session::ArmWatchdog(Clock::time_point at) {
  watchdog_.expires_at(at);
  watchdog_.async_wait([weak = weak_from_this()](beast::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->OnWatchdog();
  });
}

void Session::OnWatchdog() {
  Clock::time_point now = Clock::now();
  int64_t deadline = deadline_ns_.load(std::memory_order_relaxed);
  if (deadline != kNoDeadline && ToNanos(now) >= deadline) {
    std::lock_guard<std::mutex> lock(close_mu_);
    if (closed_) return;
    timed_out_.store(true, std::memory_order_relaxed);
    // An OS-level shutdown is safe from this thread and fails the main chain's pending read or
    // write; the main chain then closes the socket itself.
    ::shutdown(fd_, SHUT_RDWR);
    return;
  }
  Clock::time_point next = now + watchdog_tick_;
  if (deadline != kNoDeadline) {
    next = std::min(next, Clock::time_point(std::chrono::duration_cast<Clock::duration>(
                              std::chrono::nanoseconds(deadline))));
  }
  ArmWatchdog(next);
}

}  // namespace tug::net::detail
