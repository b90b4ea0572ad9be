#pragma once
/// A fatal signal's report: on SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT the process writes one
/// line naming the signal, the faulting address and the thread, then the stack (return
/// addresses as `binary(+offset)`, for addr2line), to stderr, and dies of the same signal as
/// before (a core file where the system keeps them). Without it a server that crashes leaves
/// only the kernel's one-line "segfault at ..." in dmesg.
///
/// The handler runs on its own stack (a stack overflow is reported too) and uses only
/// async-signal-safe calls, after glibc's backtrace() was warmed up at install time.
namespace tug {

/// Installs the handlers once per process. In AddressSanitizer/ThreadSanitizer builds it does
/// nothing unless `even_under_sanitizer` (their own reports are better); tests pass true.
void InstallCrashReport(bool even_under_sanitizer = false);

}  // namespace tug
