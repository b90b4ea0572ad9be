#pragma once
/// The composition root's translations of the server config (`tug server`, serve.cpp): into the
/// engines' settings and clients (serve_engines.cpp), and into the config itself and the
/// authenticator (serve_config.cpp). Only serve*.cpp include this.
#include <memory>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "auth/authenticator.h"
#include "aws/aws_client.h"
#include "cli/cli.h"
#include "core/clock.h"
#include "core/error.h"
#include "engine/emr/job_run.h"
#include "engine/spark/submit.h"
#include "server/config.h"
#include "store/store.h"

namespace tug::serve_internal {

// serve_engines.cpp

engine::spark::SparkSettings SparkSettingsFor(const server::Config& config);
engine::emr::EmrSettings EmrSettingsFor(const server::Config& config);
/// For a dry run without an emr section.
engine::emr::EmrSettings EmrPlaceholders(const std::string& spark_version);
[[nodiscard]] Result<std::unique_ptr<aws::AwsClient>> EmrAwsClient(const server::EmrConfig& e,
                                                                   const std::string& service,
                                                                   const std::string& endpoint,
                                                                   const Clock& clock);
/// The local engine's shim command (`engine.shim`, else `tug-shim` beside this binary, else
/// `tug __shim`).
std::vector<std::string> ShimCommand(const std::string& configured);

// serve_config.cpp

/// The server config: defaults, then the file (--config, else TUG_CONFIG), the environment and
/// the flags, validated.
[[nodiscard]] Result<server::Config> LoadConfig(const cli::ServerFlags& flags);
[[nodiscard]] Result<std::unique_ptr<auth::Authenticator>> MakeAuthenticator(
    const server::AuthConfig& a, store::Store& store, const Clock& clock);
boost::json::object AuthClientConfig(const server::AuthConfig& a);

}  // namespace tug::serve_internal
