#pragma once
// Live capture from one network interface through libpcap (pcap_create/pcap_activate). Receive
// only: mcn never calls pcap_inject/pcap_sendpacket, so it never transmits on a capture
// interface. libpcap types stay inside capture/src/pcap_live.cc.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "mcn/capture/pcap_source.h"

namespace mcn::capture {

struct LiveOptions {
  std::string interface;
  int snaplen = 262144;         // at least 65535: a SIP message over UDP may be 64 KB
  int buffer_bytes = 64 << 20;  // kernel ring (pcap_set_buffer_size)
  bool promisc = true;          // a SPAN port delivers frames addressed to other hosts
  bool immediate = true;        // deliver each packet at once (latency) ...
  int timeout_ms = 10;          // ... else batch up to this long (pcap_set_timeout)
  std::string filter;           // BPF (pcap-filter(7)); empty = defaultLiveFilter(link type)
  // Non-zero: join the interface's PACKET_FANOUT group with this id (1..65535) in hash mode with
  // PACKET_FANOUT_FLAG_DEFRAG, so several sockets (threads) share the interface's frames: the
  // kernel hashes each frame's flow (addresses and ports, the same for both directions) and
  // reassembles IP fragments before hashing, so every fragment of a datagram reaches the socket
  // its flow hashes to. A TCP stream is one flow: all its segments reach one socket.
  uint16_t fanout_group = 0;
};

struct LiveStats {
  uint64_t received = 0;        // frames delivered to mcn
  uint64_t kernel_dropped = 0;  // ps_drop: the kernel ring was full
  uint64_t if_dropped = 0;      // ps_ifdrop: dropped by the interface/driver
};

class PcapLiveSource {
 public:
  // Opens and activates the capture (needs CAP_NET_RAW). Throws std::runtime_error with
  // libpcap's message naming the interface.
  explicit PcapLiveSource(const LiveOptions& opts);
  ~PcapLiveSource();
  PcapLiveSource(const PcapLiveSource&) = delete;
  PcapLiveSource& operator=(const PcapLiveSource&) = delete;

  int linkType() const;
  const std::string& filter() const;  // the BPF filter in force

  // Waits at most timeout_ms for frames, then calls fn for every frame available (at most
  // max_frames). Returns the number of frames (0 after a quiet wait), or -1 on a capture
  // error (see error()).
  int dispatch(const std::function<void(const Frame&)>& fn, int max_frames = 256);

  // Kernel and interface drop counters (pcap_stats). Cumulative since open.
  LiveStats stats() const;
  const std::string& error() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mcn::capture
