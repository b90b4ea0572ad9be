#include "diagnose/line_condition.h"

#include <cstring>

namespace tug::diagnose {

bool LineCondition::Holds(std::string_view line) const {
  if (always()) return true;
  for (const auto& sets : alternatives) {
    bool all = true;
    for (const auto& set : sets) {
      bool any = false;
      for (const std::string& s : set) {
        if (line.find(s) != std::string_view::npos) {
          any = true;
          break;
        }
      }
      if (!any) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

bool LineCondition::HoldsAround(const char* data, size_t n, size_t at) const {
  const void* before = at == 0 ? nullptr : memrchr(data, '\n', at);
  size_t begin =
      before == nullptr ? 0 : static_cast<size_t>(static_cast<const char*>(before) - data) + 1;
  const void* after = std::memchr(data + at, '\n', n - at);
  size_t end = after == nullptr ? n : static_cast<size_t>(static_cast<const char*>(after) - data);
  return Holds(std::string_view(data + begin, end - begin));
}

}  // namespace tug::diagnose
