// Live updates (server-sent events) through a real `tug server` with the local engine and
// authentication on (issue 23 item 2):
//   - a stream sees a run go submitted → ... → ended, and a run's stream ends with it;
//   - resuming with Last-Event-ID (or since) gives the rest with no gap and no duplicate;
//   - a viewer sees their groups' runs only;
//   - a client that stops reading does not hold up the others.
// No timing thresholds: every wait is on a condition, with a generous hang guard.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "net/http_client.h"
#include "net/sse.h"
#include "test_util.h"

namespace json = boost::json;

namespace tug::testing {
namespace {

using namespace std::chrono_literals;

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

/// A stream read on its own thread: every message, parsed.
class StreamReader {
 public:
  StreamReader(const std::string& url, std::string target, net::HeaderList headers) {
    auto c = net::HttpClient::Create(url, 60s);
    EXPECT_TRUE(c.ok());
    client_ = std::make_unique<net::HttpClient>(std::move(*c));
    thread_ = std::thread([this, target = std::move(target), headers = std::move(headers)] {
      int status = 0;
      (void)client_->Stream(
          "GET", target,
          [this](std::string_view data) {
            std::lock_guard lock(mu_);
            open_ = true;
            parser_.Feed(data, [this](const net::SseMessage& m) { messages_.push_back(m); });
            cv_.notify_all();
            return true;
          },
          &status, headers);
      std::lock_guard lock(mu_);
      status_ = status;
      ended_ = true;
      cv_.notify_all();
    });
  }
  ~StreamReader() {
    client_->Cancel();
    if (thread_.joinable()) thread_.join();
  }

  /// Waits until `done(messages)` holds (or the hang guard); returns whether it did.
  bool WaitUntil(const std::function<bool(const std::vector<net::SseMessage>&)>& done) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 120s, [&] { return done(messages_); });
  }
  /// Waits for the stream's first bytes: from then on the server sends every later change.
  bool WaitOpen() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 120s, [&] { return open_ || ended_; });
  }
  bool WaitEnded() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 120s, [&] { return ended_; });
  }
  std::vector<net::SseMessage> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }
  int status() {
    std::lock_guard lock(mu_);
    return status_;
  }

 private:
  std::unique_ptr<net::HttpClient> client_;
  std::mutex mu_;
  std::condition_variable cv_;
  net::SseParser parser_;                  // guarded by mu_
  std::vector<net::SseMessage> messages_;  // guarded by mu_
  int status_ = 0;                         // guarded by mu_
  bool ended_ = false;                     // guarded by mu_
  bool open_ = false;                      // guarded by mu_
  std::thread thread_;
};

json::object Data(const net::SseMessage& m) {
  auto v = json::parse(m.data);
  return v.is_object() ? v.as_object() : json::object{};
}

std::string RunOf(const net::SseMessage& m) {
  auto d = Data(m);
  auto* r = d.if_contains("run_id");
  return r != nullptr && r->is_string() ? std::string(r->as_string()) : "";
}

/// The run's events in a stream, as "type" strings.
std::vector<std::string> TypesOf(const std::vector<net::SseMessage>& ms, const std::string& run) {
  std::vector<std::string> out;
  for (const auto& m : ms) {
    if (RunOf(m) == run) out.push_back(m.event);
  }
  return out;
}

bool HasEnded(const std::vector<net::SseMessage>& ms, const std::string& run) {
  for (const auto& m : ms) {
    if (RunOf(m) == run && m.event == "ended") return true;
  }
  return false;
}

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string config =
        dir_.Write("tug.yaml", "auth:\n  enabled: true\n  bootstrap_token_file: " + dir_.path() +
                                   "/admin-token\n");
    server_ = std::make_unique<ServerProcess>(dir_.path() + "/data",
                                              std::vector<std::string>{"--config", config});
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
    std::ifstream in(dir_.path() + "/admin-token");
    std::stringstream ss;
    ss << in.rdbuf();
    admin_ = Trimmed(ss.str());
    ASSERT_FALSE(admin_.empty());
    ::setenv("TUG_CLI_CONFIG", (dir_.path() + "/cli-config").c_str(), 1);
    for (const char* group : {"science", "other"}) {
      const std::string def = dir_.Write(
          std::string("def-") + group + ".yaml",
          std::string("name: hello-") + group + "\ncommand: echo hi\ngroup: " + group + "\n");
      auto applied = server_->Tug({"--token", admin_, "apply", "-f", def});
      ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
    }
  }
  void TearDown() override {
    if (HasFailure() && server_) std::cerr << "server log:\n" << server_->Log() << "\n";
    server_.reset();
    ::unsetenv("TUG_CLI_CONFIG");
  }

  std::string Token(const std::string& user, const std::string& role, const std::string& group) {
    auto r = server_->Tug({"--token", admin_, "token", "create", "--name", user + "-e2e", "--user",
                           user, "--role", role, "--group", group});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return Trimmed(r.out);
  }
  static net::HeaderList Auth(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
  }
  std::string Submit(const std::string& token, const std::string& definition) {
    auto c = net::HttpClient::Create(server_->url());
    EXPECT_TRUE(c.ok());
    auto r = c->Send("POST", "/api/v1/runs", R"({"definition":")" + definition + R"("})",
                     "application/json", Auth(token));
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return "";
    EXPECT_EQ(r->status, 201) << r->body;
    return std::string(json::parse(r->body).at("id").as_string());
  }
  std::unique_ptr<StreamReader> Open(const std::string& target, const std::string& token,
                                     net::HeaderList extra = {}) {
    net::HeaderList h = Auth(token);
    h.insert(h.end(), extra.begin(), extra.end());
    return std::make_unique<StreamReader>(server_->url(), target, h);
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::string admin_;
};

TEST_F(EventsTest, AStreamSeesARunFromSubmittedToEndedAndResumesWithoutGapOrDuplicate) {
  const std::string ada = Token("ada", "user", "science");
  auto all = Open("/api/v1/events/stream", ada);
  // Open once its first bytes (the retry hint) came: every later change is sent.
  ASSERT_TRUE(all->WaitOpen());
  const std::string run = Submit(ada, "hello-science");
  ASSERT_TRUE(all->WaitUntil([&](const auto& ms) { return HasEnded(ms, run); }))
      << "no ended event for " << run;

  // The run's own stream: its whole timeline, then "end", then the server closes it.
  auto one = Open("/api/v1/runs/" + run + "/events?follow=true", ada);
  ASSERT_TRUE(one->WaitEnded());
  EXPECT_EQ(one->status(), 200);
  auto full = one->messages();
  ASSERT_GE(full.size(), 3u);
  EXPECT_EQ(full.back().event, "end");
  EXPECT_EQ(Data(full.back()).at("reason"), "the run ended");
  full.pop_back();
  // The all-runs stream has the same messages (once they all arrived).
  ASSERT_TRUE(
      all->WaitUntil([&](const auto& ms) { return TypesOf(ms, run).size() >= full.size(); }));
  auto types = TypesOf(all->messages(), run);
  EXPECT_EQ(types, TypesOf(full, run));
  ASSERT_FALSE(types.empty());
  EXPECT_EQ(types.front(), "submitted");
  for (const char* t : {"claimed", "launched", "started", "ended"}) {
    EXPECT_NE(std::find(types.begin(), types.end(), t), types.end()) << t;
  }
  auto last = Data(full.back());
  EXPECT_EQ(last.at("run_status"), "SUCCEEDED");
  for (size_t i = 1; i < full.size(); ++i) {
    EXPECT_LT(std::stoll(full[i - 1].id), std::stoll(full[i].id));
  }

  // Resume after each message in turn: what comes is exactly the rest.
  for (size_t k = 0; k + 1 < full.size(); ++k) {
    auto resumed =
        Open("/api/v1/runs/" + run + "/events?follow=true", ada, {{"Last-Event-ID", full[k].id}});
    ASSERT_TRUE(resumed->WaitEnded());
    auto rest = resumed->messages();
    ASSERT_FALSE(rest.empty());
    rest.pop_back();  // "end"
    ASSERT_EQ(rest.size(), full.size() - k - 1) << "resumed after " << full[k].id;
    for (size_t i = 0; i < rest.size(); ++i) {
      EXPECT_EQ(rest[i].id, full[k + 1 + i].id);
      EXPECT_EQ(rest[i].data, full[k + 1 + i].data);
    }
  }
  // The all-runs stream resumes the same way, with `since` for clients without headers.
  auto since = Open("/api/v1/events/stream?since=" + full[1].id, ada);
  ASSERT_TRUE(
      since->WaitUntil([&](const auto& ms) { return TypesOf(ms, run).size() >= full.size() - 2; }));
  auto again = TypesOf(since->messages(), run);
  EXPECT_EQ(again, std::vector<std::string>(types.begin() + 2, types.end()));

  // The CLI prints the same timeline and exits 0 once the run ended.
  auto follow = server_->Tug({"--token", ada, "events", run, "--follow", "-o", "json"});
  ASSERT_EQ(follow.exit_code, 0) << follow.out << follow.err;
  std::vector<std::string> printed;
  std::istringstream lines(follow.out);
  for (std::string line; std::getline(lines, line);) {
    printed.emplace_back(json::parse(line).at("type").as_string());
  }
  EXPECT_EQ(printed, types);
  auto table = server_->Tug({"--token", ada, "events", run, "--follow"});
  ASSERT_EQ(table.exit_code, 0) << table.out << table.err;
  EXPECT_NE(table.out.find("submitted"), std::string::npos) << table.out;

  // Bad resume points say what to send.
  auto bad = Open("/api/v1/events/stream", ada, {{"Last-Event-ID", "abc"}});
  ASSERT_TRUE(bad->WaitEnded());
  EXPECT_EQ(bad->status(), 400);
}

TEST_F(EventsTest, AViewerSeesOnlyTheirGroupsRuns) {
  const std::string ada = Token("ada", "user", "science");
  const std::string bob = Token("bob", "user", "other");
  const std::string vic = Token("vic", "viewer", "science");
  auto vic_stream = Open("/api/v1/events/stream", vic);
  auto bob_stream = Open("/api/v1/events/stream", bob);
  ASSERT_TRUE(vic_stream->WaitOpen());
  ASSERT_TRUE(bob_stream->WaitOpen());
  // Bob's run first: once vic's stream shows ada's later run ended, every event of bob's run
  // (earlier in seq) has been looked at by vic's stream too.
  const std::string bobs = Submit(bob, "hello-other");
  ASSERT_TRUE(bob_stream->WaitUntil([&](const auto& ms) { return HasEnded(ms, bobs); }));
  const std::string adas = Submit(ada, "hello-science");
  ASSERT_TRUE(vic_stream->WaitUntil([&](const auto& ms) { return HasEnded(ms, adas); }));
  EXPECT_TRUE(TypesOf(vic_stream->messages(), bobs).empty());
  for (const auto& m : vic_stream->messages()) EXPECT_EQ(RunOf(m), adas) << m.data;
  // Bob's stream has looked past ada's run when his own later run ends.
  const std::string bobs2 = Submit(bob, "hello-other");
  ASSERT_TRUE(bob_stream->WaitUntil([&](const auto& ms) { return HasEnded(ms, bobs2); }));
  EXPECT_TRUE(TypesOf(bob_stream->messages(), adas).empty());

  // A run of another group: the same answer as GET /api/v1/runs/{id}.
  auto denied = Open("/api/v1/runs/" + bobs + "/events?follow=true", vic);
  ASSERT_TRUE(denied->WaitEnded());
  EXPECT_TRUE(denied->status() == 403 || denied->status() == 404) << denied->status();
  auto anonymous =
      std::make_unique<StreamReader>(server_->url(), "/api/v1/events/stream", net::HeaderList{});
  ASSERT_TRUE(anonymous->WaitEnded());
  EXPECT_EQ(anonymous->status(), 401);
}

/// A command that runs until it is stopped (`tug get runs --watch`), read line by line.
class LongCommand {
 public:
  explicit LongCommand(const std::vector<std::string>& argv) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 1);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(fds[1]);
    fd_ = fds[0];
  }
  ~LongCommand() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  /// Reads lines until `want(line)` holds (true), or the command ends or the hang guard passes.
  bool WaitLine(const std::function<bool(const std::string&)>& want) {
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline) {
      for (size_t nl; (nl = buf_.find('\n')) != std::string::npos;) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        lines_.push_back(line);
        if (want(line)) return true;
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 1000) <= 0) continue;
      char chunk[4096];
      ssize_t n = ::read(fd_, chunk, sizeof(chunk));
      if (n <= 0) return false;
      buf_.append(chunk, static_cast<size_t>(n));
    }
    return false;
  }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buf_;
  std::vector<std::string> lines_;
};

TEST_F(EventsTest, GetRunsWatchPrintsARunAgainAsItChanges) {
  const std::string ada = Token("ada", "user", "science");
  const std::string before = Submit(ada, "hello-science");
  LongCommand watch({TugBinary(), "--server", server_->url(), "--token", ada, "get", "runs",
                     "--watch", "-o", "json"});
  // The listing comes once the stream is open, so a run submitted after it shows up.
  ASSERT_TRUE(
      watch.WaitLine([&](const std::string& l) { return l.find(before) != std::string::npos; }));
  const std::string run = Submit(ada, "hello-science");
  ASSERT_TRUE(watch.WaitLine([&](const std::string& l) {
    if (l.find(run) == std::string::npos) return false;
    return json::parse(l).at("status") == "SUCCEEDED";
  })) << "lines so far: "
      << watch.lines().size();
}

/// A connection that asks for a stream and never reads it.
class StalledClient {
 public:
  StalledClient(int port, const std::string& target, const std::string& token) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int small = 1024;  // a tiny receive window, so the server's writes back up quickly
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    std::string req =
        "GET " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\n\r\n";
    sent_ = ::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
  }
  ~StalledClient() { ::close(fd_); }
  bool ok() const { return connected_ && sent_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool sent_ = false;
};

TEST_F(EventsTest, AClientThatStopsReadingDoesNotHoldUpOthers) {
  const std::string ada = Token("ada", "user", "science");
  // History for the stalled clients to choke on: every event since the start.
  std::vector<std::string> runs;
  for (int i = 0; i < 40; ++i) runs.push_back(Submit(ada, "hello-science"));
  auto first = Open("/api/v1/events/stream?since=0", ada);
  ASSERT_TRUE(first->WaitUntil([&](const auto& ms) {
    return std::all_of(runs.begin(), runs.end(), [&](const auto& r) { return HasEnded(ms, r); });
  }));
  std::vector<std::unique_ptr<StalledClient>> stalled;
  for (int i = 0; i < 4; ++i) {
    stalled.push_back(
        std::make_unique<StalledClient>(server_->port(), "/api/v1/events/stream?since=0", ada));
    ASSERT_TRUE(stalled.back()->ok());
  }
  // While they sit there, a reader opens, and a new run goes through to its end.
  auto reader = Open("/api/v1/events/stream", ada);
  ASSERT_TRUE(reader->WaitOpen());
  const std::string run = Submit(ada, "hello-science");
  ASSERT_TRUE(reader->WaitUntil([&](const auto& ms) { return HasEnded(ms, run); }));
  ASSERT_TRUE(first->WaitUntil([&](const auto& ms) { return HasEnded(ms, run); }));
  auto c = net::HttpClient::Create(server_->url());
  ASSERT_TRUE(c.ok());
  auto got = c->Send("GET", "/api/v1/runs/" + run, "", "application/json", Auth(ada));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status, 200);
}

}  // namespace
}  // namespace tug::testing
