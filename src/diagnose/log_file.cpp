#include "diagnose/log_file.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "diagnose/mapped_file.h"

namespace tug::diagnose {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// Inflates `in` (the rest of the file, read on demand) member after member.
Status Gunzip(const std::string& path, std::FILE* f, std::vector<unsigned char>& in, size_t have,
              size_t chunk_bytes, const std::function<void(std::string_view)>& consume) {
  z_stream zs{};
  // 15 + 16: a gzip header and trailer (crc and length are checked).
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return Internal("zlib: inflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> end(&zs, inflateEnd);
  std::vector<char> out(chunk_bytes);
  zs.next_in = in.data();
  zs.avail_in = static_cast<uInt>(have);
  bool eof = false;
  for (;;) {
    if (zs.avail_in == 0 && !eof) {
      size_t n = std::fread(in.data(), 1, in.size(), f);
      if (n == 0) {
        if (std::ferror(f) != 0) return ErrnoError("reading '" + path + "' failed", errno);
        eof = true;
      }
      zs.next_in = in.data();
      zs.avail_in = static_cast<uInt>(n);
    }
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    int rc = inflate(&zs, Z_NO_FLUSH);
    size_t produced = out.size() - zs.avail_out;
    if (produced > 0) consume(std::string_view(out.data(), produced));
    if (rc == Z_STREAM_END) {
      // Another member may follow (concatenated .gz files). Its two magic bytes decide;
      // anything else after a member (zero padding of some archivers) is ignored, as gzip does.
      while (zs.avail_in < 2 && !eof) {
        std::memmove(in.data(), zs.next_in, zs.avail_in);
        size_t n = std::fread(in.data() + zs.avail_in, 1, in.size() - zs.avail_in, f);
        if (n == 0) {
          if (std::ferror(f) != 0) return ErrnoError("reading '" + path + "' failed", errno);
          eof = true;
        }
        zs.next_in = in.data();
        zs.avail_in += static_cast<uInt>(n);
      }
      bool more = zs.avail_in >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b;
      if (!more) return OkStatus();
      if (inflateReset(&zs) != Z_OK) return Internal("zlib: inflateReset failed");
      continue;
    }
    if (rc == Z_BUF_ERROR && eof && zs.avail_in == 0) {
      return InvalidArgument("'" + path +
                             "' ends in the middle of its gzip data (truncated?); re-fetch it, or "
                             "diagnose the part that is there: zcat '" +
                             path + "' > part.log");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      std::string why = zs.msg != nullptr ? zs.msg : "error " + std::to_string(rc);
      return InvalidArgument("'" + path + "' is not valid gzip data (" + why +
                             "); pass the uncompressed log or a complete .gz file");
    }
  }
}

}  // namespace

Status ReadLogFile(const std::string& path, const std::function<void(std::string_view)>& consume,
                   size_t chunk_bytes) {
  File f(std::fopen(path.c_str(), "rb"));
  if (f == nullptr) {
    int err = errno;
    if (err == ENOENT) {
      return NotFound("cannot open '" + path + "': " + std::strerror(err));
    }
    return ErrnoError("cannot open '" + path + "'", err);
  }
  // A plain regular file is read through memory maps (no copy out of the page cache);
  // gzip data, pipes, FIFOs and character devices through read().
  const int fd = fileno(f.get());
  struct stat st {};
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    unsigned char magic[2] = {0, 0};
    ssize_t got = pread(fd, magic, sizeof magic, 0);
    if (got >= 0 && !(got == 2 && magic[0] == 0x1f && magic[1] == 0x8b)) {
      ASSIGN_OR_RETURN(MappedRead mapped, MapFile(fd, chunk_bytes, consume));
      if (mapped.complete) return OkStatus();
      if (std::fseek(f.get(), static_cast<long>(mapped.bytes), SEEK_SET) != 0) {
        return ErrnoError("reading '" + path + "' failed", errno);
      }
    }
  }
  std::vector<unsigned char> buf(chunk_bytes);
  size_t n = std::fread(buf.data(), 1, buf.size(), f.get());
  if (n == 0 && std::ferror(f.get()) != 0) {
    return ErrnoError("reading '" + path + "' failed", errno);
  }
  if (n >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) {
    return Gunzip(path, f.get(), buf, n, chunk_bytes, consume);
  }
  while (n > 0) {
    consume(std::string_view(reinterpret_cast<const char*>(buf.data()), n));
    n = std::fread(buf.data(), 1, buf.size(), f.get());
  }
  if (std::ferror(f.get()) != 0) return ErrnoError("reading '" + path + "' failed", errno);
  return OkStatus();
}

}  // namespace tug::diagnose
