// HepListener (hep_listener.h): poll(2) over one UDP socket, one TCP listening socket and the
// accepted connections. Every connection has its own HepStreamFramer; a connection that sends
// bytes no framing can use only costs its own buffer, bounded by max_packet_bytes plus what one
// read brings.

#include "mcn/capture/hep_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "mcn/capture/decoder.h"
#include "mcn/capture/hep.h"

namespace mcn::capture {
namespace {

int64_t nowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd = o.fd;
      o.fd = -1;
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

void nonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace

bool parseHepAddress(const std::string& text, std::string& host, uint16_t& port,
                     std::string& error) {
  port = kHepDefaultPort;
  std::string h = text, p;
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    h.clear();  // a bare port: loopback
    p = text;
  } else if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos) {
      error = "missing ']' in " + text;
      return false;
    }
    h = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') {
        error = "expected ':' after ']' in " + text;
        return false;
      }
      p = text.substr(close + 2);
    }
  } else if (const size_t colon = text.rfind(':'); colon != std::string::npos) {
    if (text.find(':') != colon) {
      error = "an IPv6 address needs brackets: [ADDR]:PORT in " + text;
      return false;
    }
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
  }
  if (h.empty()) h = "127.0.0.1";
  if (!text.empty() && text.back() == ':') {
    error = "missing port in " + text;
    return false;
  }
  if (!p.empty()) {
    unsigned long v = 0;
    for (char c : p) {
      if (c < '0' || c > '9' || v > 65535) {
        error = "bad port in " + text;
        return false;
      }
      v = v * 10 + static_cast<unsigned long>(c - '0');
    }
    if (v > 65535) {
      error = "bad port in " + text;
      return false;
    }
    port = static_cast<uint16_t>(v);
  }
  in6_addr a6{};
  in_addr a4{};
  if (inet_pton(AF_INET, h.c_str(), &a4) != 1 && inet_pton(AF_INET6, h.c_str(), &a6) != 1) {
    error = "not a numeric address: " + h;
    return false;
  }
  host = h;
  return true;
}

struct HepListener::Impl {
  HepListenerOptions opts;
  std::string name;
  uint16_t port = 0;
  Fd udp;
  Fd tcp;
  struct Conn {
    Fd fd;
    HepStreamFramer framer;
    uint64_t resyncs = 0, skipped = 0;  // the framer's, already added to stats
  };
  std::vector<Conn> conns;
  HepListenerStats stats;
  std::string error;
  std::vector<uint8_t> buf = std::vector<uint8_t>(65536);
  std::vector<pollfd> pfds;

  void bindAll() {
    std::string host;
    std::string err;
    if (!parseHepAddress(opts.address, host, port, err)) throw std::runtime_error("hep: " + err);
    sockaddr_storage ss{};
    socklen_t sl = 0;
    int family = AF_INET;
    if (host.find(':') != std::string::npos) {
      family = AF_INET6;
      auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
      s6->sin6_family = AF_INET6;
      s6->sin6_port = htons(port);
      inet_pton(AF_INET6, host.c_str(), &s6->sin6_addr);
      sl = sizeof(sockaddr_in6);
    } else {
      auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
      s4->sin_family = AF_INET;
      s4->sin_port = htons(port);
      inet_pton(AF_INET, host.c_str(), &s4->sin_addr);
      sl = sizeof(sockaddr_in);
    }
    auto fail = [&](const char* what) {
      throw std::runtime_error(std::string(what) + " " + opts.address + ": " +
                               std::strerror(errno));
    };
    // With port 0 the TCP socket picks the port and UDP takes the same one.
    if (opts.tcp) {
      tcp = Fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (tcp.fd < 0) fail("hep: socket");
      int one = 1;
      ::setsockopt(tcp.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (family == AF_INET6) ::setsockopt(tcp.fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
      if (::bind(tcp.fd, reinterpret_cast<sockaddr*>(&ss), sl) != 0) fail("hep: cannot bind TCP");
      if (::listen(tcp.fd, 16) != 0) fail("hep: cannot listen on");
      nonBlocking(tcp.fd);
      sockaddr_storage got{};
      socklen_t gl = sizeof got;
      ::getsockname(tcp.fd, reinterpret_cast<sockaddr*>(&got), &gl);
      port = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&got)->sin6_port
                                      : reinterpret_cast<sockaddr_in*>(&got)->sin_port);
      (family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                          : reinterpret_cast<sockaddr_in*>(&ss)->sin_port) = htons(port);
    }
    if (opts.udp) {
      udp = Fd(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      if (udp.fd < 0) fail("hep: socket");
      int one = 1;
      if (family == AF_INET6) ::setsockopt(udp.fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
      // A burst of HEP from a busy proxy: a few MB of kernel buffer before datagrams are lost.
      int rcvbuf = 8 << 20;
      ::setsockopt(udp.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
      if (::bind(udp.fd, reinterpret_cast<sockaddr*>(&ss), sl) != 0) fail("hep: cannot bind UDP");
      nonBlocking(udp.fd);
      if (!opts.tcp) {
        sockaddr_storage got{};
        socklen_t gl = sizeof got;
        ::getsockname(udp.fd, reinterpret_cast<sockaddr*>(&got), &gl);
        port = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&got)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&got)->sin_port);
      }
    }
    name = (family == AF_INET6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }

  // Reads what a connection has; false when it is closed (EOF or error).
  bool readConn(Conn& c, const std::function<void(const Frame&)>& fn, int& n, int max_frames) {
    for (;;) {
      const ssize_t got = ::recv(c.fd.fd, buf.data(), buf.size(), 0);
      if (got == 0) return false;
      if (got < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      c.framer.append({buf.data(), static_cast<size_t>(got)});
      const int64_t ts = nowUs();
      for (auto p = c.framer.next(); !p.empty(); p = c.framer.next()) {
        ++stats.tcp_packets;
        Frame f;
        f.ts_us = ts;
        f.wire_len = static_cast<uint32_t>(p.size());
        f.data = p;
        f.link_type = static_cast<int>(LinkType::kHep);
        fn(f);
        ++n;
      }
      stats.tcp_resyncs += c.framer.resyncs() - c.resyncs;
      stats.tcp_skipped_bytes += c.framer.skipped_bytes() - c.skipped;
      c.resyncs = c.framer.resyncs();
      c.skipped = c.framer.skipped_bytes();
      // A sender whose bytes never frame: the framer keeps at most max_packet_bytes of a packet
      // in progress plus one read; drop the rest rather than grow.
      if (c.framer.buffered() > opts.max_packet_bytes + buf.size()) c.framer.reset();
      if (n >= max_frames) return true;
    }
  }
};

HepListener::HepListener(const HepListenerOptions& opts) : impl_(std::make_unique<Impl>()) {
  impl_->opts = opts;
  if (!opts.udp && !opts.tcp) throw std::runtime_error("hep: neither UDP nor TCP");
  impl_->bindAll();
}

HepListener::~HepListener() = default;

const std::string& HepListener::name() const { return impl_->name; }
uint16_t HepListener::port() const { return impl_->port; }
int HepListener::linkType() const { return static_cast<int>(LinkType::kHep); }
HepListenerStats HepListener::stats() const { return impl_->stats; }
const std::string& HepListener::error() const { return impl_->error; }

int HepListener::dispatch(const std::function<void(const Frame&)>& fn, int max_frames,
                          int timeout_ms) {
  Impl& m = *impl_;
  m.pfds.clear();
  if (m.udp.fd >= 0) m.pfds.push_back({m.udp.fd, POLLIN, 0});
  if (m.tcp.fd >= 0) m.pfds.push_back({m.tcp.fd, POLLIN, 0});
  const size_t first_conn = m.pfds.size();
  for (const auto& c : m.conns) m.pfds.push_back({c.fd.fd, POLLIN, 0});
  const int rc = ::poll(m.pfds.data(), m.pfds.size(), timeout_ms);
  if (rc < 0) {
    if (errno == EINTR) return 0;
    m.error = std::string("poll: ") + std::strerror(errno);
    return -1;
  }
  if (rc == 0) return 0;
  int n = 0;
  size_t k = 0;
  if (m.udp.fd >= 0) {
    if (m.pfds[k++].revents & POLLIN) {
      while (n < max_frames) {
        const ssize_t got = ::recv(m.udp.fd, m.buf.data(), m.buf.size(), MSG_TRUNC);
        if (got < 0) break;
        ++m.stats.datagrams;
        Frame f;
        f.ts_us = nowUs();
        f.wire_len = static_cast<uint32_t>(got);
        // MSG_TRUNC returns the real length: a datagram longer than the buffer is cut (and the
        // decoder sees a HEP length running past the bytes: hep.truncated).
        f.data = {m.buf.data(), std::min(static_cast<size_t>(got), m.buf.size())};
        f.link_type = static_cast<int>(LinkType::kHep);
        fn(f);
        ++n;
      }
    }
  }
  if (m.tcp.fd >= 0) {
    if (m.pfds[k++].revents & POLLIN) {
      for (;;) {
        const int c = ::accept4(m.tcp.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) break;
        if (m.conns.size() >= m.opts.max_connections) {
          ::close(c);
          ++m.stats.tcp_refused;
          continue;
        }
        ++m.stats.tcp_accepted;
        Impl::Conn conn;
        conn.fd = Fd(c);
        conn.framer = HepStreamFramer(m.opts.max_packet_bytes);
        m.conns.push_back(std::move(conn));
      }
    }
  }
  // Connections polled this round are the first (pfds.size() - first_conn) of conns; those
  // accepted just now wait for the next round.
  const size_t polled = m.pfds.size() - first_conn;
  std::vector<size_t> closed;
  for (size_t i = 0; i < polled; ++i) {
    const short re = m.pfds[first_conn + i].revents;
    if (re == 0) continue;
    if (!m.readConn(m.conns[i], fn, n, max_frames) || (re & (POLLERR | POLLNVAL))) {
      closed.push_back(i);
    }
  }
  for (auto it = closed.rbegin(); it != closed.rend(); ++it) {
    m.conns.erase(m.conns.begin() + static_cast<std::ptrdiff_t>(*it));
  }
  return n;
}

}  // namespace mcn::capture
