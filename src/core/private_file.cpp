#include "core/private_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace tug {

namespace {

Error WriteError(const std::string& path, int err) {
  return Unavailable(fmt::format("cannot write '{}': {}", path, std::strerror(err)));
}

}  // namespace

Result<bool> WritePrivateFile(const std::string& path, std::string_view text, IfExists if_exists) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return WriteError(path, errno);
  ssize_t n = ::write(fd, text.data(), text.size());
  int err = n < 0 ? errno : EIO;  // a short write without errno: report an I/O error
  bool written = n == static_cast<ssize_t>(text.size());
  if (written && ::fsync(fd) != 0) {
    written = false;
    err = errno;
  }
  ::close(fd);
  if (!written) {
    ::unlink(tmp.c_str());
    return WriteError(path, err);
  }
  if (if_exists == IfExists::kReplace) {
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      err = errno;
      ::unlink(tmp.c_str());
      return WriteError(path, err);
    }
    return true;
  }
  // link() fails with EEXIST instead of replacing: the race between writers has one winner.
  int linked = ::link(tmp.c_str(), path.c_str());
  err = errno;
  ::unlink(tmp.c_str());
  if (linked == 0) return true;
  if (err == EEXIST) return false;
  return WriteError(path, err);
}

}  // namespace tug
