#include "serve.h"

#include <signal.h>
#include <unistd.h>

#include <climits>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "control/attempt_diagnosis.h"
#include "control/controller.h"
#include "core/log.h"
#include "engine/local/local_engine.h"
#include "logs/fs_log_store.h"
#include "metrics/registry.h"
#include "net/http_server.h"
#include "server/api.h"
#include "server/config.h"
#include "store/sqlite/sqlite_store.h"

namespace tug {
namespace {

int Die(const std::string& message) {
  std::cerr << "tug server: " << message << "\n";
  return 1;
}

std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "/proc/self/exe";
  return {buf, static_cast<size_t>(n)};
}

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

Result<server::Config> LoadConfig(const cli::ServerFlags& flags) {
  server::Config c = server::DefaultConfig();
  auto env = server::ProcessEnv();
  std::string file = flags.config_file;
  if (file.empty() && env.count("TUG_CONFIG") > 0) file = env["TUG_CONFIG"];
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return InvalidArgument(fmt::format("cannot read config file '{}'", file));
    std::stringstream ss;
    ss << in.rdbuf();
    RETURN_IF_ERROR(server::ApplyYaml(c, ss.str(), file));
  }
  RETURN_IF_ERROR(server::ApplyEnv(c, env));
  if (!flags.listen.empty()) c.listen = flags.listen;
  if (!flags.data_dir.empty()) c.data_dir = flags.data_dir;
  if (!flags.log_level.empty()) c.log_level = flags.log_level;
  if (!flags.cgroup.empty()) c.cgroup_mode = flags.cgroup;
  RETURN_IF_ERROR(server::ValidateConfig(c));
  return c;
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

  store::SqliteOptions so;
  so.path = config->database_path;
  so.synchronous_full = config->sqlite_synchronous_full;
  auto store = store::SqliteStore::Open(so, clock);
  if (!store.ok()) return Die("opening the store: " + store.error().ToString());

  logs::FsLogStore log_store(config->data_dir + "/logs");

  engine::local::LocalEngineOptions eo;
  eo.state_dir = config->data_dir + "/engine";
  eo.shim_command = {SelfExe(), "__shim"};
  eo.cgroup_mode = config->cgroup_mode;
  eo.stop_grace_ms = config->stop_grace_seconds * 1000;
  auto engine = engine::local::LocalEngine::Create(eo, log_store, clock);
  if (!engine.ok()) return Die("starting the local engine: " + engine.error().ToString());

  metrics::Registry registry;
  control::ControlOptions co;
  co.host = HostName();
  co.owner = control::MakeOwner(co.host);
  co.lease = config->lease_seconds * kMicrosPerSecond;
  co.renew_every = std::max<Micros>(co.lease / 3, kMicrosPerSecond);
  co.dispatch = config->dispatch;
  auto diagnoser = diagnose::Diagnoser::CreateBuiltin();
  if (!diagnoser.ok()) return Die("loading the diagnosis catalog: " + diagnoser.error().ToString());
  co.diagnose = [&diagnoser, &log_store](const Attempt& a, AttemptStatus s, const Outcome& o) {
    return control::DiagnoseAttempt(*diagnoser, log_store, a, s, o);
  };
  control::ClimateSource climate(**store);
  control::HistorySource history(**store);
  co.platform.limits = config->limits;
  co.platform.climate_threshold = config->climate_threshold;
  co.climate = &climate;
  control::Controller controller(co, **store, **engine, registry, clock);
  if (auto st = controller.Start(); !st.ok()) return Die(st.error().ToString());

  server::ApiOptions ao;
  ao.limits = config->limits;
  ao.platform = co.platform;
  ao.climate = &climate;
  ao.history = &history;
  server::Api api(ao, **store, log_store, controller, **engine, registry, clock);
  net::Router router;
  api.Register(router);
  net::ServerOptions no;
  no.host = config->host();
  no.port = config->port();
  no.threads = config->http_threads;
  no.max_body_bytes = static_cast<size_t>(config->max_body_bytes);
  net::HttpServer http(no, std::move(router),
                       [&api](const net::Request&, const std::string& route, int status,
                              double seconds) { api.Observe(route, status, seconds); });
  if (auto st = http.Start(); !st.ok()) {
    api.Stop();
    controller.Stop();
    (*engine)->Shutdown();
    return Die(st.error().message());
  }
  engine::Health health = (*engine)->GetHealth();
  std::cout << fmt::format("tug server listening on http://{}:{} (data in {}, engine {}{})\n",
                           no.host, http.port(), config->data_dir, (*engine)->Name(),
                           health.message.empty() ? "" : ": " + health.message)
            << std::flush;
  log::Info("server started", {{"listen", fmt::format("{}:{}", no.host, http.port())},
                               {"owner", co.owner},
                               {"data_dir", config->data_dir}});

  int sig = 0;
  sigwait(&signals, &sig);
  log::Info("shutting down", {{"signal", std::to_string(sig)}});
  http.Stop();
  api.Stop();
  controller.Stop();
  (*engine)->Shutdown();
  return 0;
}

}  // namespace tug
