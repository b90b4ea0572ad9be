#pragma once
/// Reading a regular file through memory maps, for `tug diagnose` (log_file.h): the scanner
/// reads the page cache in place instead of having read() copy it into a buffer. That copy
/// took 0.15-0.2 s of CPU per GB here; mapping 16 MiB windows 0.004-0.02 s over the large
/// folios of a file read from disk, 0.1 s over the 4 KiB folios a small-write logger leaves.
/// The scan then reads DRAM instead of a buffer in L2, which its kernels prefetch for
/// (literal_prefilter.cpp): 2.6 GB/s end to end with read(), 2.9-4.0 GB/s mapped
/// (docs/benchmarks.md).
///
/// The file is mapped in windows (kMapWindow bytes, MAP_POPULATE) and handed on in slices; the
/// file's size is taken again (fstat) before every slice and nothing past it is mapped or
/// handed on, so a log that grows is read to its end as with read(), and one truncated or
/// rotated in place between slices ends the read there. A truncation during a slice cannot
/// be ruled out that way: touching a mapped page past the new end raises SIGBUS. A process-wide
/// SIGBUS handler (installed on first use, chaining to the one before it for faults
/// elsewhere) maps zero-filled memory over the rest of the calling thread's window and lets
/// the access go on; the read then ends after that slice. The slice may so end in NUL bytes
/// instead of text the truncation removed (the kernel zeroes a cut page the same way), which
/// matches no pattern.
///
/// Blocking; one thread per call; distinct calls may run on distinct threads (the window is
/// thread-local).
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace tug::diagnose {

/// Bytes mapped at a time (a multiple of every page size). Mapped pages count in the peak
/// RSS while mapped (they are the page cache's, shared, not the process's own).
inline constexpr size_t kMapWindow = size_t{16} << 20;

/// How a MapFile call ended.
struct MappedRead {
  size_t bytes = 0;        // bytes handed to `consume`, from the start of the file
  bool truncated = false;  // the file shrank under the read, which ended there
  bool complete = true;    // false: an mmap failed (a file system without mmap, no address
                           // space): the caller reads on from offset `bytes` with read()
};

/// Calls `consume` with consecutive slices (each at most `slice_bytes`, at least 1) of the
/// regular file open on `fd`, from its start to its end. Errors: Internal (with errno) if
/// fstat fails.
[[nodiscard]] Result<MappedRead> MapFile(int fd, size_t slice_bytes,
                                         const std::function<void(std::string_view)>& consume);

}  // namespace tug::diagnose
