#pragma once
// Classic pcap (draft-ietf-opsawg-pcap §4, §5): a 24-byte file header, then records of a 16-byte
// header (seconds, micro- or nanoseconds, captured length, original length) and the captured
// bytes. Both byte orders, micro- and nanosecond magic numbers, and the "modified" format of
// Alexey Kuznetzov's patches (24-byte record headers). A record header that cannot be true is
// damage in the middle of the file: the reader scans forward for the next plausible record and
// goes on (capture/README.md, "Resynchronisation").

#include <memory>

#include "capture_reader.h"

namespace mcn::capture::detail {

// libpcap's bound on a record (MAXIMUM_SNAPLEN); a longer one cannot be true.
constexpr uint32_t kMaxCaplen = 262144;
// How far a resynchronised record's time may lie from the last good one's.
constexpr int64_t kResyncWindowUs = int64_t{86400} * 1'000'000;

// Reads the file header from `buf` (at offset 0). Null if the file is not classic pcap; then
// `err` says why if the magic number matched but the rest did not.
std::unique_ptr<CaptureReader> openPcap(FileBuffer& buf, std::string& err);

}  // namespace mcn::capture::detail
