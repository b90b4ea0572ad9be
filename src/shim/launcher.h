#pragma once
/// The shim launcher: one long-lived process per local engine that forks shims, so a launch
/// costs a fork of a small process instead of a fork and an exec (the exec of even the small
/// static `tug-shim` costs ~0.6 ms of CPU here, most of it the C library's start-up probing the
/// CPU, which traps to the hypervisor on a VM; a fork of the launcher ~0.1 ms).
///
/// Started by the engine as `<shim command> --launcher` in its own session, with stdout/stderr
/// on the state directory's shim.log and a SOCK_SEQPACKET socket named by
/// $TUG_SHIM_LAUNCHER_FD. Each request is one message: the attempt directory as its bytes, and
/// as SCM_RIGHTS the handshake pipe's write end and, if the launch holds one, the attempt's
/// locked directory. For each, the launcher forks a child that starts a new session, writes
/// "pid <its pid>\n" on the handshake pipe and runs RunShim on the directory with the two fds
/// named in $TUG_SHIM_HANDSHAKE_FD / $TUG_SHIM_LOCK_FD — from there on exactly the shim a
/// `<shim command> DIR` exec would be (it closes every other inherited fd). If fork fails the
/// launcher answers "error internal <why>" itself.
///
/// The launcher reaps its children (they are shims; the engine learns how each ended from its
/// pidfd and status.json, as for a shim it adopted), and exits when the engine's end of the
/// socket closes (the engine shut down or its process died); running shims are re-parented and
/// go on. Single-threaded; SIGCHLD through a signalfd.

namespace tug::engine::local {

/// The launcher's main; argv[argc - 1] is "--launcher". Returns the exit code: 0 when the
/// engine closed the socket, 2 when started without one.
int RunLauncher(int argc, char** argv);

}  // namespace tug::engine::local
