#include "serve.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "auth/authenticator.h"
#include "aws/credentials.h"
#include "aws/s3_client.h"
#include "control/attempt_diagnosis.h"
#include "control/controller.h"
#include "control/deferred_diagnoser.h"
#include "core/log.h"
#include "core/thread_name.h"
#include "engine/emr/emr_on_eks_engine.h"
#include "engine/kubernetes/kubernetes_engine.h"
#include "engine/local/local_engine.h"
#include "engine/spark/spark_engine.h"
#include "flotilla/flotilla_api.h"
#include "kube/client.h"
#include "logs/fs_log_store.h"
#include "logs/s3_log_store.h"
#include "metrics/promql.h"
#include "metrics/registry.h"
#include "net/http_server.h"
#include "serve_internal.h"
#include "server/api.h"
#include "server/audit_log.h"
#include "server/bootstrap_token.h"
#include "server/config.h"
#include "server/spark_ui_proxy.h"
#include "server/ui_assets.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace tug {
namespace {

using serve_internal::AuthClientConfig;
using serve_internal::EmrAwsClient;
using serve_internal::EmrPlaceholders;
using serve_internal::EmrSettingsFor;
using serve_internal::LoadConfig;
using serve_internal::MakeAuthenticator;
using serve_internal::ShimCommand;
using serve_internal::SparkSettingsFor;

// Every idle event stream holds a socket: 10,000 of them need more descriptors than the usual
// soft limit of 1024, so the soft limit goes up to the hard one (what an unprivileged process
// may do). Says so in the log.
void RaiseOpenFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max) return;
  rlim_t before = lim.rlim_cur;
  lim.rlim_cur = lim.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  log::Info("raised the open-file limit to the hard limit",
            {{"from", std::to_string(before)}, {"to", std::to_string(lim.rlim_cur)}});
}

int Die(const std::string& message) {
  std::cerr << "tug server: " << message << "\n";
  return 1;
}

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

// Every run's TUG_SERVER: advertise_url, else the listen address and `port` (a wildcard host
// becomes this machine's name, which jobs on other hosts can resolve).
std::string ServerUrl(const server::Config& config, const std::string& host_name, uint16_t port) {
  if (!config.advertise_url.empty()) return config.advertise_url;
  std::string host = config.host();
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") host = host_name;
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return fmt::format("http://{}:{}", host, port);
}

}  // namespace

int Serve(const cli::ServerFlags& flags) {
  // Signals are taken by sigwait below; block them before any thread starts so every thread
  // inherits the mask. (Spawned job processes get a clean mask from the engine.)
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto config = LoadConfig(flags);
  if (!config.ok()) return Die(config.error().message());
  if (!log::SetLevel(config->log_level)) return Die("bad log level");
  const Clock& clock = SystemClock::Instance();

  std::error_code ec;
  std::filesystem::create_directories(config->data_dir, ec);
  if (ec)
    return Die(fmt::format("cannot create data dir '{}': {}", config->data_dir, ec.message()));

  std::unique_ptr<store::Store> store;
  std::string store_name;
  if (config->store_driver == "postgres") {
    // Several replicas may share this database; each is one owner of claims and leases.
    store::PostgresOptions po;
    po.url = config->database_url;
    po.pool_size = config->database_pool_size;
    store_name = "postgres " + server::RedactUrl(config->database_url);
    auto opened = store::PostgresStore::Open(po, clock);
    if (!opened.ok()) {
      return Die(fmt::format("opening the store ({}): {}", store_name, opened.error().ToString()));
    }
    store = std::move(*opened);
  } else {
    store::SqliteOptions so;
    so.path = config->database_path;
    so.synchronous_full = config->sqlite_synchronous_full;
    store_name = "sqlite " + config->database_path;
    auto opened = store::SqliteStore::Open(so, clock);
    if (!opened.ok()) return Die("opening the store: " + opened.error().ToString());
    store = std::move(*opened);
  }

  // Authentication (or, on loopback only, none) and the audit log, before anything is served.
  auto authenticator = MakeAuthenticator(config->auth, *store, clock);
  if (!authenticator.ok()) return Die(authenticator.error().message());
  if (*authenticator && !config->auth.bootstrap_token_file.empty()) {
    auto boot = server::BootstrapAdminToken(*store, config->auth.bootstrap_token_file, clock);
    if (!boot.ok()) return Die(boot.error().message());
    if (boot->wrote_file) {
      std::cerr << fmt::format(
          "tug server: wrote a first admin token to {}; sign in with `tug login --server URL "
          "--token-file {}`, give everyone else their own (`tug token create`), then revoke it "
          "(`tug token revoke {}`)\n",
          config->auth.bootstrap_token_file, config->auth.bootstrap_token_file, boot->token_id);
    }
    if (boot->revoked) {
      log::Warn("the token in auth.bootstrap_token_file is revoked; it stays unusable",
                {{"path", config->auth.bootstrap_token_file}, {"token", boot->token_id}});
    }
  }
  const std::string audit_path =
      config->auth.audit_log.empty() ? config->data_dir + "/audit.log" : config->auth.audit_log;
  auto audit = server::AuditLog::Open(audit_path, clock);
  if (!audit.ok()) return Die(audit.error().message());

  // Logs: files under <data_dir>/logs, or S3 with that directory as the live writers' spool.
  logs::FsLogStore fs_logs(config->data_dir + "/logs");
  std::unique_ptr<aws::S3Client> s3;
  std::unique_ptr<logs::S3LogStore> s3_logs;
  if (config->logs.store == "s3") {
    aws::AwsClientOptions s3o;
    s3o.service = "s3";
    s3o.region = config->logs.region;
    s3o.endpoint = config->logs.endpoint.empty()
                       ? "https://s3." + config->logs.region + ".amazonaws.com"
                       : config->logs.endpoint;
    s3o.credentials = std::make_shared<aws::DefaultCredentialsChain>(aws::ProcessEnv());
    s3o.clock = &clock;
    auto client = aws::AwsClient::Create(s3o);
    if (!client.ok()) return Die("logs.store s3: " + client.error().ToString());
    s3 = std::make_unique<aws::S3Client>(std::move(*client));
    logs::S3LogStoreOptions lo;
    lo.bucket = config->logs.bucket;
    lo.prefix = config->logs.prefix;
    s3_logs = std::make_unique<logs::S3LogStore>(lo, *s3, config->data_dir + "/logs");
  }
  logs::LogStore& log_store =
      s3_logs ? static_cast<logs::LogStore&>(*s3_logs) : static_cast<logs::LogStore&>(fs_logs);

  engine::local::LocalEngineOptions eo;
  eo.state_dir = config->state_dir.empty() ? config->data_dir + "/engine" : config->state_dir;
  eo.shim_command = ShimCommand(config->shim_path);
  eo.cgroup_mode = config->cgroup_mode;
  // Power-loss durability is one setting: the store's synchronous=full also fsyncs the local
  // engine's launch records.
  eo.sync_files = config->sqlite_synchronous_full;
  eo.use_launcher = config->shim_launcher;
  eo.stop_grace_ms = config->stop_grace_seconds * 1000;
  eo.usage_interval_ms = config->usage_interval_seconds * 1000;
  auto engine = engine::local::LocalEngine::Create(eo, log_store, clock);
  if (!engine.ok()) return Die("starting the local engine: " + engine.error().ToString());

  // Per configured cluster: a kubernetes engine ("kubernetes:<cluster>", container jobs) and a
  // spark engine ("spark:<cluster>"), sharing the cluster's client.
  std::vector<std::unique_ptr<kube::Client>> kube_clients;
  std::vector<std::unique_ptr<engine::kubernetes::KubernetesEngine>> kube_engines;
  struct SparkCluster {
    engine::spark::SparkEngine* engine;
    kube::Client* client;
    bool in_cluster;
  };
  std::map<std::string, SparkCluster> spark_engines;  // by engine name
  // usage.source prometheus: one reader (thread-safe) for every engine's usage thread. The
  // engines ask for their namespace's pods (named tug-...) at each usage interval.
  std::function<Result<std::vector<engine::kubernetes::PodMetricsSample>>(const std::string&)>
      usage_source;
  if (config->usage_source == "prometheus") {
    metrics::PrometheusOptions po;
    po.url = config->prometheus_url;
    auto reader = metrics::PrometheusReader::Create(po);
    if (!reader.ok()) return Die("usage.prometheus_url: " + reader.error().message());
    std::shared_ptr<metrics::PrometheusReader> shared = std::move(*reader);
    const int64_t window = config->prometheus_rate_window_seconds;
    usage_source =
        [shared, window, &clock](
            const std::string& ns) -> Result<std::vector<engine::kubernetes::PodMetricsSample>> {
      ASSIGN_OR_RETURN(auto now,
                       metrics::ReadNamespaceUsage(*shared, ns, "tug-", clock.Now(), window));
      std::vector<engine::kubernetes::PodMetricsSample> out;
      for (const auto& u : now) {
        if (u.memory_bytes < 0 && u.cpu_millis < 0) continue;
        out.push_back({u.pod, u.at, std::max<int64_t>(u.memory_bytes, 0),
                       std::max<int64_t>(u.cpu_millis, 0)});
      }
      return out;
    };
  }
  for (const server::ClusterConfig& cc : config->clusters) {
    auto kc = cc.in_cluster && cc.kubeconfig.empty()
                  ? kube::InClusterConfig()
                  : kube::LoadKubeconfig(cc.kubeconfig, cc.context);
    if (!kc.ok()) {
      return Die(fmt::format("cluster {}: {}", cc.name, kc.error().message()));
    }
    kube::ClientOptions ko;
    ko.qps = cc.qps;
    ko.burst = static_cast<int>(cc.burst);
    auto client = kube::Client::Create(*kc, ko);
    if (!client.ok()) return Die(fmt::format("cluster {}: {}", cc.name, client.error().message()));
    engine::kubernetes::KubernetesEngineOptions ko2;
    ko2.name = "kubernetes:" + cc.name;
    ko2.cluster = cc.name;
    ko2.pod.namespace_ = cc.namespace_;
    ko2.pod.capacity_label = cc.capacity_label;
    ko2.pod.spot_value = cc.spot_value;
    ko2.pod.on_demand_value = cc.on_demand_value;
    ko2.pod.default_service_account = cc.service_account;
    ko2.pod.scheduler_name = cc.scheduler_name;
    ko2.pod.gpu_node_selector = cc.gpu_node_selector;
    ko2.pod.gpu_tolerations = cc.gpu_tolerations;
    ko2.pod_linger = cc.pod_linger_seconds * kMicrosPerSecond;
    ko2.pending_timeout = cc.pending_timeout_seconds * kMicrosPerSecond;
    ko2.image_pull_grace = cc.image_pull_grace_seconds * kMicrosPerSecond;
    ko2.stop_grace_seconds = config->stop_grace_seconds;
    ko2.usage_interval = config->kube_usage_interval_seconds * kMicrosPerSecond;
    ko2.usage_source = usage_source;
    ko2.unknown_pods = cc.unknown_pods;
    ko2.prune_events = cc.prune_events;
    ko2.watch_nodes = cc.watch_nodes;
    kube_engines.push_back(
        std::make_unique<engine::kubernetes::KubernetesEngine>(ko2, **client, log_store, clock));
    engine::kubernetes::KubernetesEngineOptions spark_options = ko2;
    spark_options.name = "spark:" + cc.name;
    spark_options.component_log_cap = config->spark.component_log_cap_bytes;
    spark_options.attempt_log_cap = config->spark.attempt_log_cap_bytes;
    auto spark = std::make_unique<engine::spark::SparkEngine>(
        spark_options, SparkSettingsFor(*config), **client, log_store, clock);
    spark_engines[spark_options.name] = {spark.get(), client->get(), cc.in_cluster};
    kube_engines.push_back(std::move(spark));
    kube_clients.push_back(std::move(*client));
  }
  // EMR on EKS: one engine ("emr-on-eks") on the configured virtual cluster; it reads EMR's
  // logs back from the log bucket.
  std::unique_ptr<engine::emr::EmrOnEksEngine> emr_engine;
  if (config->emr.enabled()) {
    auto emr_client = EmrAwsClient(config->emr, "emr-containers", config->emr.endpoint, clock);
    if (!emr_client.ok()) return Die("emr: " + emr_client.error().message());
    auto s3_client = EmrAwsClient(config->emr, "s3",
                                  config->emr.s3_endpoint.empty()
                                      ? "https://s3." + config->emr.region + ".amazonaws.com"
                                      : config->emr.s3_endpoint,
                                  clock);
    if (!s3_client.ok()) return Die("emr: " + s3_client.error().message());
    engine::emr::EmrEngineOptions eo2;
    eo2.settings = EmrSettingsFor(*config);
    eo2.poll.base = config->emr.poll_interval_seconds * kMicrosPerSecond;
    eo2.poll.running_cap = std::max(eo2.poll.running_cap, eo2.poll.base);
    eo2.poll.cap = std::max(eo2.poll.cap, eo2.poll.base);
    // emr.cluster: the job runs' pods are watched on that cluster with its client.
    kube::Client* emr_kube = nullptr;
    for (size_t i = 0; i < config->clusters.size(); ++i) {
      if (config->clusters[i].name != config->emr.cluster) continue;
      emr_kube = kube_clients[i].get();
      engine::emr::EmrPodOptions po;
      po.namespace_ = config->emr.namespace_;
      po.virtual_cluster_id = config->emr.virtual_cluster_id;
      po.cluster = config->emr.cluster;
      po.component_log_cap = config->spark.component_log_cap_bytes;
      po.attempt_log_cap = config->spark.attempt_log_cap_bytes;
      eo2.pods = po;
    }
    emr_engine = std::make_unique<engine::emr::EmrOnEksEngine>(
        eo2, std::make_unique<aws::EmrContainersClient>(std::move(*emr_client)),
        std::make_unique<aws::S3Client>(std::move(*s3_client)), log_store, clock, emr_kube);
  }
  // The default engine first: /readyz reports it as "engine".
  std::vector<engine::Engine*> engines;
  if (config->engine == "local") engines.push_back(engine->get());
  for (auto& k : kube_engines) engines.push_back(k.get());
  if (emr_engine) engines.push_back(emr_engine.get());
  if (config->engine != "local") engines.push_back(engine->get());
  auto shutdown_engines = [&] {
    for (engine::Engine* e : engines) e->Shutdown();
  };

  metrics::Registry registry;
  control::ControlOptions co;
  co.host = HostName();
  co.owner = control::MakeOwner(co.host);
  co.lease = config->lease_seconds * kMicrosPerSecond;
  co.renew_every = std::max<Micros>(co.lease / 3, kMicrosPerSecond);
  co.dispatch = config->dispatch;
  co.launch_workers = config->launch_workers;
  co.retention = config->retention_seconds * kMicrosPerSecond;
  co.server_url = ServerUrl(*config, co.host, config->port());
  co.logs = &log_store;
  // Compiling the catalog takes a while (seconds under ASan) and nothing needs it before the
  // first failed attempt: it compiles then, or earlier once the server is quiet
  // (control/deferred_diagnoser.h). The builtin catalog is tested to compile; should it not,
  // failures go undiagnosed and the log says so.
  control::DeferredDiagnoserOptions catalog;
  catalog.make = [] { return diagnose::Diagnoser::CreateBuiltin(); };
  auto diagnoser = std::make_shared<control::DeferredDiagnoser>(std::move(catalog));
  co.diagnose = [diagnoser, &log_store](const Attempt& a, AttemptStatus s, const Outcome& o) {
    if (s != AttemptStatus::kFailed) return std::string();  // only failures are diagnosed
    std::shared_ptr<diagnose::Diagnoser> d = diagnoser->Get();
    if (!d) return std::string();
    return control::DiagnoseAttempt(*d, log_store, a, s, o);
  };
  control::ClimateSource climate(*store);
  control::HistorySource history(*store);
  co.platform.limits = config->limits;
  co.platform.climate_threshold = config->climate_threshold;
  co.queues = config->queues;
  co.queue_capacity = config->queue_capacity;
  co.climate = &climate;
  // Attempts are priced as they end (config cost:, on by default with built-in prices).
  std::optional<control::CostRecorder> cost_recorder;
  if (config->cost.enabled) {
    cost_recorder.emplace(config->cost.book, config->cost.basis, *store, registry,
                          config->cost.metrics_series);
    co.cost = &*cost_recorder;
  }
  control::Controller controller(co, *store, engines, registry, clock);
  // Reconcile (in Start) adopts pods by reading them; the informers start after it, and their
  // first list catches whatever changed in between.
  if (auto st = controller.Start(); !st.ok()) return Die(st.error().ToString());
  for (auto& k : kube_engines) k->Start();

  server::ApiOptions ao;
  ao.authenticator = authenticator->get();
  ao.policy.all_visible = config->auth.visibility == "all";
  ao.auth_config = AuthClientConfig(config->auth);
  ao.token_ttl_seconds = config->auth.token_ttl_seconds;
  ao.audit = audit->get();
  ao.limits = config->limits;
  ao.idempotency_retention_seconds = config->idempotency_retention_seconds;
  ao.server_url = co.server_url;
  ao.platform = co.platform;
  ao.climate = &climate;
  ao.history = &history;
  ao.cost = server::CostView{co.cost, config->cost.currency};
  ao.default_engine = config->engine;
  ao.spark_engine = config->spark_engine;
  ao.emr_configured = emr_engine != nullptr;
  for (const auto& cc : config->clusters) ao.clusters.push_back(cc.name);
  ao.queues = config->queues;
  ao.queue_capacity = config->queue_capacity;
  ao.preview = [&config, &kube_engines](const engine::LaunchSpec& spec,
                                        const std::string& name) -> Result<boost::json::value> {
    if (name.rfind("emr-on-eks", 0) == 0) {
      // The StartJobRun request the engine would send (placeholders without an emr section).
      const bool configured = name.back() != ':';
      const engine::emr::EmrSettings settings =
          configured ? EmrSettingsFor(*config) : EmrPlaceholders(spec.spark.version);
      ASSIGN_OR_RETURN(boost::json::object body, engine::emr::StartJobRunBody(spec, settings));
      return boost::json::value(boost::json::object{
          {"start_job_run",
           boost::json::object{
               {"method", "POST"},
               {"path", "/virtualclusters/" + settings.virtual_cluster_id + "/jobruns"},
               {"endpoint", configured && !config->emr.endpoint.empty()
                                ? config->emr.endpoint
                                : aws::DefaultEndpoint("emr-containers",
                                                       configured ? config->emr.region
                                                                  : std::string("<emr.region>"))},
               {"body", std::move(body)}}}});
    }
    // The cluster's pod settings when it is configured, the defaults otherwise.
    engine::kubernetes::PodSettings pods;
    for (const auto& k : kube_engines) {
      if (k->Name() == name) pods = k->options().pod;
    }
    if (spec.kind == "spark") {
      ASSIGN_OR_RETURN(auto sub,
                       engine::spark::BuildSubmission(spec, pods, SparkSettingsFor(*config)));
      return engine::spark::ToJson(sub);
    }
    if (name.rfind("kubernetes:", 0) == 0) {
      return boost::json::value(
          boost::json::object{{"pod", engine::kubernetes::BuildPod(spec, pods)}});
    }
    boost::json::array argv;
    for (const auto& a : spec.argv) argv.emplace_back(a);
    return boost::json::value(boost::json::object{{"argv", std::move(argv)}});
  };
  server::Api api(ao, *store, log_store, controller, engines, registry, clock);
  // The Spark UI of a run: its live driver (only that run's, found from the store and the
  // engine, never from the request), then the history server's page of its application.
  server::SparkUiProxy spark_ui(
      [&](const std::string& run_id) -> Result<server::SparkUiTarget> {
        ASSIGN_OR_RETURN(tug::Run run, store->GetRun(run_id));
        server::SparkUiTarget t;
        if (run.spec.kind != "spark") {
          t.message = fmt::format("run '{}' is not a Spark run; it has no Spark UI", run_id);
          return t;
        }
        if (run.attempts.empty()) {
          t.message = fmt::format("run '{}' has no attempt yet", run_id);
          return t;
        }
        const Attempt& last = run.attempts.back();
        if (!IsTerminal(run.status)) {
          auto it = spark_engines.find(last.engine);
          auto addr = it == spark_engines.end()
                          ? Result<engine::kubernetes::KubernetesEngine::PodAddress>(
                                NotFound("not watched here"))
                          : it->second.engine->Address(last.id, "driver");
          if (!addr.ok() || !addr->running) {
            t.message = fmt::format(
                "run '{}' has no running Spark driver yet (attempt {} is {}); reload once it "
                "runs",
                run_id, last.number, ToString(last.status));
            return t;
          }
          const SparkCluster& sc = it->second;
          const int64_t port = config->spark.ui_port;
          bool direct = config->spark.ui_access == "direct" ||
                        (config->spark.ui_access == "auto" && sc.in_cluster);
          t.kind = server::SparkUiTarget::Kind::kLive;
          if (direct) {
            if (addr->ip.empty()) {
              t.kind = server::SparkUiTarget::Kind::kNone;
              t.message = fmt::format("the driver of run '{}' has no pod IP yet", run_id);
              return t;
            }
            t.base_url = fmt::format("http://{}:{}", addr->ip, port);
          } else {
            ASSIGN_OR_RETURN(t.client, sc.client->HttpOptions());
            t.base_url = fmt::format(
                "{}/api/v1/namespaces/{}/pods/{}:{}/proxy", sc.client->config().server,
                kube::Escape(sc.engine->options().pod.namespace_), kube::Escape(addr->pod), port);
          }
          return t;
        }
        std::string app_id;
        for (const auto& a : run.attempts) {
          if (!a.app_id.empty()) app_id = a.app_id;
        }
        if (config->spark.history_url.empty() || app_id.empty()) {
          t.message =
              fmt::format("run '{}' has ended{}; {}", run_id,
                          app_id.empty() ? " before its driver started" : "",
                          config->spark.history_url.empty()
                              ? "this server has no history server configured (spark.history_url)"
                              : "there is no application to show");
          return t;
        }
        t.kind = server::SparkUiTarget::Kind::kHistory;
        t.history_url = config->spark.history_url + "/history/" + app_id + "/jobs/";
        return t;
      },
      // The API's own decision: a caller reaches only the Spark UI of runs it may see.
      api.SparkUiAccessCheck());
  std::optional<server::UiAssets> ui;
  if (!config->ui_dir.empty()) {
    auto from_dir = server::UiAssets::FromDirectory(config->ui_dir);
    if (!from_dir.ok()) {
      api.Stop();
      controller.Stop();
      shutdown_engines();
      return Die(from_dir.error().message());
    }
    ui.emplace(std::move(*from_dir));
  } else {
    ui.emplace(server::EmbeddedUiFiles());
  }
  net::Router router;
  api.Register(router);
  // Flotilla's v6 API on the same Api (its policy, store and engines), when the config asks.
  flotilla::FlotillaApi flotilla_api(api);
  if (config->flotilla_v6) flotilla_api.Register(router);
  spark_ui.Register(router);
  ui->Register(router);
  net::ServerOptions no;
  no.host = config->host();
  no.port = config->port();
  no.threads = config->http_threads;
  no.max_body_bytes = static_cast<size_t>(config->max_body_bytes);
  RaiseOpenFileLimit();
  net::HttpServer http(no, std::move(router),
                       [&api](const net::Request&, const std::string& route, int status,
                              double seconds) { api.Observe(route, status, seconds); });
  if (auto st = http.Start(); !st.ok()) {
    api.Stop();
    controller.Stop();
    shutdown_engines();
    return Die(st.error().message());
  }
  // With listen port 0 the URL is known only now.
  const std::string server_url = ServerUrl(*config, co.host, http.port());
  controller.SetServerUrl(server_url);
  api.SetServerUrl(server_url);
  engine::Health health = engines.front()->GetHealth();
  std::string others;
  for (size_t i = 1; i < engines.size(); ++i) others += ", " + engines[i]->Name();
  std::cout << fmt::format("tug server listening on http://{}:{} (data in {}, engine {}{}{})\n",
                           no.host, http.port(), config->data_dir, engines.front()->Name(),
                           health.message.empty() ? "" : ": " + health.message,
                           others.empty() ? "" : "; also " + others.substr(2))
            << std::flush;
  std::string auth_mode = "off (loopback only)";
  if (config->auth.on()) {
    auth_mode = config->auth.oidc() ? "tokens and oidc " + config->auth.oidc_issuer : "tokens";
  }
  log::Info("server started", {{"listen", fmt::format("{}:{}", no.host, http.port())},
                               {"owner", co.owner},
                               {"store", store_name},
                               {"data_dir", config->data_dir},
                               {"auth", auth_mode},
                               {"flotilla_v6", config->flotilla_v6 ? "on" : "off"},
                               {"audit_log", audit_path}});

  int sig = 0;
  sigwait(&signals, &sig);
  log::Info("shutting down", {{"signal", std::to_string(sig)}});
  http.Stop();
  api.Stop();
  controller.Stop();
  shutdown_engines();
  return 0;
}

}  // namespace tug
