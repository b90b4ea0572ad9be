#include "cli/cli.h"

#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "cli/auth_commands.h"
#include "cli/client.h"
#include "cli/completion.h"
#include "cli/log_commands.h"
#include "cli/output.h"
#include "cli/params.h"
#include "cli/run_command.h"
#include "cli/sim_command.h"
#include "cli/watch_commands.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/model.h"
#include "core/quantity.h"
#include "core/yaml.h"
#include "diagnose/offline.h"
#include "net/http_client.h"

namespace json = boost::json;

namespace tug::cli {
namespace {

Result<std::string> ReadInput(const std::string& path) {
  if (path == "-") {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path);
  if (!in) return InvalidArgument(fmt::format("cannot read '{}'; check the path", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Definitions from a YAML or JSON file: one object, a list, or several YAML documents.
Result<std::vector<json::value>> LoadDefinitions(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadInput(path));
  std::vector<json::value> docs;
  bool is_json = path.size() > 5 && path.substr(path.size() - 5) == ".json";
  if (is_json) {
    ASSIGN_OR_RETURN(json::value v, ParseJson(text));
    docs.push_back(std::move(v));
  } else {
    auto parsed = YamlToJson(text);
    if (!parsed.ok()) return InvalidArgument(fmt::format("{}: {}", path, parsed.error().message()));
    docs = std::move(*parsed);
  }
  std::vector<json::value> out;
  for (auto& d : docs) {
    if (d.is_array()) {
      for (auto& x : d.as_array()) out.push_back(x);
    } else {
      out.push_back(std::move(d));
    }
  }
  if (out.empty()) return InvalidArgument(fmt::format("'{}' holds no definitions", path));
  return out;
}

int Apply(const Globals& g, const std::vector<std::string>& files) {
  auto client = Client::Connect(g);
  if (!client.ok()) return Fail(client.error().message());
  int rc = 0;
  for (const auto& file : files) {
    auto defs = LoadDefinitions(file);
    if (!defs.ok()) return Fail(defs.error().message());
    for (const auto& d : *defs) {
      std::string name;
      if (d.is_object()) {
        if (const json::value* n = d.as_object().if_contains("name"); n && n->is_string()) {
          name = std::string(n->as_string());
        }
      }
      if (name.empty()) {
        rc = Fail(fmt::format("{}: a definition has no name; add e.g. name: hello", file));
        continue;
      }
      auto r = client->Call("PUT", "/api/v1/definitions/" + UrlEncode(name), json::serialize(d));
      if (!r.ok()) {
        rc = Fail(fmt::format("{}: {}", file, r.error().message()));
        continue;
      }
      if (g.output == "table") {
        const auto& o = r->as_object();
        std::cout << fmt::format(
            "definition/{} {} (version {})\n", name,
            o.contains("change") ? std::string(o.at("change").as_string()) : "applied",
            json::serialize(o.at("version")));
      } else {
        Print(g, *r, [] { return std::string(); });
      }
    }
  }
  return rc;
}

// The exit code `tug run --wait` reports for a finished run.
struct GetArgs {
  std::string what;
  std::string id;
  std::string status;
  std::string definition;
  std::string owner;
  std::string parent;
  std::string since;
  std::string cursor;
  std::string sort;
  int limit = 0;
  bool watch = false;
};

int GetCmd(const Globals& g, const GetArgs& a) {
  auto client = Client::Connect(g);
  if (!client.ok()) return Fail(client.error().message());
  Micros now = SystemClock::Instance().Now();
  if (a.what == "runs") {
    std::string q;
    if (!a.status.empty()) q += "&status=" + UrlEncode(a.status);
    if (!a.definition.empty()) q += "&definition=" + UrlEncode(a.definition);
    if (!a.owner.empty()) q += "&owner=" + UrlEncode(a.owner);
    if (!a.parent.empty()) q += "&parent=" + UrlEncode(a.parent);
    if (!a.since.empty()) {
      auto d = ParseDuration(a.since);
      if (!d.ok()) return Fail("--since: " + d.error().message());
      q += "&created_after=" + UrlEncode(FormatTimestamp(now - *d * kMicrosPerSecond));
    }
    if (!a.cursor.empty()) q += "&cursor=" + UrlEncode(a.cursor);
    if (!a.sort.empty()) q += "&sort=" + UrlEncode(a.sort);
    if (a.limit > 0) q += "&limit=" + std::to_string(a.limit);
    if (!q.empty()) q[0] = '?';
    if (a.watch) return WatchRunsCmd(g, {a.definition, a.owner, q});
    auto r = client->Call("GET", "/api/v1/runs" + q);
    if (!r.ok()) return Fail(r.error().message());
    Print(g, *r, [&] {
      std::string out = RunsTable(r->as_object().at("runs"), now);
      const json::value& next = r->as_object().at("next_cursor");
      if (next.is_string()) out += "(more: --cursor " + std::string(next.as_string()) + ")\n";
      return out;
    });
    return 0;
  }
  if (a.what == "run") {
    if (a.id.empty()) return Fail("tug get run needs a run id: tug get run ID");
    auto r = client->Call("GET", "/api/v1/runs/" + UrlEncode(a.id));
    if (!r.ok()) return Fail(r.error().message());
    Print(g, *r, [&] { return RunDetail(*r, now); });
    return 0;
  }
  if (a.what == "queues") {
    auto r = client->Call("GET", "/api/v1/queues");
    if (!r.ok()) return Fail(r.error().message());
    Print(g, *r, [&] {
      const json::value* on = r->as_object().if_contains("enabled");
      if (on != nullptr && on->is_bool() && !on->get_bool()) {
        return std::string("no queues configured: runs start as soon as they are due\n");
      }
      return QueuesTable(*r);
    });
    return 0;
  }
  if (a.what == "definitions") {
    auto r = client->Call("GET", "/api/v1/definitions");
    if (!r.ok()) return Fail(r.error().message());
    Print(g, *r, [&] { return DefinitionsTable(r->as_object().at("definitions")); });
    return 0;
  }
  if (a.what == "definition") {
    if (a.id.empty()) return Fail("tug get definition needs a name: tug get definition NAME");
    auto r = client->Call("GET", "/api/v1/definitions/" + UrlEncode(a.id));
    if (!r.ok()) return Fail(r.error().message());
    Print(g, *r, [&] { return ToYaml(*r); });
    return 0;
  }
  std::cerr << fmt::format(
      "error: unknown resource '{}'; use runs, run ID, queues, definitions or definition NAME\n",
      a.what);
  return kExitUsage;
}

int StopCmd(const Globals& g, const std::string& id, bool cascade) {
  auto client = Client::Connect(g);
  if (!client.ok()) return Fail(client.error().message());
  auto r = client->Call(
      "POST", "/api/v1/runs/" + UrlEncode(id) + "/stop" + (cascade ? "?cascade=true" : ""));
  if (!r.ok()) return Fail(r.error().message());
  Print(g, *r, [&] {
    std::string status(r->as_object().at("status").as_string());
    std::string out = fmt::format("run {} {}\n", id, status == "STOPPED" ? "stopped" : "stopping");
    const json::value* c = r->as_object().if_contains("cascade");
    if (c != nullptr && c->is_object()) {
      const json::value* stopped = c->as_object().if_contains("stopped");
      const size_t n = stopped != nullptr && stopped->is_array() ? stopped->as_array().size() : 0;
      out += fmt::format("{} descendant run(s) stopped", n);
      const json::value* skipped = c->as_object().if_contains("skipped");
      if (skipped != nullptr && skipped->is_int64() && skipped->as_int64() > 0) {
        out += fmt::format(", {} you may not stop left running", skipped->as_int64());
      }
      out += "\n";
    }
    return out;
  });
  return 0;
}

int EventsCmd(const Globals& g, const std::string& id) {
  auto client = Client::Connect(g);
  if (!client.ok()) return Fail(client.error().message());
  auto r = client->Call("GET", "/api/v1/runs/" + UrlEncode(id) + "/events");
  if (!r.ok()) return Fail(r.error().message());
  Print(g, *r, [&] {
    std::vector<std::vector<std::string>> rows{{"TIME", "TYPE", "ATTEMPT", "MESSAGE"}};
    for (const auto& e : r->as_object().at("events").as_array()) {
      const auto& o = e.as_object();
      std::string attempt;
      if (const json::value* a = o.if_contains("attempt_id"); a && a->is_string()) {
        attempt = std::string(a->as_string());
        attempt = attempt.substr(attempt.rfind('-') + 1);
      }
      rows.push_back({std::string(o.at("at").as_string()), std::string(o.at("type").as_string()),
                      attempt, std::string(o.at("message").as_string())});
    }
    return Table(rows);
  });
  return 0;
}

}  // namespace

int Main(int argc, char** argv, const ServeFn& serve) {
  CLI::App app{"tug: run containerized batch jobs and Spark jobs, and get them to finish"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags (-o, --server) may follow the subcommand
  Globals g;
  g.server = "http://127.0.0.1:8080";
  auto* server_flag = app.add_option("--server", g.server,
                                     "Server URL (env TUG_SERVER; default: the one of `tug login`)")
                          ->capture_default_str();
  auto* token_flag = app.add_option(
      "--token", g.token,
      "Bearer token (env TUG_TOKEN; default: the one `tug login` stored for the server)");
  app.add_option("-o,--output", g.output, "Output format: table, json or yaml")
      ->check(CLI::IsMember({"table", "json", "yaml"}))
      ->capture_default_str();

  ServerFlags sf;
  auto* server = app.add_subcommand("server", "Run the Tugboat server (API, control loops)");
  server->add_option("--listen", sf.listen, "Address to listen on (default 127.0.0.1:8080)");
  server->add_option("--data-dir", sf.data_dir,
                     "Where the database and logs live (default ./.tug)");
  server->add_option("--config", sf.config_file, "YAML config file (env TUG_CONFIG)");
  server->add_option("--log-level", sf.log_level, "debug, info, warn or error");
  server->add_option("--cgroup", sf.cgroup, "Local engine cgroup mode: auto, v2, v1 or none");

  std::vector<std::string> files;
  auto* apply = app.add_subcommand("apply", "Create or update definitions from YAML or JSON");
  apply->add_option("-f,--filename", files, "File with one or more definitions ('-' for stdin)")
      ->required();

  RunArgs ra;
  auto* run = app.add_subcommand("run", "Submit a run of a definition");
  run->add_option("name", ra.name, "Definition name")->required();
  run->add_option("-e,--env", ra.env, "Environment override KEY=VALUE (repeatable)");
  run->add_option("--memory", ra.memory, "Memory limit, e.g. 512Mi or 2Gi");
  run->add_option("--cpu", ra.cpu, "CPU, e.g. 500m or 2");
  run->add_option("--timeout", ra.timeout, "Deadline, e.g. 30s, 10m, 1h");
  run->add_option("--owner", ra.owner,
                  "Who submits (default: you when signed in, else $USER; only admins name "
                  "someone else)");
  run->add_option("--group", ra.group,
                  "The run's group (default: the definition's if you are in it, else your first)");
  run->add_option("--engine", ra.engine,
                  "Engine for this run instead of the definition's: local, kubernetes, spark or "
                  "emr-on-eks");
  run->add_option("-p,--param", ra.params,
                  "Template parameter NAME=VALUE (repeatable), typed by the definition's "
                  "parameters schema");
  run->add_option("--gpu", ra.gpu, "GPUs for this run instead of the definition's");
  run->add_option("--idempotency-key", ra.idempotency_key,
                  "Submit at most once per key: repeating it (with the same flags) within the "
                  "server's retention (7 days by default) returns the first run");
  run->add_option("--parent", ra.parent,
                  "The run this one belongs to (a job submitting children passes $TUG_RUN_ID)");
  run->add_flag("--wait", ra.wait, "Wait for the run to end; exit with its exit code");
  run->add_flag("-f,--follow", ra.follow, "Stream the logs until the run ends (implies --wait)");
  run->add_flag("--dry-run", ra.dry_run,
                "Show what would run (engine, plan, spark-submit confs, pods, the EMR StartJobRun "
                "request); launch nothing");

  GetArgs ga;
  auto* get = app.add_subcommand("get", "Show runs, a run, queues, or definitions");
  get->add_option("what", ga.what, "runs | run | queues | definitions | definition")->required();
  get->add_option("id", ga.id, "Run id or definition name");
  get->add_option("--status", ga.status, "Filter runs by status");
  get->add_option("--definition", ga.definition, "Filter runs by definition");
  get->add_option("--owner", ga.owner, "Filter runs by who submitted them");
  get->add_option("--parent", ga.parent, "Only the children of this run (lineage)");
  get->add_option("--since", ga.since, "Only runs created in the last DURATION, e.g. 1h, 7d");
  get->add_option("--cursor", ga.cursor, "Page cursor from a previous listing");
  get->add_option("--limit", ga.limit, "Runs per page (1-500)");
  get->add_option("--sort", ga.sort,
                  "Order runs: newest (the default) or cost (most expensive first; pages keep "
                  "the order, pass --sort with --cursor)");
  get->add_flag("-w,--watch", ga.watch,
                "With runs: after the listing, print a run's row again each time it changes");

  LogsArgs la;
  auto* logs = app.add_subcommand("logs", "Print a run's logs");
  logs->add_option("id", la.id, "Run id")->required();
  logs->add_flag("-f,--follow", la.follow, "Keep streaming until the attempt ends");
  logs->add_option("--attempt", la.attempt, "Attempt number (default: the latest)");
  logs->add_option("--component", la.component, "Component (default: main)");
  logs->add_flag("--timestamps", la.timestamps, "Show each line's time and stream");
  logs->add_flag("--errors", la.errors,
                 "Only the lines the diagnosis highlighted, with 3 lines of context");

  std::string stop_id;
  auto* stop = app.add_subcommand("stop", "Stop a run");
  stop->add_option("id", stop_id, "Run id")->required();
  bool stop_cascade = false;
  stop->add_flag("--cascade", stop_cascade,
                 "Also stop the run's descendants (runs submitted with it as parent)");

  std::string events_id;
  auto* events = app.add_subcommand("events", "Show a run's timeline");
  events->add_option("id", events_id, "Run id")->required();
  bool events_follow = false;
  events->add_flag("-f,--follow", events_follow,
                   "Print events as they happen until the run ends (resumes after a dropped "
                   "connection)");

  diagnose::OfflineOptions dopts;
  int diag_exit = -1;
  auto* diag = app.add_subcommand(
      "diagnose", "Diagnose log files without a server: class, root-cause line, remediation");
  diag->add_option("files", dopts.files, "Log files, read in order")->required();
  diag->add_option("--component", dopts.component,
                   "Component that wrote them: main, driver, executor, controller, k8s-events")
      ->capture_default_str();
  diag->add_option("--exit-code", diag_exit, "Exit code of the process, if known");
  diag->add_option("--reason", dopts.reason, "Termination reason, e.g. OOMKilled");

  SimArgs sim_args;
  auto* sim = AddSimCommand(app, sim_args);

  AuthArgs auth_args;
  AddAuthCommands(app, auth_args);

  std::string completion_shell;
  auto* completion = app.add_subcommand(
      "completion", "Print a shell completion script: source <(tug completion bash)");
  completion->add_option("shell", completion_shell, "bash, zsh or fish")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh", "fish"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  if (*server) return serve(sf);
  if (*completion) {
    std::cout << CompletionScript(app, completion_shell);
    return 0;
  }
  if (*sim) return SimCmd(sim_args);
  if (*diag) {
    if (diag_exit >= 0) dopts.exit_code = diag_exit;
    dopts.json = g.output == "json";
    return diagnose::DiagnoseFiles(dopts, std::cout, std::cerr);
  }
  // The client commands: which server, with which token.
  if (auto st = ResolveCredentials(g, server_flag->count() > 0, token_flag->count() > 0);
      !st.ok()) {
    return Fail(st.error().message());
  }
  if (token_flag->count() > 0) auth_args.login_token = g.token;
  if (int rc = AuthCmd(g, auth_args); rc >= 0) return rc;
  if (*apply) return Apply(g, files);
  if (*run) return RunCmd(g, ra);
  if (*get) return GetCmd(g, ga);
  if (*logs) return LogsCmd(g, la);
  if (*stop) return StopCmd(g, stop_id, stop_cascade);
  if (*events) return events_follow ? FollowEventsCmd(g, events_id) : EventsCmd(g, events_id);
  return kExitUsage;
}

}  // namespace tug::cli
