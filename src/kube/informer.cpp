#include <condition_variable>
#include <mutex>
#include <thread>

#include "kube/client.h"

namespace tug::kube {
namespace {

constexpr auto kInitialBackoff = std::chrono::milliseconds(500);
constexpr auto kMaxBackoff = std::chrono::milliseconds(30000);
// Each watch request asks the server to end it after this long; the informer then re-watches
// from the last resourceVersion (client-go picks 5–10 minutes).
constexpr int kWatchTimeoutSeconds = 300;

std::string ResourceVersionOf(const boost::json::value& object) {
  const auto* o = object.if_object();
  const auto* meta = o != nullptr ? o->if_contains("metadata") : nullptr;
  const auto* m = meta != nullptr ? meta->if_object() : nullptr;
  const auto* rv = m != nullptr ? m->if_contains("resourceVersion") : nullptr;
  return rv != nullptr && rv->is_string() ? std::string(rv->get_string()) : std::string();
}

}  // namespace

struct Informer::Impl {
  Impl(Client& c, std::string p, std::map<std::string, std::string> q, Handlers h)
      : client(c), path(std::move(p)), query(std::move(q)), handlers(std::move(h)) {}

  Client& client;
  const std::string path;
  const std::map<std::string, std::string> query;
  const Handlers handlers;
  CancelToken cancel;
  std::atomic<int64_t> lists{0};
  std::atomic<int64_t> watches{0};

  std::mutex mu;
  std::condition_variable cv;
  bool started = false;   // guarded by mu
  bool stopping = false;  // guarded by mu
  std::thread thread;     // started and joined under mu's protocol (Start/Stop)

  bool Stopping() {
    std::lock_guard lock(mu);
    return stopping;
  }

  // Waits `d` unless Stop() comes first; false when stopping.
  bool Sleep(std::chrono::milliseconds d) {
    std::unique_lock lock(mu);
    return !cv.wait_for(lock, d, [this] { return stopping; });
  }

  void Report(const Error& e) const {
    if (handlers.on_error) handlers.on_error(e);
  }

  void Run() {
    std::string rv;
    bool need_list = true;
    auto backoff = kInitialBackoff;
    bool last_was_gone = false;
    // Reports the error and waits out the back-off; false when stopping.
    auto fail = [&](const Error& e) {
      Report(e);
      if (!Sleep(backoff)) return false;
      backoff = std::min(backoff * 2, kMaxBackoff);
      return true;
    };
    while (!Stopping()) {
      if (need_list) {
        auto listed = client.List(path, query);
        if (Stopping()) break;
        if (!listed.ok()) {
          if (!fail(listed.error())) break;
          continue;
        }
        ++lists;
        rv = listed->resource_version;
        need_list = false;
        if (handlers.on_sync) handlers.on_sync(listed->items);
      }
      ++watches;
      bool got_event = false;
      Status st = client.Watch(
          path, query, rv,
          [&](const WatchEvent& event) {
            got_event = true;
            if (std::string v = ResourceVersionOf(event.object); !v.empty()) rv = std::move(v);
            if (event.type != "BOOKMARK" && handlers.on_event) handlers.on_event(event);
            return true;
          },
          &cancel, kWatchTimeoutSeconds);
      if (Stopping()) break;
      if (got_event || st.ok()) backoff = kInitialBackoff;
      if (st.ok()) {
        last_was_gone = false;
        continue;
      }
      if (IsGone(st.error())) {
        // The resourceVersion fell out of the server's window: start over from a fresh list. Two
        // in a row without progress back off, so a confused server is not hammered.
        need_list = true;
        if (last_was_gone && !got_event) {
          if (!fail(st.error())) break;
        } else {
          Report(st.error());
        }
        last_was_gone = true;
        continue;
      }
      last_was_gone = false;
      if (!fail(st.error())) break;
    }
  }
};

Informer::Informer(Client& client, std::string path, std::map<std::string, std::string> query,
                   Handlers handlers)
    : impl_(
          std::make_unique<Impl>(client, std::move(path), std::move(query), std::move(handlers))) {}

Informer::~Informer() { Stop(); }

void Informer::Start() {
  std::lock_guard lock(impl_->mu);
  if (impl_->started || impl_->stopping) return;
  impl_->started = true;
  impl_->thread = std::thread([impl = impl_.get()] { impl->Run(); });
}

void Informer::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->cancel.Cancel();  // unblocks a watch waiting for events
  if (impl_->thread.joinable()) impl_->thread.join();
}

int64_t Informer::lists() const { return impl_->lists.load(); }
int64_t Informer::watches() const { return impl_->watches.load(); }

}  // namespace tug::kube
