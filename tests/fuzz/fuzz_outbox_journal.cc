// libFuzzer target: bytes as the durable outbox's journal (notifier/include/mcn/notifier/outbox.h),
// read at start after a crash: torn tails, flipped bits, lengths past the end, checksums that hold
// over JSON that is no record. Open never fails on content; it compacts, so a second open of the
// same file finds nothing damaged and owes exactly what the first one did. The input is written
// to memory-backed /dev/shm because the outbox reads a file.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mcn/notifier/outbox.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/dev/shm/mcn-fuzz-outbox-" + std::to_string(getpid());
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  mcn::notifier::ManualClock clock;
  mcn::notifier::OutboxRecovered first;
  {
    mcn::notifier::Outbox o(path, 100, clock);
    if (!o.open(first, nullptr)) std::abort();  // only I/O makes open fail
  }
  mcn::notifier::OutboxRecovered second;
  mcn::notifier::Outbox o(path, 100, clock);
  if (!o.open(second, nullptr)) std::abort();
  uint64_t corrupt = 1;
  o.forEachCounter([&](std::string_view k, uint64_t v) {
    if (k == "notify.outbox_corrupt_records") corrupt = v;
  });
  if (corrupt != 0) std::abort();  // the compacted file is clean
  if (second.calls != first.calls) std::abort();
  if (second.notifications.size() != first.notifications.size()) std::abort();
  for (size_t i = 0; i < first.notifications.size(); ++i) {
    if (second.notifications[i].idempotency_key != first.notifications[i].idempotency_key ||
        second.notifications[i].calls != first.notifications[i].calls) {
      std::abort();
    }
  }
  std::remove((path + ".tmp").c_str());
  return 0;
}
