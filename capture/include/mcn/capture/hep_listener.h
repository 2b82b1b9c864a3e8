#pragma once
// A HEP collector endpoint: UDP and TCP sockets on one address and port, each HEP packet handed on
// as a Frame of link type LinkType::kHep (decoder.h), so a FrameDecoder decodes it like any frame
// and the live pipeline treats a listener like an interface. Receive only: it never answers.
// Sockets stay inside capture/src/hep_listener.cc.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "mcn/capture/pcap_source.h"

namespace mcn::capture {

struct HepListenerOptions {
  // "127.0.0.1:9060", "[::1]:9060", "10.0.0.5" (port 9060), ":9060" or "9060" (loopback). A numeric
  // address: HEP has no key by default, so the listener binds where it is told, never to a name.
  std::string address = "127.0.0.1:9060";
  bool udp = true;
  bool tcp = true;
  // TCP connections held at once; one more is accepted and closed (tcp_refused).
  size_t max_connections = 64;
  // The largest HEP packet framed from TCP (the HEP3 length field allows 65535).
  size_t max_packet_bytes = 65535;
};

struct HepListenerStats {
  uint64_t datagrams = 0;     // UDP datagrams received
  uint64_t tcp_accepted = 0;  // TCP connections accepted
  uint64_t tcp_refused = 0;   // connections closed at once: max_connections reached
  uint64_t tcp_packets = 0;   // HEP packets framed from TCP
  uint64_t tcp_resyncs = 0;   // times framing resumed at a "HEP3" after bytes that were not
  uint64_t tcp_skipped_bytes = 0;
};

// Parses "ADDR:PORT", "[V6]:PORT", "ADDR", ":PORT" or "PORT" (loopback) into a numeric address and
// a port (default 9060). Returns false with a reason in `error`.
bool parseHepAddress(const std::string& text, std::string& host, uint16_t& port,
                     std::string& error);

class HepListener {
 public:
  // Binds (SO_REUSEADDR for TCP) and listens. Throws std::runtime_error naming the address.
  explicit HepListener(const HepListenerOptions& opts);
  ~HepListener();
  HepListener(const HepListener&) = delete;
  HepListener& operator=(const HepListener&) = delete;

  // The address as bound ("127.0.0.1:9060"; the real port when 0 was asked for).
  const std::string& name() const;
  uint16_t port() const;
  int linkType() const;

  // Waits at most timeout_ms for data, then calls fn for every HEP packet available (at most
  // max_frames). Frame::ts_us is the arrival time (CLOCK_REALTIME). Returns the number of
  // packets, or -1 on a socket error (see error()).
  int dispatch(const std::function<void(const Frame&)>& fn, int max_frames = 256,
               int timeout_ms = 10);
  HepListenerStats stats() const;
  const std::string& error() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mcn::capture
