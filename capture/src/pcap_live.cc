#include "mcn/capture/pcap_live.h"

#include <linux/if_packet.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "mcn/capture/bpf.h"

namespace mcn::capture {

struct PcapLiveSource::Impl {
  pcap_t* p = nullptr;
  int link_type = 0;
  int fd = -1;
  int wait_ms = 10;
  std::string filter;
  std::string error;
  const std::function<void(const Frame&)>* fn = nullptr;

  ~Impl() {
    if (p != nullptr) pcap_close(p);
  }

  static void onPacket(u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
    auto* self = reinterpret_cast<Impl*>(user);
    Frame f;
    f.ts_us = static_cast<int64_t>(h->ts.tv_sec) * 1000000 + h->ts.tv_usec;
    f.wire_len = h->len;
    f.data = std::span<const uint8_t>(bytes, h->caplen);
    f.link_type = self->link_type;
    (*self->fn)(f);
  }
};

namespace {

[[noreturn]] void fail(pcap_t* p, const std::string& iface, const std::string& what) {
  std::string msg = "capture on " + iface + ": " + what;
  if (p != nullptr) {
    msg += ": ";
    msg += pcap_geterr(p);
  }
  throw std::runtime_error(msg);
}

}  // namespace

PcapLiveSource::PcapLiveSource(const LiveOptions& opts) : impl_(std::make_unique<Impl>()) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  impl_->p = pcap_create(opts.interface.c_str(), errbuf);
  if (impl_->p == nullptr) {
    throw std::runtime_error("capture on " + opts.interface + ": " + errbuf);
  }
  pcap_t* p = impl_->p;
  // A SIP message over UDP may reach 64 KB (RFC 3261 §18.1.1 only advises staying under the
  // MTU); a shorter snaplen would truncate it silently.
  pcap_set_snaplen(p, std::max(opts.snaplen, 65535));
  pcap_set_promisc(p, opts.promisc ? 1 : 0);
  pcap_set_timeout(p, std::max(opts.timeout_ms, 1));
  if (opts.buffer_bytes > 0) pcap_set_buffer_size(p, opts.buffer_bytes);
  if (opts.immediate) pcap_set_immediate_mode(p, 1);
  pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_MICRO);
  int rc = pcap_activate(p);
  if (rc < 0) fail(p, opts.interface, pcap_statustostr(rc));
  // Non-blocking reads behind our own poll(): libpcap's read timeout does not bound a wait on
  // every version and ring type (with immediate mode on TPACKET_V3 kernels it may block until
  // the next packet), and a quiet SPAN port must not delay a shutdown.
  if (pcap_setnonblock(p, 1, errbuf) != 0) {
    throw std::runtime_error("capture on " + opts.interface + ": " + errbuf);
  }
  impl_->fd = pcap_get_selectable_fd(p);
  if (impl_->fd < 0) fail(p, opts.interface, "no selectable descriptor");
  if (opts.fanout_group != 0) {
    // After pcap_activate: the socket is bound to the interface, which the group is per.
    const int arg = opts.fanout_group | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
    if (setsockopt(pcap_fileno(p), SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) != 0) {
      throw std::runtime_error("capture on " + opts.interface + ": PACKET_FANOUT group " +
                               std::to_string(opts.fanout_group) + ": " + std::strerror(errno));
    }
  }
  impl_->wait_ms = std::max(opts.timeout_ms, 1);
  impl_->link_type = pcap_datalink(p);
  impl_->filter = opts.filter.empty() ? defaultLiveFilter(impl_->link_type) : opts.filter;
  bpf_program prog{};
  if (pcap_compile(p, &prog, impl_->filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    fail(p, opts.interface, "BPF filter does not compile");
  }
  rc = pcap_setfilter(p, &prog);
  pcap_freecode(&prog);
  if (rc != 0) fail(p, opts.interface, "cannot set the BPF filter");
}

PcapLiveSource::~PcapLiveSource() = default;

int PcapLiveSource::linkType() const { return impl_->link_type; }
const std::string& PcapLiveSource::filter() const { return impl_->filter; }
const std::string& PcapLiveSource::error() const { return impl_->error; }

int PcapLiveSource::dispatch(const std::function<void(const Frame&)>& fn, int max_frames) {
  pollfd pfd{impl_->fd, POLLIN, 0};
  int ready = ::poll(&pfd, 1, impl_->wait_ms);
  if (ready == 0) return 0;
  if (ready < 0) return errno == EINTR ? 0 : (impl_->error = "poll failed", -1);
  impl_->fn = &fn;
  int n =
      pcap_dispatch(impl_->p, max_frames, &Impl::onPacket, reinterpret_cast<u_char*>(impl_.get()));
  impl_->fn = nullptr;
  if (n == PCAP_ERROR) {
    impl_->error = pcap_geterr(impl_->p);
    return -1;
  }
  return std::max(n, 0);
}

LiveStats PcapLiveSource::stats() const {
  LiveStats s;
  pcap_stat ps{};
  if (pcap_stats(impl_->p, &ps) == 0) {
    s.received = ps.ps_recv;
    s.kernel_dropped = ps.ps_drop;
    s.if_dropped = ps.ps_ifdrop;
  }
  return s;
}

}  // namespace mcn::capture
