#pragma once
/// A fixed-size pool of PostgreSQL connections, opened lazily, that survives server restarts.
///
/// Lifecycle: connections open on first need (at most `size`); a connection that broke (or that
/// the server closed while it sat idle) is dropped and a new one opened on the next Acquire.
/// While the server is unreachable, a failed connect closes the door for a back-off window
/// (100 ms, doubling to 5 s, reset by a successful connect): Acquire then fails at once with
/// kUnavailable instead of every caller waiting connect_timeout, and only one caller at a time
/// probes the server. Time for the window comes from the injected Clock, so tests never sleep.
/// Destroy the pool after every Lease is returned.
///
/// Threading: Acquire and Lease destruction are safe from any thread; a Lease's connection is
/// its holder's alone. A caller waits while all `size` connections are leased.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "store/postgres/connection.h"

namespace tug::store::pg {

/// The back-off after failed connects: pure, so its table is tested without a server.
class ConnectBackoff {
 public:
  static constexpr Micros kFirst = 100 * kMicrosPerMilli;
  static constexpr Micros kMax = 5 * kMicrosPerSecond;

  /// True when a connect may be tried at `now`.
  bool Open(Micros now) const;
  /// A connect failed at `now`: the next one waits kFirst, then twice as long each time.
  void Failed(Micros now);
  void Succeeded() { delay_ = 0; }
  /// Micros until the next try may start (0 when open).
  Micros Remaining(Micros now) const;
  Micros delay() const { return delay_; }

 private:
  Micros delay_ = 0;
  Micros retry_at_ = 0;
  Micros failed_at_ = 0;
};

class Pool {
 public:
  Pool(ConnectSettings settings, int size, const Clock& clock);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  /// A connection borrowed for one transaction; returned (or dropped, when broken or left inside
  /// a transaction) when the lease ends.
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    Connection& operator*() const { return *conn_; }
    Connection* operator->() const { return conn_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  /// An idle connection, a new one, or (all leased) the next one returned. kUnavailable when the
  /// server cannot be reached, at once while the back-off window is closed.
  [[nodiscard]] Result<Lease> Acquire();

  const ConnectSettings& settings() const { return settings_; }

 private:
  void Return(std::unique_ptr<Connection> conn);
  Error Down(Micros now) const;  // requires mu_

  const ConnectSettings settings_;
  const int size_;
  const Clock& clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
  int open_ = 0;                                   // idle + leased + connecting; guarded by mu_
  bool probing_ = false;      // a connect is under way while the server is down; guarded by mu_
  ConnectBackoff backoff_;    // guarded by mu_
  std::string last_failure_;  // guarded by mu_
};

}  // namespace tug::store::pg
