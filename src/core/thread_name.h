#pragma once
/// Names the calling thread (top -H, perf, gdb show it); at most 15 characters are kept.
#include <pthread.h>

#include <string>
#include <string_view>

namespace tug {

inline void SetThreadName(std::string_view name) {
  std::string n(name.substr(0, 15));
  pthread_setname_np(pthread_self(), n.c_str());
}

}  // namespace tug
