#include "mcn/web/ldap_auth.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <ldap.h>
#include <netdb.h>
#include <openldap.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace mcn::web {
namespace {

using Clock = std::chrono::steady_clock;

struct LdapFree {
  void operator()(LDAP* ld) const { ldap_unbind_ext_s(ld, nullptr, nullptr); }
};
struct MsgFree {
  void operator()(LDAPMessage* m) const { ldap_msgfree(m); }
};
using LdapPtr = std::unique_ptr<LDAP, LdapFree>;
using MsgPtr = std::unique_ptr<LDAPMessage, MsgFree>;

std::string replaceUser(std::string_view tmpl, std::string_view value) {
  std::string out;
  size_t at = 0;
  for (size_t p; (p = tmpl.find("{user}", at)) != std::string_view::npos; at = p + 6) {
    out.append(tmpl.substr(at, p - at));
    out.append(value);
  }
  out.append(tmpl.substr(at));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// A DN in one spelling (RFC 4514 string, attribute types and spacing normalised) for comparing
// memberOf values with the configured group; the DN itself when it does not parse.
std::string normalDn(const std::string& dn) {
  char* out = nullptr;
  if (ldap_dn_normalize(dn.c_str(), LDAP_DN_FORMAT_LDAPV3, &out, LDAP_DN_FORMAT_LDAPV3) !=
          LDAP_SUCCESS ||
      out == nullptr) {
    return dn;
  }
  std::string s(out);
  ldap_memfree(out);
  return s;
}

// Shuts the socket down at the deadline unless ended first: a read blocked in libldap or the
// TLS library then returns at once.
class Watchdog {
 public:
  Watchdog(int fd, Clock::time_point deadline)
      : thread_([this, fd, deadline] {
          std::unique_lock lock(mu_);
          if (!cv_.wait_until(lock, deadline, [this] { return done_; })) {
            fired_ = true;
            // Reads only: a blocked read returns end-of-file; the unbind written after it still
            // goes to the kernel's buffer, not to a SIGPIPE.
            ::shutdown(fd, SHUT_RD);
          }
        }) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  bool fired() {
    std::lock_guard lock(mu_);
    return fired_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  bool fired_ = false;
  std::thread thread_;  // last: started once the rest is made
};

// One attempt: a connection and the deadline every step of it shares.
class Attempt {
 public:
  Attempt(const LdapConfig& cfg, Clock::time_point deadline) : cfg_(cfg), deadline_(deadline) {}

  // Connects (TCP, then TLS: at once for ldaps://, after StartTLS for ldap://) and sets the
  // LDAP options. No password has been sent when this fails.
  bool open() {
    LDAPURLDesc* lud = nullptr;
    if (ldap_url_parse(cfg_.url.c_str(), &lud) != LDAP_URL_SUCCESS || lud == nullptr) {
      error_ = fmt::format("{}: not an LDAP URL", cfg_.url);
      return false;
    }
    const bool ldaps = std::string_view(lud->lud_scheme) == "ldaps";
    const std::string host =
        lud->lud_host != nullptr && *lud->lud_host != 0 ? lud->lud_host : "localhost";
    const int port = lud->lud_port != 0 ? lud->lud_port : (ldaps ? 636 : 389);
    ldap_free_urldesc(lud);
    const int fd = connectTcp(host, port);
    if (fd < 0) return false;
    // The socket is ours until libldap takes it: libldap bounds neither the TLS handshake nor a
    // server that stops answering mid-read by itself (with a network timeout its non-blocking
    // handshake spins until the peer speaks), so a watchdog shuts the socket down at the
    // deadline and every blocked read returns at once.
    watchdog_ = std::make_unique<Watchdog>(fd, deadline_);
    LDAP* ld = nullptr;
    if (int rc = ldap_init_fd(fd, LDAP_PROTO_TCP, cfg_.url.c_str(), &ld);
        rc != LDAP_SUCCESS || ld == nullptr) {
      watchdog_.reset();
      ::close(fd);
      error_ = fmt::format("{}: {}", cfg_.url, ldap_err2string(rc));
      return false;
    }
    ld_.reset(ld);
    int v3 = LDAP_VERSION3;
    int demand = LDAP_OPT_X_TLS_DEMAND;
    int tls12 = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2;
    int zero = 0;
    bool ok = ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) == LDAP_OPT_SUCCESS &&
              ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) == LDAP_OPT_SUCCESS &&
              ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) == LDAP_OPT_SUCCESS &&
              ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &tls12) == LDAP_OPT_SUCCESS;
    if (ok && !cfg_.ca_file.empty()) {
      ok = ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, cfg_.ca_file.c_str()) == LDAP_OPT_SUCCESS;
    }
    // A TLS context of this connection's own, made from the options just set (the library's
    // global one would ignore them).
    ok = ok && ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero) == LDAP_OPT_SUCCESS;
    if (!ok) {
      error_ = fmt::format("{}: the TLS settings were not accepted (ca_file {})", cfg_.url,
                           cfg_.ca_file);
      return false;
    }
    if (!ldaps && !startTls()) return false;
    return installTls();
  }

  // A simple bind; LDAP_SUCCESS, the server's code, or -1 with error_ set (timeout, network).
  int bind(const std::string& dn, std::string_view password) {
    berval cred{static_cast<ber_len_t>(password.size()), const_cast<char*>(password.data())};
    int msgid = -1;
    int rc =
        ldap_sasl_bind(ld_.get(), dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, &msgid);
    if (rc != LDAP_SUCCESS) return fail(rc, "bind");
    MsgPtr res;
    if (!await(msgid, "bind", res)) return -1;
    int code = LDAP_OTHER;
    if (ldap_parse_result(ld_.get(), res.get(), &code, nullptr, nullptr, nullptr, nullptr, 0) !=
        LDAP_SUCCESS) {
      return fail(LDAP_DECODING_ERROR, "bind");
    }
    return code;
  }

  struct Entry {
    std::string dn;
    std::vector<std::pair<std::string, std::string>> values;  // attribute, value
  };
  // A search; false with error_ set on a timeout or an error other than noSuchObject.
  bool search(const std::string& base, int scope, const std::string& filter,
              const std::vector<std::string>& attrs, int size_limit, std::vector<Entry>& out) {
    std::vector<char*> a;
    for (const auto& s : attrs) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    timeval tv = remaining();
    int msgid = -1;
    int rc = ldap_search_ext(ld_.get(), base.c_str(), scope, filter.c_str(), a.data(), 0, nullptr,
                             nullptr, &tv, size_limit, &msgid);
    if (rc != LDAP_SUCCESS) return fail(rc, "search") == LDAP_SUCCESS;
    MsgPtr res;
    if (!await(msgid, "search", res)) return false;
    for (LDAPMessage* e = ldap_first_entry(ld_.get(), res.get()); e != nullptr;
         e = ldap_next_entry(ld_.get(), e)) {
      Entry entry;
      if (char* dn = ldap_get_dn(ld_.get(), e)) {
        entry.dn = dn;
        ldap_memfree(dn);
      }
      for (const auto& name : attrs) {
        if (name == "1.1") continue;
        berval** vals = ldap_get_values_len(ld_.get(), e, name.c_str());
        if (vals == nullptr) continue;
        for (berval** v = vals; *v != nullptr; ++v) {
          entry.values.emplace_back(name, std::string((*v)->bv_val, (*v)->bv_len));
        }
        ldap_value_free_len(vals);
      }
      out.push_back(std::move(entry));
    }
    int code = LDAP_OTHER;
    if (ldap_parse_result(ld_.get(), res.get(), &code, nullptr, nullptr, nullptr, nullptr, 0) !=
        LDAP_SUCCESS) {
      return fail(LDAP_DECODING_ERROR, "search") == LDAP_SUCCESS;
    }
    if (code == LDAP_SUCCESS || code == LDAP_NO_SUCH_OBJECT || code == LDAP_SIZELIMIT_EXCEEDED) {
      return true;
    }
    error_ = fmt::format("{}: search under {}: {}", cfg_.url, base, ldap_err2string(code));
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  timeval remaining() const {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline_ - Clock::now());
    if (left.count() < 1000) left = std::chrono::microseconds(1000);
    return timeval{static_cast<time_t>(left.count() / 1000000),
                   static_cast<suseconds_t>(left.count() % 1000000)};
  }

  // RFC 4511 §4.14: the StartTLS extended operation (the handshake follows in installTls). A
  // server without it is refused: no password in the clear.
  bool startTls() {
    int msgid = -1;
    int rc =
        ldap_extended_operation(ld_.get(), LDAP_EXOP_START_TLS, nullptr, nullptr, nullptr, &msgid);
    if (rc != LDAP_SUCCESS) return fail(rc, "StartTLS") == LDAP_SUCCESS;
    MsgPtr res;
    if (!await(msgid, "StartTLS", res)) return false;
    int code = LDAP_OTHER;
    char* text = nullptr;
    if (ldap_parse_result(ld_.get(), res.get(), &code, nullptr, &text, nullptr, nullptr, 0) !=
        LDAP_SUCCESS) {
      code = LDAP_DECODING_ERROR;
    }
    std::string server_text = text != nullptr ? text : "";
    ldap_memfree(text);
    if (code != LDAP_SUCCESS) {
      error_ = fmt::format(
          "{}: the server refused StartTLS ({}{}{}): no password is sent without "
          "TLS",
          cfg_.url, ldap_err2string(code), server_text.empty() ? "" : ": ", server_text);
      return false;
    }
    return true;
  }

  // The TLS handshake on the connection, the server's certificate verified against ca_file
  // and the URL's host (RFC 6125).
  bool installTls() {
    int rc = ldap_install_tls(ld_.get());
    if (rc == LDAP_SUCCESS) return true;
    if (watchdog_->fired()) {
      error_ =
          fmt::format("{}: the TLS handshake timed out after {} ms", cfg_.url, cfg_.timeout_ms);
      return false;
    }
    // Debian's libldap (GnuTLS) keeps the handshake's reason to itself; these are its causes.
    error_ = fmt::format(
        "{}: TLS handshake failed ({}): the server's certificate could not be verified "
        "(certificate "
        "verify failed: not signed by a CA in {}, or not for this host), or the server does not "
        "speak TLS there",
        cfg_.url, ldap_err2string(rc),
        cfg_.ca_file.empty() ? std::string("the system's trust store") : cfg_.ca_file);
    return false;
  }

  // A non-blocking connect bounded by the deadline; the socket (blocking again) or -1.
  int connectTcp(const std::string& host, int port) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0) {
      error_ = fmt::format("{}: {}: {}", cfg_.url, host, gai_strerror(rc));
      return -1;
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, ::freeaddrinfo);
    std::string why = "no address";
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      int fd =
          ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
      if (fd < 0) continue;
      int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
        pollfd p{fd, POLLOUT, 0};
        rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
        if (rc == 0) {
          ::close(fd);
          error_ = fmt::format("{}: connect timed out after {} ms", cfg_.url, cfg_.timeout_ms);
          return -1;
        }
        int so = 0;
        socklen_t len = sizeof so;
        rc = rc > 0 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) == 0 && so == 0 ? 0 : -1;
        if (rc != 0) errno = so;
      }
      if (rc == 0) {
        const int flags = ::fcntl(fd, F_GETFL);
        ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
        return fd;
      }
      why = std::strerror(errno);
      ::close(fd);
    }
    error_ = fmt::format("{}: cannot connect: {}", cfg_.url, why);
    return -1;
  }

  bool await(int msgid, std::string_view what, MsgPtr& res) {
    timeval tv = remaining();
    LDAPMessage* m = nullptr;
    int rc = ldap_result(ld_.get(), msgid, LDAP_MSG_ALL, &tv, &m);
    res.reset(m);
    if (rc == 0) {
      ldap_abandon_ext(ld_.get(), msgid, nullptr, nullptr);
      error_ = fmt::format("{}: {} timed out after {} ms", cfg_.url, what, cfg_.timeout_ms);
      return false;
    }
    if (rc < 0) {
      int code = LDAP_OTHER;
      ldap_get_option(ld_.get(), LDAP_OPT_RESULT_CODE, &code);
      fail(code, what);
      return false;
    }
    return true;
  }

  // Sets error_ from the library's code and its diagnostic message (where the TLS library's
  // reason is, e.g. "certificate verify failed"); returns -1.
  int fail(int rc, std::string_view what) {
    char* diag = nullptr;
    ldap_get_option(ld_.get(), LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
    std::string d = diag != nullptr ? diag : "";
    ldap_memfree(diag);
    if (rc == LDAP_TIMEOUT || (watchdog_ && watchdog_->fired())) {
      error_ = fmt::format("{}: {} timed out after {} ms", cfg_.url, what, cfg_.timeout_ms);
    } else {
      error_ = fmt::format("{}: {}: {}{}{}", cfg_.url, what, ldap_err2string(rc),
                           d.empty() ? "" : ": ", d);
    }
    return -1;
  }

  const LdapConfig& cfg_;
  Clock::time_point deadline_;
  LdapPtr ld_;
  // Destroyed before ld_ (which closes the socket): it never shuts down a reused descriptor.
  std::unique_ptr<Watchdog> watchdog_;
  std::string error_;
};

}  // namespace

std::string escapeDnValue(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(v[i]);
    const bool special = c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '>' ||
                         c == '\\' || c == '=';
    const bool edge = (i == 0 && (c == ' ' || c == '#')) || (i + 1 == v.size() && c == ' ');
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\{:02x}", c);
    } else if (special || edge) {
      out += '\\';
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string escapeFilterValue(std::string_view v) {
  std::string out;
  for (unsigned char c : v) {
    if (c == '*' || c == '(' || c == ')' || c == '\\' || c < 0x20 || c == 0x7f) {
      out += fmt::format("\\{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string ldapConfigProblem(const LdapConfig& c) {
  if (c.url.empty()) return {};
  if (!c.url.starts_with("ldaps://") && !c.url.starts_with("ldap://")) {
    return "web.ldap_url: expected ldaps://host:port (or ldap://host:port, which then requires "
           "StartTLS)";
  }
  if (c.url.find(' ') != std::string::npos) {
    return "web.ldap_url: one server URL, no spaces";
  }
  if (c.user_dn.empty() == c.base.empty()) {
    return "web.ldap_url: set either web.ldap_user_dn (a DN template) or web.ldap_base "
           "(search-then-bind), not both";
  }
  if (!c.user_dn.empty() && c.user_dn.find("{user}") == std::string::npos) {
    return "web.ldap_user_dn: the DN template needs {user}";
  }
  if (!c.base.empty()) {
    if (c.filter.find("{user}") == std::string::npos || !c.filter.starts_with("(") ||
        !c.filter.ends_with(")")) {
      return "web.ldap_filter: expected a filter in parentheses with {user}, e.g. (uid={user})";
    }
    if (c.bind_dn.empty() != c.bind_password_ref.empty()) {
      return "web.ldap_bind_dn: set web.ldap_bind_dn and web.ldap_bind_password_ref together";
    }
  }
  return {};
}

LdapAuthenticator::LdapAuthenticator(LdapConfig cfg, std::string bind_password)
    : cfg_(std::move(cfg)), bind_password_(std::move(bind_password)) {
  if (cfg_.url.empty()) throw std::invalid_argument("web.ldap_url: not set");
  if (std::string p = ldapConfigProblem(cfg_); !p.empty()) throw std::invalid_argument(p);
}

LdapAuthenticator::Result LdapAuthenticator::authenticate(std::string_view user,
                                                          std::string_view password) {
  Result r;
  auto refuse = [&](std::string why) {
    ++refused_;
    r.outcome = Outcome::kRefused;
    r.error = std::move(why);
    return r;
  };
  if (password.empty()) {
    // RFC 4513 §5.1.2: a name with an empty password is an unauthenticated bind, which servers
    // answer with success. Never send one.
    return refuse("an empty password is not accepted");
  }
  if (password.size() > kMaxPassword) return refuse("the password is too long");
  if (user.empty() || user.size() > kMaxUser) {
    return refuse(fmt::format("the user name must be 1 to {} bytes", kMaxUser));
  }
  for (unsigned char c : user) {
    if (c < 0x20 || c == 0x7f) return refuse("the user name holds a control character");
  }

  const auto deadline = Clock::now() + std::chrono::milliseconds(cfg_.timeout_ms);
  Attempt a(cfg_, deadline);
  auto error = [&](std::string why) {
    ++errors_;
    r.outcome = Outcome::kError;
    r.error = std::move(why);
    return r;
  };
  auto badCredentials = [&]() {
    ++failed_;
    r.outcome = Outcome::kBadCredentials;
    r.error = "wrong user name or password";
    return r;
  };
  if (!a.open()) return error(a.error());

  std::string dn;
  if (!cfg_.user_dn.empty()) {
    dn = replaceUser(cfg_.user_dn, escapeDnValue(user));
  } else {
    if (!cfg_.bind_dn.empty()) {
      int rc = a.bind(cfg_.bind_dn, bind_password_);
      if (rc != LDAP_SUCCESS) {
        return error(rc < 0 ? a.error()
                            : fmt::format("{}: the service account {} could not bind: {}", cfg_.url,
                                          cfg_.bind_dn, ldap_err2string(rc)));
      }
    }
    std::vector<Attempt::Entry> found;
    if (!a.search(cfg_.base, LDAP_SCOPE_SUBTREE, replaceUser(cfg_.filter, escapeFilterValue(user)),
                  {"1.1"}, 2, found)) {
      return error(a.error());
    }
    // None: no such user; two: the name is ambiguous, and binding either could sign in the
    // wrong person.
    if (found.size() != 1 || found[0].dn.empty()) return badCredentials();
    dn = found[0].dn;
  }

  int rc = a.bind(dn, password);
  if (rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_INVALID_DN_SYNTAX || rc == LDAP_NO_SUCH_OBJECT) {
    return badCredentials();
  }
  if (rc != LDAP_SUCCESS) {
    return error(rc < 0 ? a.error() : fmt::format("{}: bind: {}", cfg_.url, ldap_err2string(rc)));
  }
  r.user_dn = dn;

  // The user's own entry: the person id and memberOf, read as the user.
  std::vector<std::string> attrs{"memberOf"};
  if (!cfg_.person_attribute.empty()) attrs.push_back(cfg_.person_attribute);
  std::vector<Attempt::Entry> self;
  if (!a.search(dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 1, self)) {
    return error(a.error());
  }
  if (cfg_.person_attribute.empty()) {
    r.person_id = std::string(user);
  } else if (!self.empty()) {
    for (const auto& [name, value] : self[0].values) {
      if (iequals(name, cfg_.person_attribute)) {
        r.person_id = value;
        break;
      }
    }
  }
  if (!cfg_.operator_group.empty()) {
    const std::string group = normalDn(cfg_.operator_group);
    if (!self.empty()) {
      for (const auto& [name, value] : self[0].values) {
        if (iequals(name, "memberOf") && iequals(normalDn(value), group)) r.is_operator = true;
      }
    }
    if (!r.is_operator) {
      // The group's own member list (groupOfNames / groupOfUniqueNames, RFC 4519).
      std::vector<Attempt::Entry> g;
      const std::string esc = escapeFilterValue(dn);
      if (!a.search(cfg_.operator_group, LDAP_SCOPE_BASE,
                    fmt::format("(|(member={0})(uniqueMember={0}))", esc), {"1.1"}, 1, g)) {
        // Not an operator then; the sign-in as staff still stands.
        spdlog::warn("web: LDAP operator group {} unreadable for {}: {}", cfg_.operator_group, dn,
                     a.error());
      }
      r.is_operator = !g.empty();
    }
  }
  ++ok_;
  r.ok = true;
  r.outcome = Outcome::kOk;
  return r;
}

}  // namespace mcn::web
