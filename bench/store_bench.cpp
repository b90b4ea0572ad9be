// Store throughput: durable enqueue + claim + complete cycles per second.
//
// Each of --threads workers loops: CreateRuns of --batch runs (each run with its QUEUED attempt;
// the API's Submitter batches concurrent submissions the same way), ClaimAttempts of up to
// --batch due attempts (the dispatcher's batch claim, under a lease), then EndAttempt for each
// (SUCCEEDED; the run ends; the engine reports ends one by one). A cycle counts when its
// EndAttempt commits. SQLite group-commits concurrent writers; PostgreSQL commits each
// transaction on its own connection.
//
//   store_bench --store sqlite [--path F] [--sync normal|full]
//   store_bench --store postgres --url postgresql://...      (an existing server)
//   store_bench --store postgres-temp                        (starts a throwaway server, and runs
//                                                              pgbench -N on it for the baseline)
// Common: --batch B (1) --threads N (16) --seconds S (10) --rounds R (3); prints one line per round
// and the median. Never run in CI.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "core/clock.h"
#include "core/ids.h"
#if __has_include("store/postgres/pg_test_server.h")
#define TUG_BENCH_PG 1
#include "store/postgres/pg_test_server.h"
#include "store/postgres/postgres_store.h"
#endif
#include "store/sqlite/sqlite_store.h"

namespace {

using tug::Attempt;
using tug::AttemptStatus;
using tug::Micros;
using tug::Status;
using tug::store::Store;

struct Args {
  std::string store = "sqlite";
  std::string path;
  std::string url;
  std::string sync = "normal";
  int threads = 16;
  int seconds = 10;
  int rounds = 3;
  int batch = 1;  // runs per CreateRuns call (the API's Submitter batches concurrent submits)
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "store_bench: %s\nusage: store_bench --store sqlite|postgres|postgres-temp "
               "[--path F] [--url U] [--sync normal|full] [--batch B] [--threads N] [--seconds S] "
               "[--rounds R]\n",
               why.c_str());
  std::exit(2);
}

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) Usage("missing value for " + k);
    std::string v = argv[++i];
    if (k == "--store") {
      a.store = v;
    } else if (k == "--path") {
      a.path = v;
    } else if (k == "--url") {
      a.url = v;
    } else if (k == "--sync") {
      a.sync = v;
    } else if (k == "--threads") {
      a.threads = std::stoi(v);
    } else if (k == "--seconds") {
      a.seconds = std::stoi(v);
    } else if (k == "--batch") {
      a.batch = std::max(1, std::stoi(v));
    } else if (k == "--rounds") {
      a.rounds = std::stoi(v);
    } else {
      Usage("unknown flag " + k);
    }
  }
  return a;
}

tug::store::NewRun MakeRun(const tug::Clock& clock) {
  tug::store::NewRun n;
  tug::Run& r = n.run;
  r.id = tug::NewId(clock);
  r.definition = "bench";
  r.definition_version = 1;
  r.status = tug::RunStatus::kQueued;
  r.spec.name = "bench";
  r.spec.command = "true";
  r.spec.resources.memory_bytes = int64_t{256} << 20;
  r.created_at = clock.Now();
  r.updated_at = r.created_at;
  Attempt& a = n.first;
  a.id = tug::AttemptId(r.id, 1);
  a.run_id = r.id;
  a.number = 1;
  a.status = AttemptStatus::kQueued;
  a.resources = r.spec.resources;
  a.engine = "local";
  a.created_at = r.created_at;
  a.due_at = r.created_at;
  return n;
}

// One round: `seconds` of cycles from `threads` workers; returns cycles per second.
double Round(Store& store, const Args& args) {
  const tug::Clock& clock = tug::SystemClock::Instance();
  std::atomic<bool> stop{false};
  std::atomic<int64_t> cycles{0};
  std::atomic<int64_t> errors{0};
  std::vector<std::thread> workers;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < args.threads; ++t) {
    workers.emplace_back([&, t] {
      const std::string owner = fmt::format("bench/{}", t);
      while (!stop.load(std::memory_order_relaxed)) {
        std::vector<tug::store::NewRun> runs;
        for (int i = 0; i < args.batch; ++i) runs.push_back(MakeRun(clock));
        for (const Status& st : store.CreateRuns(runs)) {
          if (!st.ok()) ++errors;
        }
        // The dispatcher's batch claim, then one end per attempt as the engine reports them.
        auto claimed =
            store.ClaimAttempts(owner, clock.Now(), 30 * tug::kMicrosPerSecond, args.batch);
        if (!claimed.ok()) {
          ++errors;
          continue;
        }
        for (const Attempt& a : *claimed) {
          tug::store::AttemptEnd end;
          end.status = AttemptStatus::kSucceeded;
          end.outcome = {0, "Completed", ""};
          end.ended_at = clock.Now();
          if (store.EndAttempt(a.id, end).ok()) {
            ++cycles;
          } else {
            ++errors;
          }
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(args.seconds));
  stop = true;
  for (auto& w : workers) w.join();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (errors > 0) std::fprintf(stderr, "  (%lld store errors)\n", (long long)errors.load());
  return static_cast<double>(cycles.load()) / secs;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

#ifdef TUG_BENCH_PG
// pgbench's simple-update transaction (-N) on the same server: initialise, then run for the same
// time with the same number of clients; returns TPS.
double PgBench(const tug::store::pgtest::PgServer& pg, const Args& args) {
  const std::string bin = pg.bin_dir() + "/pgbench";
  const std::string port = std::to_string(pg.port());
  auto run = [&](const std::vector<std::string>& extra) -> std::string {
    std::vector<std::string> argv = {bin, "-h", "127.0.0.1", "-p", port, "-U", "tug"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.emplace_back("pgbench");
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    cmd += "2>&1";
    std::string out;
    FILE* f = popen(cmd.c_str(), "r");
    if (f == nullptr) return out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, f)) out.append(buf, n);
    pclose(f);
    return out;
  };
  (void)run({"-i", "-q", "-s", "10"});  // into the "pgbench" database made by the caller
  std::vector<double> tps;
  for (int r = 0; r < args.rounds; ++r) {
    std::string out = run(
        {"-N", "-c", std::to_string(args.threads), "-j", "2", "-T", std::to_string(args.seconds)});
    std::smatch m;
    if (std::regex_search(out, m, std::regex(R"(tps = ([0-9.]+))"))) {
      tps.push_back(std::stod(m[1]));
      std::printf("  pgbench -N round %d: %.0f tps\n", r + 1, tps.back());
    } else {
      std::fprintf(stderr, "pgbench failed:\n%s\n", out.c_str());
      return -1;
    }
  }
  return Median(tps);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  Args args = Parse(argc, argv);
  const tug::Clock& clock = tug::SystemClock::Instance();
#ifdef TUG_BENCH_PG
  std::unique_ptr<tug::store::pgtest::PgServer> pg;
#endif
  std::unique_ptr<Store> store;
  std::filesystem::path tmp;
  if (args.store == "sqlite") {
    if (args.path.empty()) {
      std::string tmpl = (std::filesystem::temp_directory_path() / "tug-bench-XXXXXX").string();
      if (mkdtemp(tmpl.data()) == nullptr) Usage("mkdtemp failed");
      tmp = tmpl;
      args.path = (tmp / "tug.db").string();
    }
    tug::store::SqliteOptions o;
    o.path = args.path;
    o.synchronous_full = args.sync == "full";
    auto s = tug::store::SqliteStore::Open(o, clock);
    if (!s.ok()) Usage(s.error().ToString());
    store = std::move(*s);
#ifdef TUG_BENCH_PG
  } else if (args.store == "postgres" || args.store == "postgres-temp") {
    if (args.store == "postgres-temp") {
      auto started = tug::store::pgtest::PgServer::Start();
      if (!started.ok()) Usage(started.error().ToString());
      pg = std::move(*started);
      auto url = pg->CreateDatabase("bench");
      if (!url.ok()) Usage(url.error().ToString());
      args.url = *url;
    }
    tug::store::PostgresOptions o;
    o.url = args.url;
    o.pool_size = std::max(args.threads, 1);
    auto s = tug::store::PostgresStore::Open(o, clock);
    if (!s.ok()) Usage(s.error().ToString());
    store = std::move(*s);
#endif
  } else {
    Usage("unknown store " + args.store);
  }
  std::printf("store_bench: %s, %d threads, %d s x %d rounds\n", args.store.c_str(), args.threads,
              args.seconds, args.rounds);
  std::vector<double> rates;
  for (int r = 0; r < args.rounds; ++r) {
    rates.push_back(Round(*store, args));
    std::printf("  round %d: %.0f cycles/s\n", r + 1, rates.back());
  }
  const double median = Median(rates);
  std::printf("median: %.0f cycles/s (enqueue + claim + complete)\n", median);
  if (auto* sq = dynamic_cast<tug::store::SqliteStore*>(store.get())) {
    auto st = sq->write_stats();
    std::printf(
        "group commit: %lld writes in %lld transactions (%.1f per commit), %.1f WAL pages per "
        "write\n",
        (long long)st.writes, (long long)st.transactions,
        st.transactions ? double(st.writes) / double(st.transactions) : 0.0,
        st.writes ? double(st.wal_frames) / double(st.writes) : 0.0);
  }
#ifdef TUG_BENCH_PG
  if (pg) {
    store.reset();
    if (auto db = pg->CreateDatabase("pgbench"); !db.ok()) {
      std::fprintf(stderr, "creating the pgbench database: %s\n", db.error().ToString().c_str());
      return 1;
    }
    const double tps = PgBench(*pg, args);
    if (tps <= 0) return 1;
    std::printf("pgbench -N median: %.0f tps; ratio tug/pgbench = %.2f\n", tps, median / tps);
  }
#endif
  if (!tmp.empty()) {
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(tmp, ec);
  }
  return 0;
}
