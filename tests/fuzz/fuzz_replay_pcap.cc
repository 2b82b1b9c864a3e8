// libFuzzer target: a whole capture file through `mcn replay` (mcn's own file readers, decoder,
// parser, tracker, JSON output). The input is written to a file in memory-backed /dev/shm
// because the readers read a file descriptor.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>

#include "mcn/app/config.h"
#include "mcn/app/replay.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/dev/shm/mcn-fuzz-replay-" + std::to_string(getpid()) + ".pcap";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  std::ostringstream calls;
  try {
    mcn::app::runReplay({path}, mcn::app::defaultConfig(), {&calls, nullptr});
  } catch (const std::runtime_error&) {
    // Not a capture file: the CLI turns this into exit code 2.
  }
  return 0;
}
