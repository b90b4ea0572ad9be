#pragma once
/// Batches run submissions. HTTP handlers validate a submission, hand it over with a
/// net::Deferred and return at once; one writer thread commits everything that queued up
/// meanwhile in a single Store::CreateRuns call (one transaction) and replies to each request.
/// Under load a batch holds many runs, so the commit cost is shared and the HTTP threads never
/// wait on the database.
///
/// Lifecycle: Start, then Submit from any thread; Stop commits what is queued, replies, and
/// joins the thread (call it before the HTTP server is destroyed).
/// Threading: Submit is thread-safe; replies are sent from the writer thread.
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/http.h"
#include "store/store.h"

namespace tug::server {

class Submitter {
 public:
  /// on_created(n) runs after each batch that created n > 0 runs (wakes the dispatcher).
  Submitter(store::Store& store, std::function<void(size_t)> on_created, size_t max_batch = 512,
            size_t max_queue = 20000);
  ~Submitter();
  Submitter(const Submitter&) = delete;
  Submitter& operator=(const Submitter&) = delete;

  void Start();
  void Stop();

  /// Queues the run; `reply` gets 201 with `created_body`, or the store's error. Returns false
  /// (and does not queue) when the queue is full or the submitter is stopped. `done` (may be
  /// empty) gets the store's answer on the writer thread, before the reply (the audit log).
  /// `on_key_taken` (may be empty) answers instead when the run's idempotency key was held by
  /// another run (store IsIdempotencyKeyTaken), after the batch committed.
  [[nodiscard]] bool Submit(store::NewRun run, std::shared_ptr<net::Deferred> reply,
                            std::string created_body,
                            std::function<void(const Status&)> done = nullptr,
                            std::function<net::Response()> on_key_taken = nullptr);

 private:
  struct Item {
    store::NewRun run;
    std::shared_ptr<net::Deferred> reply;
    std::string created_body;
    std::function<void(const Status&)> done;
    std::function<net::Response()> on_key_taken;
  };
  void Loop();
  void Commit(std::vector<Item>& batch);

  store::Store& store_;
  std::function<void(size_t)> on_created_;
  const size_t max_batch_;
  const size_t max_queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Item> queue_;  // guarded by mu_
  bool running_ = false;     // guarded by mu_
  bool stopping_ = false;    // guarded by mu_
  std::thread writer_;
};

}  // namespace tug::server
