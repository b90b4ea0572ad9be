#include "core/crash_report.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

#include <string>

namespace tug {
namespace {

// A child faults on a real access (an inaccessible page: no undefined behaviour for the
// sanitizers to catch first); the parent reads what it wrote on stderr and how it died.
TEST(CrashReport, AFaultIsReportedWithItsAddressThreadAndStackThenKillsAsBefore) {
  void* page = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(page, MAP_FAILED);
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(out[1], STDERR_FILENO);
    ::close(out[0]);
    ::prctl(PR_SET_NAME, "crash-test", 0, 0, 0);
    ::signal(SIGSEGV, SIG_DFL);
    InstallCrashReport(/*even_under_sanitizer=*/true);
    *static_cast<volatile int*>(page) = 1;
    ::_exit(0);  // not reached
  }
  ::close(out[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ::munmap(page, 4096);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit " << WEXITSTATUS(status) << "\n" << text;
  EXPECT_EQ(WTERMSIG(status), SIGSEGV) << text;
  char addr[32];
  std::snprintf(addr, sizeof addr, "%p", page);
  EXPECT_NE(text.find(std::string("tug: fatal SIGSEGV at address ") + addr), std::string::npos)
      << text;
  EXPECT_NE(text.find("in thread 'crash-test'"), std::string::npos) << text;
  // At least one frame after the header line.
  size_t header_end = text.find('\n');
  ASSERT_NE(header_end, std::string::npos) << text;
  EXPECT_GT(text.size(), header_end + 1) << text;
  EXPECT_NE(text.find("[0x", header_end), std::string::npos) << text;
}

}  // namespace
}  // namespace tug
