#pragma once
/// The config keys that are one value each ("engine.cgroup" / TUG_CGROUP): their YAML path,
/// environment variable and setter. Internal to the config code (config.cpp walks YAML files
/// and the environment with the table; config_keys.cpp holds it).
#include <span>
#include <string>

#include "server/config.h"

namespace tug::server {

struct ConfigKey {
  const char* yaml_path;  // "engine.cgroup"
  const char* env;        // "TUG_CGROUP"; "" : file only
  Status (*set)(Config&, const std::string&);
};

std::span<const ConfigKey> ConfigKeys();

/// Sets `out` from "true" or "false"; anything else is kInvalidArgument naming `what` and the
/// value. Shared by the config code's boolean keys.
Status SetBool(bool& out, const std::string& v, const std::string& what);

}  // namespace tug::server
