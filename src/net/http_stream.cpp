// The streaming half of Session: polls a StreamSource and writes what it returns as chunks.
#include <sys/socket.h>

#include <array>
#include <cerrno>

#include <fmt/format.h>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "core/log.h"
#include "net/http_session.h"

namespace tug::net::detail {

namespace {
constexpr size_t kKeepChunkBytes = 4096;
}  // namespace

// One poll per turn of the chain: poll → (write a chunk | wait the interval) → poll ...
// The chain never has two operations pending, so it needs no strand either.
void Session::PollStream() {
  if (!PeerAlive()) return EndStream(false);
  {
    // A wake from here on asks for another poll after this one.
    std::lock_guard lock(wake_mu_);
    wake_pending_ = false;
  }
  StreamPoll poll;
  try {
    poll = stream_->Poll();
  } catch (...) {
    // A root like the dispatcher. The status line is already out, so the only honest signal
    // left is to end the connection without the last chunk.
    log::Error("http stream source threw", {{"route", route_}});
    return EndStream(false);
  }
  if (poll.data.empty() && !poll.done) {
    ClearDeadline();
    std::lock_guard lock(wake_mu_);
    if (wake_pending_) {
      // Woken while polling: poll again, through the executor so the stack does not grow.
      asio::post(socket_.get_executor(), [self = shared_from_this()] { self->PollStream(); });
      return;
    }
    stream_timer_.expires_after(stream_interval_);
    stream_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      // Cancelled: a wake (Stop() destroys pending handlers without running them).
      if (ec && ec != asio::error::operation_aborted) return self->EndStream(false);
      self->PollStream();
    });
    return;
  }
  WriteChunk(std::move(poll.data), poll.done);
}

void Session::SubscribeStream() {
  stream_interval_ = context_.options.stream_poll_interval;
  // The wake goes through the reply gate (see ReplyGate): it may come from any thread after the
  // session or the server is gone, and the gate's lock keeps the io_context alive meanwhile.
  auto wake = [gate = context_.gate, weak = weak_from_this()] {
    std::lock_guard lock(gate->mu);
    if (!gate->open) return;
    if (auto self = weak.lock()) self->Wake();
  };
  std::optional<std::chrono::milliseconds> idle;
  try {
    idle = stream_->Subscribe(std::move(wake));
  } catch (...) {
    log::Error("http stream source threw on subscribe", {{"route", route_}});
  }
  if (idle && idle->count() > 0) stream_interval_ = *idle;
}

// Any thread. Cancelling the timer makes the chain poll now; a wake while the chain is writing
// or polling leaves wake_pending_ set, so the chain polls again instead of waiting.
void Session::Wake() {
  std::lock_guard lock(wake_mu_);
  wake_pending_ = true;
  stream_timer_.cancel();
}

void Session::WriteChunk(std::string data, bool done) {
  chunk_ = std::move(data);
  stream_done_ = done;
  chunk_head_.clear();
  chunk_tail_.clear();
  if (version_ >= 11) {
    // Chunked framing: "<hex size>\r\n<data>\r\n", and "0\r\n\r\n" at the end.
    if (!chunk_.empty()) {
      chunk_head_ = fmt::format("{:x}\r\n", chunk_.size());
      chunk_tail_ = "\r\n";
    }
    if (done) chunk_tail_ += "0\r\n\r\n";
  }
  if (done) Complete();
  SetDeadline(context_.options.request_timeout);
  std::array<asio::const_buffer, 3> buffers{asio::buffer(chunk_head_), asio::buffer(chunk_),
                                            asio::buffer(chunk_tail_)};
  asio::async_write(socket_, buffers, [self = shared_from_this()](beast::error_code ec, size_t) {
    self->OnChunkWritten(ec);
  });
}

void Session::OnChunkWritten(beast::error_code ec) {
  if (ec) return EndStream(false);
  if (stream_done_) return EndStream(true);
  // An idle stream should not keep the room of the largest chunk it ever wrote.
  if (chunk_.capacity() > kKeepChunkBytes) {
    std::string().swap(chunk_);
  } else {
    chunk_.clear();
  }
  // The source had data: it may have more right away (a log being paged through), so ask again
  // now instead of after the interval. Backpressure comes from the write completing.
  PollStream();
}

// While the chain waits between polls nothing reads the socket, so a client that went away is
// noticed here: a peek that returns 0 (orderly close) or a hard error (reset).
bool Session::PeerAlive() const {
  char byte = 0;
  ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return false;
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  return true;
}

void Session::EndStream(bool ok) {
  // Destroying the source here (not when the session dies) releases what it holds (files, store
  // cursors) as soon as the stream ends.
  stream_.reset();
  chunk_.clear();
  chunk_.shrink_to_fit();
  if (!ok || version_ < 11) keep_alive_ = false;
  Complete();
  Finish(ok);
}

}  // namespace tug::net::detail
