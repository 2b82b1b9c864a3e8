#pragma once
// Real receivers on loopback for the delivery tests: cpp-httplib servers on 127.0.0.1 with a
// kernel-chosen free port, each in its own thread; a hand-written SMTP peer; a listener that
// never answers. Plus the seams (scripted Random, a dead-letter sink in memory) and the
// receivers' own crypto (OpenSSL directly, independent of the code under test).

#include <httplib.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mcn/notifier/clock.h"
#include "mcn/notifier/delivery.h"
#include "mcn/notifier/notification.h"

namespace mcn::notifier::testing {

// 2023-11-14T22:13:20Z: every signature in these tests is computed at this instant.
inline constexpr int64_t kT0Us = 1'700'000'000'000'000;
inline constexpr int64_t kSecond = 1'000'000;

// ---- receiver-side crypto (OpenSSL, not the code under test) ----

inline std::string testBase64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()),
                          static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

inline std::string testBase64Decode(std::string_view b64) {
  std::string out(3 * b64.size() / 4 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  if (n < 0) return {};
  size_t pad = 0;
  if (!b64.empty() && b64.back() == '=') ++pad;
  if (b64.size() > 1 && b64[b64.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

inline std::string testHmacSha256B64(std::string_view key, std::string_view msg) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  static const unsigned char kEmpty = 0;
  HMAC(EVP_sha256(), key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data()),
       static_cast<int>(key.size()),
       msg.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out,
       &len);
  return testBase64(std::string_view(reinterpret_cast<const char*>(out), len));
}

// ---- seams ----

// Returns the scripted values in order, then repeats the last one.
class ScriptedRandom : public Random {
 public:
  explicit ScriptedRandom(std::vector<uint64_t> values) : values_(std::move(values)) {}
  uint64_t next() override {
    if (values_.empty()) return 0;
    uint64_t v = values_[std::min(pos_, values_.size() - 1)];
    ++pos_;
    return v;
  }
  size_t drawn() const { return pos_; }

 private:
  std::vector<uint64_t> values_;
  size_t pos_ = 0;
};

struct DeadLetterEntry {
  Notification n;
  std::string reason;
  std::string error;
  int attempts = 0;
  int64_t at_us = 0;
};

class MemoryDeadLetters : public DeadLetterSink {
 public:
  void write(const Notification& n, std::string_view reason, std::string_view last_error,
             int attempts, int64_t at_us) override {
    entries.push_back({n, std::string(reason), std::string(last_error), attempts, at_us});
  }
  std::vector<DeadLetterEntry> entries;
};

// ---- HTTP receiver ----

struct Received {
  std::string method;
  std::string path;
  std::string target;  // raw request-target, query included
  httplib::Params params;
  httplib::Headers headers;
  std::string body;
  int remote_port = -1;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  std::string param(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
  }
};

struct Reply {
  Reply(int s = 200, std::string b = {}, std::string ct = "application/json",
        httplib::Headers h = {})
      : status(s), body(std::move(b)), content_type(std::move(ct)), headers(std::move(h)) {}
  int status;
  std::string body;
  std::string content_type;
  httplib::Headers headers;
};

class TestHttpServer {
 public:
  using Handler = std::function<Reply(const Received&, size_t index)>;

  explicit TestHttpServer(Handler handler) : handler_(std::move(handler)) {
    auto serve = [this](const httplib::Request& req, httplib::Response& res) {
      Received r{req.method,  req.path, req.target,     req.params,
                 req.headers, req.body, req.remote_port};
      size_t index;
      {
        std::lock_guard<std::mutex> lock(mu_);
        index = received_.size();
        received_.push_back(r);
      }
      Reply reply = handler_(r, index);
      res.status = reply.status;
      for (const auto& [k, v] : reply.headers) res.set_header(k, v);
      res.set_content(reply.body, reply.content_type.c_str());
    };
    server_.Post(".*", serve);
    server_.Get(".*", serve);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::yield();
  }
  ~TestHttpServer() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path_and_query) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path_and_query;
  }
  std::vector<Received> received() const {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  size_t count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return received_.size();
  }

 private:
  Handler handler_;
  httplib::Server server_;
  int port_ = -1;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<Received> received_;
};

// A TCP listener that accepts connections (the kernel completes the handshake from the
// backlog) and never answers: a server that hangs.
class HangingListener {
 public:
  HangingListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~HangingListener() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// ---- SMTP peer ----

// A self-signed certificate for 127.0.0.1 (subjectAltName IP), made in-process so no key file
// lives in the repository; `ca_path` gets the certificate as the client's trust anchor.
struct TestCertificate {
  explicit TestCertificate(const std::string& ca_path) {
    key = EVP_EC_gen("P-256");
    cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 7 * 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    for (auto [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1"},
                              std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
      X509_add_ext(cert, ext, -1);
      X509_EXTENSION_free(ext);
    }
    X509_sign(cert, key, EVP_sha256());
    FILE* f = std::fopen(ca_path.c_str(), "w");
    PEM_write_X509(f, cert);
    std::fclose(f);
  }
  ~TestCertificate() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
  TestCertificate(const TestCertificate&) = delete;
  TestCertificate& operator=(const TestCertificate&) = delete;
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
};

// A minimal ESMTP server (RFC 5321 §4.1 command set: EHLO, MAIL, RCPT, DATA, QUIT) on loopback.
// kPlain offers no STARTTLS; kImplicitTls wraps the connection in TLS first (smtps).
class SmtpTestServer {
 public:
  enum class Mode { kPlain, kImplicitTls };

  SmtpTestServer(Mode mode, const TestCertificate* cert = nullptr, int rcpt_reply = 250)
      : mode_(mode), rcpt_reply_(rcpt_reply) {
    if (mode_ == Mode::kImplicitTls) {
      ctx_ = SSL_CTX_new(TLS_server_method());
      SSL_CTX_use_certificate(ctx_, cert->cert);
      SSL_CTX_use_PrivateKey(ctx_, cert->key);
    }
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 4);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~SmtpTestServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }
  SmtpTestServer(const SmtpTestServer&) = delete;
  SmtpTestServer& operator=(const SmtpTestServer&) = delete;

  int port() const { return port_; }
  std::vector<std::string> commands() const {
    std::lock_guard<std::mutex> lock(mu_);
    return commands_;
  }
  std::vector<std::string> messages() const {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }

 private:
  bool waitReadable(int fd, SSL* ssl) {
    while (!stop_) {
      if (ssl != nullptr && SSL_pending(ssl) > 0) return true;
      pollfd p{fd, POLLIN, 0};
      int r = ::poll(&p, 1, 20);
      if (r > 0) return true;
      if (r < 0) return false;
    }
    return false;
  }

  void run() {
    while (!stop_) {
      if (!waitReadable(fd_, nullptr)) return;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      SSL* ssl = nullptr;
      if (mode_ == Mode::kImplicitTls) {
        ssl = SSL_new(ctx_);
        SSL_set_fd(ssl, c);
        if (SSL_accept(ssl) != 1) {
          SSL_free(ssl);
          ::close(c);
          continue;
        }
      }
      session(c, ssl);
      if (ssl != nullptr) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
      }
      ::close(c);
    }
  }

  void session(int c, SSL* ssl) {
    std::string buf;
    auto send = [&](const std::string& s) {
      if (ssl != nullptr) {
        SSL_write(ssl, s.data(), static_cast<int>(s.size()));
      } else {
        (void)!::write(c, s.data(), s.size());
      }
    };
    auto readLine = [&](std::string& line) {
      for (;;) {
        size_t eol = buf.find("\r\n");
        if (eol != std::string::npos) {
          line = buf.substr(0, eol);
          buf.erase(0, eol + 2);
          return true;
        }
        if (!waitReadable(c, ssl)) return false;
        char tmp[4096];
        int n = ssl != nullptr ? SSL_read(ssl, tmp, sizeof tmp)
                               : static_cast<int>(::read(c, tmp, sizeof tmp));
        if (n <= 0) return false;
        buf.append(tmp, static_cast<size_t>(n));
      }
    };
    send("220 mcn-test ESMTP\r\n");
    std::string line;
    while (readLine(line)) {
      std::string verb = line.substr(0, 4);
      for (char& ch : verb) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      {
        std::lock_guard<std::mutex> lock(mu_);
        commands_.push_back(line);
      }
      if (verb == "EHLO") {
        send("250-mcn-test\r\n250 8BITMIME\r\n");  // no STARTTLS offered
      } else if (verb == "MAIL") {
        send("250 2.1.0 Ok\r\n");
      } else if (verb == "RCPT") {
        send(rcpt_reply_ == 250 ? "250 2.1.5 Ok\r\n"
                                : std::to_string(rcpt_reply_) + " 5.1.1 No such user\r\n");
      } else if (verb == "DATA") {
        send("354 End data with <CR><LF>.<CR><LF>\r\n");
        std::string msg;
        while (readLine(line) && line != ".") msg += line + "\r\n";
        {
          std::lock_guard<std::mutex> lock(mu_);
          messages_.push_back(msg);
        }
        send("250 2.0.0 Ok: queued\r\n");
      } else if (verb == "QUIT") {
        send("221 2.0.0 Bye\r\n");
        return;
      } else if (verb == "RSET" || verb == "NOOP") {
        send("250 2.0.0 Ok\r\n");
      } else {
        send("502 5.5.2 Error: command not recognized\r\n");
      }
    }
  }

  Mode mode_;
  int rcpt_reply_;
  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<std::string> commands_;
  std::vector<std::string> messages_;
};

// Drives the engine (poll waits on curl's sockets) until `done` or a generous wall-clock bound
// so a broken engine fails the test instead of hanging it. Not a timing assertion.
inline bool driveUntil(Delivery& d, const std::function<bool()>& done, int bound_ms = 5000) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(bound_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    d.poll(20);
  }
  return true;
}

// Drives until nothing is in flight and nothing is due at the ManualClock's current instant.
inline bool driveIdle(Delivery& d, const Clock& clock, int bound_ms = 5000) {
  return driveUntil(
      d,
      [&] {
        auto due = d.nextDueUs();
        return d.inFlight() == 0 && (!due || *due > clock.nowUs());
      },
      bound_ms);
}

// The engine with its seams, on a ManualClock at kT0Us.
struct Engine {
  explicit Engine(DeliveryConfig cfg = {}, std::vector<uint64_t> randoms = {0})
      : clock(kT0Us), random(std::move(randoms)), delivery(cfg, clock, random, creds, dead) {}
  ManualClock clock;
  ScriptedRandom random;
  CredentialStore creds;
  MemoryDeadLetters dead;
  Delivery delivery;

  bool run() {
    return driveUntil(delivery, [&] { return delivery.pending() == 0; });
  }
  bool idle() { return driveIdle(delivery, clock); }
  uint64_t counter(std::string_view name) const { return delivery.counter(name); }
};

inline calls::CallRecord sampleCall() {
  calls::CallRecord c;
  c.call_id = "c1@pbx.example";
  c.caller = "+8613900101230";
  c.caller_name = "韩梅梅";
  c.callee = "+862583001013";
  c.outcome = calls::Outcome::kNoAnswer;
  c.missed = true;
  c.status = 480;
  c.started_at_us = kT0Us - 80 * kSecond;          // 2023-11-14T22:12:00.000Z
  c.ended_at_us = kT0Us - 49 * kSecond - 500'000;  // 2023-11-14T22:12:30.500Z
  c.ring_ms = 29000;
  return c;
}

inline Notification sampleNotification(subscribers::ChannelKind kind, std::string target,
                                       std::string key = "k-7f3a9c") {
  Notification n;
  n.person_id = "e1024";
  n.person_name = "李雷";
  n.channel.id = "hook";
  n.channel.kind = kind;
  n.channel.target = std::move(target);
  n.idempotency_key = std::move(key);
  n.calls = {sampleCall()};
  n.title = "未接来电 (1)";
  n.text = "韩梅梅 +8613900101230 呼叫 +862583001013, 无人接听";
  n.created_at_us = kT0Us;
  return n;
}

}  // namespace mcn::notifier::testing
