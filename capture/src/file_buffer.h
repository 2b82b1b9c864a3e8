#pragma once
// A forward-only window over a file descriptor, shared by the classic pcap and the pcapng
// readers. The readers look at bytes in place (no copy per record) and ask for "at least n bytes
// from here"; the buffer refills with read(2), so a regular file, a pipe and standard input are
// read the same way. Not a memory map: a file cut short by another process while mapped would
// kill mcn with SIGBUS; a short read here is only the end of what there is.

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace mcn::capture::detail {

class FileBuffer {
 public:
  // Well inside the L2 cache (2 MiB per core here): the decoder then reads each record where the
  // kernel's copy left it. 4 MiB, twice the L2, was ~3 % slower on the 2 M-frame replay.
  static constexpr size_t kInitialBytes = size_t{512} << 10;

  // `fd` is owned (closed by the destructor). `max_window` bounds what one have() may ask for.
  FileBuffer(int fd, size_t max_window) : fd_(fd), max_window_(max_window) {
    size_t initial = kInitialBytes < max_window ? kInitialBytes : max_window;
    // A small regular file needs no more (fixtures, and the fuzz targets' inputs); have() grows
    // the window if the file grows while read.
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 &&
        static_cast<uint64_t>(st.st_size) < initial) {
      initial = static_cast<size_t>(st.st_size) + 64;
    }
    buf_.resize(initial);
  }
  ~FileBuffer() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileBuffer(const FileBuffer&) = delete;
  FileBuffer& operator=(const FileBuffer&) = delete;

  // File offset of the next unread byte.
  uint64_t pos() const { return pos_; }
  // The bytes from pos(); at least as many as the last successful have() asked for.
  const uint8_t* data() const { return buf_.data() + (pos_ - buf_off_); }
  size_t available() const { return static_cast<size_t>(buf_off_ + buf_len_ - pos_); }
  void advance(size_t n) { pos_ += n; }

  // At least `need` bytes from pos() in the window, reading more as needed; false if the file
  // ends (or a read fails) first, or need exceeds max_window.
  bool have(size_t need) {
    if (need <= available()) return true;
    // Nothing more will come: answer at once rather than move the window (a scan near the end
    // of a file asks at every byte).
    if (need > max_window_ || eof_) return false;
    const size_t keep = available();
    if (keep > 0 && pos_ != buf_off_) std::memmove(buf_.data(), data(), keep);
    buf_off_ = pos_;
    buf_len_ = keep;
    if (need > buf_.size()) {
      const size_t usual = kInitialBytes < max_window_ ? kInitialBytes : max_window_;
      buf_.resize(need > usual ? need : usual);
    }
    while (buf_len_ < need && !eof_) {
      const ssize_t n = ::read(fd_, buf_.data() + buf_len_, buf_.size() - buf_len_);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        eof_ = true;
        read_error_ = n < 0 ? errno : 0;
        break;
      }
      buf_len_ += static_cast<size_t>(n);
    }
    return buf_len_ >= need;
  }

  // errno of a failed read (0: the file simply ended).
  int readError() const { return read_error_; }

 private:
  int fd_;
  size_t max_window_;
  std::vector<uint8_t> buf_;
  uint64_t buf_off_ = 0;  // file offset of buf_[0]
  size_t buf_len_ = 0;    // valid bytes in buf_
  uint64_t pos_ = 0;
  bool eof_ = false;
  int read_error_ = 0;
};

}  // namespace mcn::capture::detail
