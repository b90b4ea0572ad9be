#include "kube/client.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "kube/api_error.h"
#include "kube/exec_credential.h"
#include "kube/limiter.h"
#include "kube/util.h"
#include "kube/watch_decoder.h"
#include "net/http_client.h"

namespace tug::kube {
namespace {

constexpr std::string_view kPeer = "the Kubernetes API server";
constexpr size_t kMaxErrorBody = size_t{64} * 1024;
// client-go refreshes an exec credential this long before it expires.
constexpr auto kExpiryMargin = std::chrono::seconds(30);

// The identity a request uses: the bearer token, and the client certificate new connections
// present. `generation` changes when an exec plugin hands out a different certificate, which
// retires the pooled connections made with the old one.
struct Auth {
  std::string bearer;
  std::string cert_pem;
  std::string key_pem;
  uint64_t generation = 0;
};

struct Pooled {
  net::HttpClient http;
  uint64_t generation = 0;
};

struct FileStamp {
  int64_t mtime_ns = -1;
  int64_t size = -1;
  uint64_t inode = 0;
  bool operator==(const FileStamp&) const = default;
};

char Sep(const std::string& path) { return path.find('?') == std::string::npos ? '?' : '&'; }

}  // namespace

// ---- CancelToken ----

struct CancelToken::State {
  std::mutex mu;
  int next_id = 0;
  std::map<int, std::function<void()>> fns;  // guarded by mu
};

CancelToken::CancelToken() : state_(std::make_shared<State>()) {}
CancelToken::~CancelToken() = default;

void CancelToken::Cancel() {
  if (cancelled_.exchange(true)) return;
  // The callbacks run under the lock, so once Remove() returns its callback is not running and
  // will not run: the caller may then destroy what the callback points at.
  std::lock_guard lock(state_->mu);
  for (auto& entry : state_->fns) entry.second();
  state_->fns.clear();
}

int CancelToken::OnCancel(std::function<void()> fn) {
  {
    std::lock_guard lock(state_->mu);
    if (!cancelled_.load()) {
      int id = ++state_->next_id;
      state_->fns.emplace(id, std::move(fn));
      return id;
    }
  }
  fn();
  return 0;
}

void CancelToken::Remove(int id) {
  std::lock_guard lock(state_->mu);
  state_->fns.erase(id);
}

// ---- Client ----

struct Client::Impl {
  Impl(ClusterConfig c, ClientOptions o)
      : config(std::move(c)), options(std::move(o)), limiter(options.qps, options.burst) {}

  ClusterConfig config;
  ClientOptions options;
  TokenBucket limiter;
  std::atomic<int64_t> requests{0};

  std::mutex pool_mu;
  std::vector<Pooled> idle;  // guarded by pool_mu

  // Guards the credential cache. Held while an exec plugin runs, so concurrent calls wait for
  // one run instead of starting one each.
  std::mutex cred_mu;
  std::optional<ExecCredential> exec_cred;                 // guarded by cred_mu
  std::chrono::system_clock::time_point exec_valid_until;  // guarded by cred_mu
  std::string exec_cert;                                   // guarded by cred_mu
  std::string exec_key;                                    // guarded by cred_mu
  std::string file_token;                                  // guarded by cred_mu
  FileStamp file_stamp;                                    // guarded by cred_mu
  std::atomic<uint64_t> generation{0};

  bool Refreshable() const { return config.exec.has_value() || !config.token_file.empty(); }

  Error Cancelled(const std::string& path) const {
    return Error(Code::kCancelled,
                 fmt::format("the request to {} for {} was cancelled", kPeer, path));
  }

  void Throttle() {
    auto wait = limiter.Take();
    if (wait.count() > 0) std::this_thread::sleep_for(wait);
  }

  [[nodiscard]] Status ReadTokenFile(bool force) {
    struct stat st {};
    if (::stat(config.token_file.c_str(), &st) != 0) {
      int err = errno;
      if (!config.token.empty()) {
        file_token = config.token;
        return OkStatus();
      }
      return Error(Code::kUnauthenticated, fmt::format("cannot read the token file '{}' ({})",
                                                       config.token_file, std::strerror(err)));
    }
    FileStamp stamp{static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                    static_cast<int64_t>(st.st_size), static_cast<uint64_t>(st.st_ino)};
    if (!force && stamp == file_stamp) return OkStatus();
    auto text = ReadFileText(config.token_file);
    if (!text.ok()) {
      return Error(Code::kUnauthenticated,
                   fmt::format("the token file: {}", text.error().message()));
    }
    file_token = Trim(*text);
    file_stamp = stamp;
    return OkStatus();
  }

  [[nodiscard]] Result<Auth> Credentials(bool refresh) {
    std::lock_guard lock(cred_mu);
    Auth auth;
    if (config.exec) {
      auto now = std::chrono::system_clock::now();
      if (refresh || !exec_cred || now >= exec_valid_until) {
        exec_cred.reset();
        ASSIGN_OR_RETURN(ExecCredential cred, RunExecPlugin(*config.exec));
        if (cred.client_cert_pem != exec_cert || cred.client_key_pem != exec_key) {
          exec_cert = cred.client_cert_pem;
          exec_key = cred.client_key_pem;
          ++generation;
        }
        exec_valid_until = cred.expiry ? *cred.expiry - kExpiryMargin
                                       : std::chrono::system_clock::time_point::max();
        exec_cred = std::move(cred);
      }
      auth.bearer = exec_cred->token;
    } else if (!config.token_file.empty()) {
      RETURN_IF_ERROR(ReadTokenFile(refresh));
      auth.bearer = file_token;
    } else {
      auth.bearer = config.token;
    }
    auth.cert_pem = exec_cert.empty() ? config.client_cert_pem : exec_cert;
    auth.key_pem = exec_cert.empty() ? config.client_key_pem : exec_key;
    auth.generation = generation.load();
    return auth;
  }

  [[nodiscard]] Result<Pooled> NewConnection(const Auth& auth) const {
    net::HttpClientOptions o;
    o.timeout = options.timeout;
    o.user_agent = options.user_agent;
    o.peer = std::string(kPeer);
    o.tls.ca_pem = config.ca_pem;
    o.tls.insecure_skip_verify = config.insecure_skip_tls_verify;
    o.tls.server_name = config.tls_server_name;
    o.tls.client_cert_pem = auth.cert_pem;
    o.tls.client_key_pem = auth.key_pem;
    auto http = net::HttpClient::Create(config.server, std::move(o));
    if (!http.ok()) {
      return Error(http.error().code(), fmt::format("Kubernetes API server {}: {}", config.server,
                                                    http.error().message()));
    }
    return Pooled{std::move(http).value(), auth.generation};
  }

  [[nodiscard]] Result<Pooled> Acquire(const Auth& auth) {
    {
      std::lock_guard lock(pool_mu);
      while (!idle.empty()) {
        Pooled p = std::move(idle.back());
        idle.pop_back();
        if (p.generation == auth.generation) return p;
      }
    }
    return NewConnection(auth);
  }

  void Release(Pooled p) {
    if (p.http.cancelled() || p.generation != generation.load()) return;
    std::lock_guard lock(pool_mu);
    if (static_cast<int>(idle.size()) < options.pool_size) idle.push_back(std::move(p));
  }

  static net::HeaderList Headers(const Auth& auth) {
    net::HeaderList h{{"Accept", "application/json, */*"}};
    if (!auth.bearer.empty()) h.emplace_back("Authorization", "Bearer " + auth.bearer);
    return h;
  }

  // One request (two after a 401 with refreshable credentials). Non-2xx statuses come back as
  // responses; the caller maps them.
  [[nodiscard]] Result<net::ClientResponse> Request(const std::string& method,
                                                    const std::string& path,
                                                    const std::string& body,
                                                    const std::string& content_type) {
    Throttle();
    for (int attempt = 0;; ++attempt) {
      ASSIGN_OR_RETURN(Auth auth, Credentials(attempt > 0));
      ASSIGN_OR_RETURN(Pooled conn, Acquire(auth));
      ++requests;
      auto r = conn.http.Send(method, path, body, content_type, Headers(auth));
      Release(std::move(conn));
      if (!r.ok()) return std::move(r).take_error();
      // An exec credential or a projected token may have been rotated under us: fetch a fresh
      // one and try once more, as client-go does.
      if (r->status == 401 && attempt == 0 && Refreshable()) continue;
      return r;
    }
  }

  [[nodiscard]] Result<boost::json::value> Json(const std::string& method, const std::string& path,
                                                const std::string& body,
                                                const std::string& content_type) {
    ASSIGN_OR_RETURN(net::ClientResponse r, Request(method, path, body, content_type));
    if (r.status < 200 || r.status >= 300) return ErrorFromResponse(r.status, r.body);
    if (r.body.empty()) return boost::json::value(nullptr);
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(r.body, ec);
    if (ec) {
      return Unavailable(
          fmt::format("{} sent a response to {} {} that is not JSON ({}); check the server "
                      "address",
                      kPeer, method, path, ec.message()),
          fmt::format("HTTP {}", r.status));
    }
    return v;
  }

  // A streamed GET: the limiter counts it once; `cancel` closes its connection.
  [[nodiscard]] Status StreamGet(const std::string& path,
                                 const std::function<bool(std::string_view)>& on_data,
                                 CancelToken* cancel, std::chrono::milliseconds body_timeout) {
    if (cancel != nullptr && cancel->cancelled()) return Cancelled(path);
    Throttle();
    for (int attempt = 0;; ++attempt) {
      ASSIGN_OR_RETURN(Auth auth, Credentials(attempt > 0));
      ASSIGN_OR_RETURN(Pooled conn, Acquire(auth));
      ++requests;
      net::HttpClient* http = &conn.http;
      int cancel_id = cancel != nullptr ? cancel->OnCancel([http] { http->Cancel(); }) : 0;
      int status = 0;
      std::string error_body;
      Status st = conn.http.Stream(
          "GET", path,
          [&](std::string_view data) {
            if (status >= 200 && status < 300) return on_data(data);
            if (error_body.size() < kMaxErrorBody) error_body.append(data);
            return true;
          },
          &status, Headers(auth), body_timeout);
      // After Remove() the callback cannot run any more, so `conn` may go back to the pool.
      if (cancel != nullptr) cancel->Remove(cancel_id);
      Release(std::move(conn));
      if (!st.ok()) {
        if (cancel != nullptr && cancel->cancelled()) return Cancelled(path);
        return st;
      }
      if (status == 401 && attempt == 0 && Refreshable()) continue;
      if (status < 200 || status >= 300) return ErrorFromResponse(status, error_body);
      return OkStatus();
    }
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::Create(ClusterConfig config, ClientOptions options) {
  if (config.server.empty()) {
    return InvalidArgument("no Kubernetes API server address; set the cluster's server");
  }
  if (config.namespace_.empty()) config.namespace_ = "default";
  options.pool_size = std::max(options.pool_size, 0);
  auto impl = std::make_unique<Impl>(std::move(config), std::move(options));
  // Checks the URL and the TLS material now (no I/O); the client becomes the first idle
  // connection. An exec plugin's certificate is only known after it ran, so not checked here.
  Auth identity;
  identity.cert_pem = impl->config.client_cert_pem;
  identity.key_pem = impl->config.client_key_pem;
  ASSIGN_OR_RETURN(Pooled first, impl->NewConnection(identity));
  impl->Release(std::move(first));
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

const ClusterConfig& Client::config() const { return impl_->config; }

Result<net::HttpClientOptions> Client::HttpOptions() {
  ASSIGN_OR_RETURN(Auth auth, impl_->Credentials(false));
  net::HttpClientOptions o;
  o.timeout = impl_->options.timeout;
  o.user_agent = impl_->options.user_agent;
  o.peer = std::string(kPeer);
  o.tls.ca_pem = impl_->config.ca_pem;
  o.tls.insecure_skip_verify = impl_->config.insecure_skip_tls_verify;
  o.tls.server_name = impl_->config.tls_server_name;
  o.tls.client_cert_pem = auth.cert_pem;
  o.tls.client_key_pem = auth.key_pem;
  if (!auth.bearer.empty()) {
    o.headers = [bearer = auth.bearer] {
      return net::HeaderList{{"Authorization", "Bearer " + bearer}};
    };
  }
  return o;
}

Result<boost::json::value> Client::Get(const std::string& path) {
  return impl_->Json("GET", path, "", "");
}

Result<boost::json::value> Client::Post(const std::string& path, const boost::json::value& body) {
  return impl_->Json("POST", path, boost::json::serialize(body), "application/json");
}

Result<boost::json::value> Client::Put(const std::string& path, const boost::json::value& body) {
  return impl_->Json("PUT", path, boost::json::serialize(body), "application/json");
}

Result<boost::json::value> Client::Patch(const std::string& path, const boost::json::value& body,
                                         const std::string& content_type) {
  return impl_->Json("PATCH", path, boost::json::serialize(body), content_type);
}

Result<boost::json::value> Client::Delete(const std::string& path, int64_t grace_period_seconds) {
  std::string target = path;
  if (grace_period_seconds >= 0) {
    target += fmt::format("{}gracePeriodSeconds={}", Sep(path), grace_period_seconds);
  }
  return impl_->Json("DELETE", target, "", "");
}

Result<std::string> Client::GetText(const std::string& path) {
  ASSIGN_OR_RETURN(net::ClientResponse r, impl_->Request("GET", path, "", ""));
  if (r.status < 200 || r.status >= 300) return ErrorFromResponse(r.status, r.body);
  return std::move(r.body);
}

Result<ListResult> Client::List(const std::string& path,
                                const std::map<std::string, std::string>& query, int page_limit) {
  std::string base = path;
  char sep = Sep(path);
  for (const auto& [k, v] : query) {
    base += sep + Escape(k) + "=" + Escape(v);
    sep = '&';
  }
  ListResult out;
  std::string next;
  while (true) {
    std::string target = base;
    char s = sep;
    if (page_limit > 0) {
      target += fmt::format("{}limit={}", s, page_limit);
      s = '&';
    }
    if (!next.empty()) target += s + std::string("continue=") + Escape(next);
    ASSIGN_OR_RETURN(boost::json::value page, Get(target));
    const auto* obj = page.if_object();
    const auto* items = obj != nullptr ? obj->if_contains("items") : nullptr;
    if (obj == nullptr || (items != nullptr && !items->is_array() && !items->is_null())) {
      return Unavailable(
          fmt::format("{} answered GET {} with something that is not a list", kPeer, target));
    }
    if (items != nullptr && items->is_array()) {
      for (const auto& item : items->get_array()) out.items.push_back(item);
    }
    next.clear();
    if (const auto* meta = obj->if_contains("metadata"); meta != nullptr && meta->is_object()) {
      const auto& m = meta->get_object();
      if (const auto* rv = m.if_contains("resourceVersion"); rv != nullptr && rv->is_string()) {
        out.resource_version = std::string(rv->get_string());
      }
      if (const auto* c = m.if_contains("continue"); c != nullptr && c->is_string()) {
        next = std::string(c->get_string());
      }
    }
    if (next.empty()) break;
  }
  return out;
}

Status Client::Watch(const std::string& path, const std::map<std::string, std::string>& query,
                     const std::string& resource_version,
                     const std::function<bool(const WatchEvent&)>& on_event, CancelToken* cancel,
                     int timeout_seconds) {
  std::string target = path + Sep(path) + "watch=1&allowWatchBookmarks=true";
  if (!resource_version.empty()) target += "&resourceVersion=" + Escape(resource_version);
  if (timeout_seconds > 0) target += fmt::format("&timeoutSeconds={}", timeout_seconds);
  for (const auto& [k, v] : query) target += "&" + Escape(k) + "=" + Escape(v);
  // The server ends the stream after timeoutSeconds; a connection silent for much longer than
  // that is dead (a partitioned peer sends no RST).
  std::chrono::milliseconds body_timeout{0};
  if (timeout_seconds > 0) body_timeout = std::chrono::seconds(timeout_seconds + 30);
  WatchDecoder decoder;
  std::optional<Error> failure;
  bool stopped = false;
  Status st = impl_->StreamGet(
      target,
      [&](std::string_view data) {
        auto more = decoder.Feed(data, on_event);
        if (!more.ok()) {
          failure = std::move(more).take_error();
          return false;
        }
        stopped = !*more;
        return *more;
      },
      cancel, body_timeout);
  if (failure) return std::move(*failure);
  if (!st.ok()) return st;
  if (stopped) return OkStatus();
  auto last = decoder.Finish(on_event);
  if (!last.ok()) return std::move(last).take_error();
  return OkStatus();
}

Status Client::Stream(const std::string& path, const std::function<bool(std::string_view)>& on_data,
                      CancelToken* cancel) {
  return impl_->StreamGet(path, on_data, cancel, std::chrono::milliseconds(0));
}

Client::Stats Client::stats() const {
  Stats s;
  s.requests = impl_->requests.load();
  s.throttled = impl_->limiter.throttled();
  s.throttle_wait = impl_->limiter.total_wait();
  return s;
}

std::string Escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    }
  }
  return out;
}

}  // namespace tug::kube
