// libFuzzer target: bytes as a capture file through PcapFileSource, mcn's own pcap and pcapng
// readers (every block and record length, sections, interfaces, resynchronisation after damage).
// Every frame's bytes are read (so ASan sees a frame reaching past what was read) and its length
// checked against the input's. The input is written to memory-backed /dev/shm because the
// readers read a file descriptor.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "mcn/capture/pcap_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path =
      "/dev/shm/mcn-fuzz-pcapng-" + std::to_string(getpid()) + ".pcapng";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    mcn::capture::PcapFileSource src(path);
    uint64_t frames = 0;
    uint64_t bytes = 0;
    mcn::capture::Frame fr;
    while (src.next(fr)) {
      ++frames;
      uint8_t sum = 0;
      for (uint8_t b : fr.data) sum ^= b;
      bytes += fr.data.size() + (sum & 1);
      // A frame is bytes of the file: never longer than it, and frames never more than records.
      if (fr.data.size() > size || frames > size) std::abort();
    }
    const mcn::capture::FileReadStats st = src.stats();
    if (st.skipped_bytes > size) std::abort();
    (void)bytes;
  } catch (const std::runtime_error&) {
    // Neither pcap nor pcapng: the CLI turns this into exit code 2.
  }
  return 0;
}
