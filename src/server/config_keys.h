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

}  // namespace tug::server
