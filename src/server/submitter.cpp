#include "server/submitter.h"

#include "core/log.h"
#include "core/thread_name.h"

namespace tug::server {

Submitter::Submitter(store::Store& store, std::function<void(size_t)> on_created, size_t max_batch,
                     size_t max_queue)
    : store_(store),
      on_created_(std::move(on_created)),
      max_batch_(max_batch),
      max_queue_(max_queue) {}

Submitter::~Submitter() { Stop(); }

void Submitter::Start() {
  std::lock_guard lock(mu_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  writer_ = std::thread([this] {
    SetThreadName("tug-submit");
    Loop();
  });
}

void Submitter::Stop() {
  {
    std::lock_guard lock(mu_);
    if (!running_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  writer_.join();
  std::lock_guard lock(mu_);
  running_ = false;
}

bool Submitter::Submit(store::NewRun run, std::shared_ptr<net::Deferred> reply,
                       std::string created_body, std::function<void(const Status&)> done,
                       std::function<net::Response()> on_key_taken) {
  {
    std::lock_guard lock(mu_);
    if (!running_ || stopping_ || queue_.size() >= max_queue_) return false;
    queue_.push_back(Item{std::move(run), std::move(reply), std::move(created_body),
                          std::move(done), std::move(on_key_taken)});
  }
  cv_.notify_one();
  return true;
}

void Submitter::Loop() {
  std::vector<Item> batch;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything accepted has been committed
      if (queue_.size() <= max_batch_) {
        batch.swap(queue_);
      } else {
        auto end = queue_.begin() + static_cast<std::ptrdiff_t>(max_batch_);
        batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(end));
        queue_.erase(queue_.begin(), end);
      }
    }
    Commit(batch);
    batch.clear();
  }
}

void Submitter::Commit(std::vector<Item>& batch) {
  std::vector<store::NewRun> runs;
  runs.reserve(batch.size());
  for (auto& item : batch) runs.push_back(std::move(item.run));
  std::vector<Status> results = store_.CreateRuns(runs);
  size_t created = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const Status& st = i < results.size() ? results[i] : Status(Internal("no result for run"));
    if (batch[i].done) batch[i].done(st);
    if (st.ok()) {
      ++created;
      batch[i].reply->Reply(net::JsonResponse(201, std::move(batch[i].created_body)));
    } else if (batch[i].on_key_taken && store::IsIdempotencyKeyTaken(st.error())) {
      // A concurrent request (here or on another replica) created the key's run first.
      batch[i].reply->Reply(batch[i].on_key_taken());
    } else {
      if (st.error().code() == Code::kInternal || st.error().code() == Code::kUnavailable) {
        log::Error("creating run failed",
                   {{"run", runs[i].run.id}, {"error", st.error().ToString()}});
      }
      batch[i].reply->Reply(net::ErrorResponse(st.error()));
    }
  }
  if (created > 0 && on_created_) on_created_(created);
}

}  // namespace tug::server
