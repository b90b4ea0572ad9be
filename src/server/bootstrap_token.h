#pragma once
/// The first admin token of a server with bearer tokens on (auth.bootstrap_token_file): without
/// one nobody could call `tug token create`. At start the server
///   - reads the file when it exists (a token an operator put there, e.g. from a Kubernetes
///     Secret, or one an earlier start wrote) and registers it as an admin token named
///     "bootstrap" of user "admin" unless the store has it already;
///   - otherwise makes a token, writes it there (created exclusively, mode 0600) and registers it.
/// A revoked bootstrap token stays revoked: revoke it once real admins have their own tokens.
///
/// Threading: call once at start, before serving. Replicas sharing the file and the store may
/// start at once: the file is created exclusively and a token registered twice is one token.
/// Errors: kInvalidArgument for a file that does not hold a tug token; kUnavailable when the
/// file cannot be read or written; the store's errors.
#include <string>

#include "core/clock.h"
#include "core/error.h"
#include "store/store.h"

namespace tug::server {

struct BootstrapResult {
  std::string token_id;
  bool wrote_file = false;  // a new token was made and written
  bool registered = false;  // the store did not have it before
  bool revoked = false;     // the store has it, revoked
};

[[nodiscard]] Result<BootstrapResult> BootstrapAdminToken(store::Store& store,
                                                          const std::string& path,
                                                          const Clock& clock);

}  // namespace tug::server
