#include "cli/run_command.h"

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

int ExitCodeOf(const json::value& run) {
  const auto& o = run.as_object();
  if (o.at("status").as_string() == "SUCCEEDED") return 0;
  if (const json::value* oc = o.if_contains("outcome"); oc && oc->is_object()) {
    if (const json::value* code = oc->as_object().if_contains("exit_code");
        code && code->is_int64()) {
      int c = static_cast<int>(code->as_int64());
      return c == 0 ? 1 : c;
    }
  }
  return 1;
}

bool IsFinal(const json::value& run) {
  auto status = ParseRunStatus(run.as_object().at("status").as_string());
  return status.ok() && IsTerminal(*status);
}

Result<json::value> WaitForEnd(Client& client, const std::string& id) {
  auto delay = std::chrono::milliseconds(50);
  while (true) {
    ASSIGN_OR_RETURN(json::value run, client.Call("GET", "/api/v1/runs/" + id));
    if (IsFinal(run)) return run;
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(1000));
  }
}

Status FollowLogs(Client& client, const std::string& id, const std::string& query) {
  return client.Stream("/api/v1/runs/" + id + "/logs?follow=true" + query, &WriteStdout);
}

void PrintFinal(const json::value& run) {
  const auto& o = run.as_object();
  std::string reason;
  std::string code;
  if (const json::value* oc = o.if_contains("outcome"); oc && oc->is_object()) {
    reason = std::string(oc->as_object().at("reason").as_string());
    if (oc->as_object().at("exit_code").is_int64()) {
      code = fmt::format(", exit {}", oc->as_object().at("exit_code").as_int64());
    }
    std::string message(oc->as_object().at("message").as_string());
    std::cerr << fmt::format("run {} {} ({}{}){}\n", std::string(o.at("id").as_string()),
                             std::string(o.at("status").as_string()), reason, code,
                             message.empty() ? "" : ": " + message);
  }
}

// Who is submitting: $USER, else the login name of the uid ("" when neither is known).
std::string CurrentUser() {
  if (const char* u = std::getenv("USER"); u != nullptr && *u != '\0') return u;
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_name != nullptr) {
    return pw->pw_name;
  }
  return "";
}

// A dry run as people read it: engine, plan, then what would be launched.
void PrintDryRun(const json::value& v) {
  const auto& o = v.as_object();
  std::cout << "Dry run: nothing was stored or launched.\n";
  std::cout << fmt::format("Engine:     {}\n", std::string(o.at("engine").as_string()));
  if (const json::value* n = o.if_contains("note"); n != nullptr && n->is_string()) {
    std::cout << fmt::format("Note:       {}\n", std::string(n->as_string()));
  }
  if (const json::value* s = o.at("plan").as_object().if_contains("sentence");
      s != nullptr && s->is_string()) {
    std::cout << fmt::format("Plan:       {}\n", std::string(s->as_string()));
  }
  const json::value* launch = o.if_contains("launch");
  if (launch == nullptr || !launch->is_object()) return;
  const auto& l = launch->as_object();
  if (const json::value* img = l.if_contains("image")) {
    std::cout << fmt::format("Image:      {}\n", std::string(img->as_string()));
  }
  if (const json::value* argv = l.if_contains("argv"); argv != nullptr && argv->is_array()) {
    std::cout << "Command:\n";
    std::string pending;
    for (const auto& a : argv->as_array()) {
      std::string arg(a.as_string());
      if (arg == "--conf" || arg.rfind("--", 0) == 0) {
        pending = arg;
        continue;
      }
      std::cout << "  " << (pending.empty() ? arg : pending + " " + arg) << "\n";
      pending.clear();
    }
  }
  for (const char* role : {"driver", "executors"}) {
    if (const json::value* p = l.if_contains(role); p != nullptr && p->is_object()) {
      std::cout << fmt::format("{}:{}{}\n", role == std::string("driver") ? "Driver" : "Executors",
                               role == std::string("driver") ? "     " : "  ", json::serialize(*p));
    }
  }
  if (const json::value* pod = l.if_contains("pod")) {
    std::cout << "Pod:        " << json::serialize(*pod) << "\n";
  }
  if (const json::value* call = l.if_contains("start_job_run");
      call != nullptr && call->is_object()) {
    const auto& c = call->as_object();
    std::cout << fmt::format("EMR:        {} {} (StartJobRun)\n",
                             std::string(c.at("method").as_string()),
                             std::string(c.at("path").as_string()));
    std::cout << "Body:       " << json::serialize(c.at("body")) << "\n";
  }
}

}  // namespace

int RunCmd(const Globals& g, const RunArgs& a) {
  json::object body{{"definition", a.name}};
  // Signed in, the server takes the owner from the token; without one (a loopback server
  // without authentication) the run is $USER's.
  if (std::string owner = a.owner.empty() && g.token.empty() ? CurrentUser() : a.owner;
      !owner.empty()) {
    body["owner"] = owner;
  }
  if (!a.group.empty()) body["group"] = a.group;
  json::object env;
  for (const auto& kv : a.env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << fmt::format("error: --env '{}' must be KEY=VALUE\n", kv);
      return kExitUsage;
    }
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (!env.empty()) body["env"] = env;
  json::object res;
  if (!a.memory.empty()) {
    auto m = ParseMemory(a.memory);
    if (!m.ok()) return Fail("--memory: " + m.error().message());
    res["memory"] = *m;
  }
  if (!a.cpu.empty()) {
    auto c = ParseCpu(a.cpu);
    if (!c.ok()) return Fail("--cpu: " + c.error().message());
    res["cpu"] = FormatCpu(*c);
  }
  if (a.gpu >= 0) res["gpu"] = a.gpu;
  if (!res.empty()) body["resources"] = res;
  if (!a.timeout.empty()) body["timeout"] = a.timeout;
  if (!a.engine.empty()) body["engine"] = a.engine;
  if (!a.idempotency_key.empty()) body["idempotency_key"] = a.idempotency_key;
  if (!a.parent.empty()) body["parent_run_id"] = a.parent;

  auto client = Client::Connect(g);
  if (!client.ok()) return Fail(client.error().message());
  if (!a.params.empty()) {
    // Typed by the definition's schema (a count is sent as 3, not "3"); the server validates.
    auto def = client->Call("GET", "/api/v1/definitions/" + UrlEncode(a.name));
    if (!def.ok()) return Fail(def.error().message());
    auto params = TypedParameters(a.params, def->as_object().if_contains("parameters"));
    if (!params.ok()) {
      std::cerr << "error: " << params.error().message() << "\n";
      return kExitUsage;
    }
    body["parameters"] = std::move(*params);
  }
  if (a.dry_run) {
    auto dry = client->Call("POST", "/api/v1/runs?dry_run=true", json::serialize(body));
    if (!dry.ok()) return Fail(dry.error().message());
    if (g.output == "table") {
      PrintDryRun(*dry);
    } else {
      Print(g, *dry, [] { return std::string(); });
    }
    return 0;
  }
  auto run = client->Call("POST", "/api/v1/runs", json::serialize(body));
  if (!run.ok()) return Fail(run.error().message());
  std::string id(run->as_object().at("id").as_string());
  if (!a.wait && !a.follow) {
    if (g.output == "table") {
      std::cout << id << "\n";
    } else {
      Print(g, *run, [] { return std::string(); });
    }
    return 0;
  }
  if (g.output == "table") std::cerr << fmt::format("run {} submitted\n", id);
  if (a.follow) {
    // Follow the newest attempt until the run ends (later attempts, once retries exist, too).
    while (true) {
      if (auto st = FollowLogs(*client, id, ""); !st.ok()) return Fail(st.error().message());
      auto now = client->Call("GET", "/api/v1/runs/" + id);
      if (!now.ok()) return Fail(now.error().message());
      if (IsFinal(*now)) break;
    }
  }
  auto final_run = WaitForEnd(*client, id);
  if (!final_run.ok()) return Fail(final_run.error().message());
  if (g.output == "table") {
    PrintFinal(*final_run);
  } else {
    Print(g, *final_run, [] { return std::string(); });
  }
  return ExitCodeOf(*final_run);
}

}  // namespace tug::cli
