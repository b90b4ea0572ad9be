#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include "core/clock.h"

namespace tug::log {
namespace {

std::shared_ptr<spdlog::logger>& Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::stderr_logger_mt("tug");
    l->set_pattern("%v");
    l->set_level(spdlog::level::info);
    l->flush_on(spdlog::level::info);
    return l;
  }();
  return logger;
}

spdlog::level::level_enum ToSpd(Level level) {
  switch (level) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

const char* Name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

}  // namespace

bool SetLevel(std::string_view level) {
  if (level == "debug")
    Logger()->set_level(spdlog::level::debug);
  else if (level == "info")
    Logger()->set_level(spdlog::level::info);
  else if (level == "warn")
    Logger()->set_level(spdlog::level::warn);
  else if (level == "error")
    Logger()->set_level(spdlog::level::err);
  else
    return false;
  return true;
}

void Write(Level level, std::string_view msg, Fields fields) {
  auto& logger = Logger();
  if (!logger->should_log(ToSpd(level))) return;
  boost::json::object o;
  o["ts"] = FormatTimestamp(SystemClock::Instance().Now());
  o["level"] = Name(level);
  o["msg"] = msg;
  for (const auto& [k, v] : fields) o[k] = v;
  logger->log(ToSpd(level), boost::json::serialize(o));
}

}  // namespace tug::log
