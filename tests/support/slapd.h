#pragma once
// A real OpenLDAP slapd owned by a test: its own slapd.conf, mdb database and TLS certificates
// in a temporary directory, on free ports of a loopback address (the LDAP helper's 127.0.7.0/24).
// The tree, loaded by slapadd before the start:
//
//   dc=mcn,dc=test
//     ou=people: uid=alice (employeeNumber p-alice, an operator), uid=bob (p-bob),
//                uid=carol (p-carol: no such mcn person), uid=dave (no employeeNumber),
//                uid=eve (p-eve, listed in the uniqueMember group),
//                uid=frank (p-frank, memberOf: cn=mcn-operators-h)
//     cn=mcn-reader      the search-then-bind service account
//     cn=mcn-operators   groupOfNames: alice
//     cn=mcn-operators-u groupOfUniqueNames: eve
//     cn=mcn-operators-h groupOfNames: frank, readable by nobody (as groups often are to users):
//                        only frank's own memberOf (the memberof overlay's attribute, as Active
//                        Directory and OpenLDAP with that overlay give it) says he is in it
//
// Served on ldap:// and ldaps:// of 127.0.7.1, and ldaps:// of 127.0.7.3 (a name the certificate
// does not carry). Every password is "<uid>-secret" ("reader-secret" for the service account).
// Anonymous clients may bind and find a person's entry by uid under ou=people (nothing else); a
// bound one reads everything but passwords. The certificates are
// made at start by the openssl command: a CA, the server's certificate for CN/SAN IP 127.0.7.1
// signed by it, and a second CA that signed nothing (a client trusting only it must refuse the
// server).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "child_process.h"
#include "free_port.h"

namespace mcn::test {

// True once a TCP connection to addr:port succeeds.
inline bool tcpAccepts(const char* addr, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, addr, &a.sin_addr);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

class Slapd {
 public:
  static constexpr const char* kAddr = "127.0.7.1";
  // The same server on another address, whose name its certificate (127.0.7.1) does not carry.
  static constexpr const char* kOtherAddr = "127.0.7.3";
  static constexpr const char* kSuffix = "dc=mcn,dc=test";
  static constexpr const char* kPeople = "ou=people,dc=mcn,dc=test";
  static constexpr const char* kOperators = "cn=mcn-operators,dc=mcn,dc=test";
  static constexpr const char* kOperatorsUnique = "cn=mcn-operators-u,dc=mcn,dc=test";
  static constexpr const char* kOperatorsHidden = "cn=mcn-operators-h,dc=mcn,dc=test";
  static constexpr const char* kReader = "cn=mcn-reader,dc=mcn,dc=test";

  Slapd() = default;
  Slapd(const Slapd&) = delete;
  Slapd& operator=(const Slapd&) = delete;
  ~Slapd() {
    process_.kill();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  // Starts slapd and waits until it accepts connections. `tls`: false serves plain LDAP only
  // (no certificate: StartTLS is refused). "" when it runs, else why not.
  std::string start(bool tls = true) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mcn_slapd_XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return "mkdtemp failed";
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ / "db");
    if (tls) {
      const std::string d = dir_.string();
      const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
      std::ofstream(dir_ / "san.cnf") << "subjectAltName=IP:" << kAddr << "\n";
      const std::string cmd =
          "cd '" + d + "' && openssl req -x509" + ec +
          "-keyout ca.key -out ca.crt -days 2 -subj '/CN=mcn test CA' && openssl req -x509" + ec +
          "-keyout other-ca.key -out other-ca.crt -days 2 -subj '/CN=mcn other CA' && "
          "openssl req" +
          ec + "-keyout server.key -out server.csr -subj '/CN=" + kAddr +
          "' && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
          "-out server.crt -days 2 -extfile san.cnf";
      if (std::system((cmd + " >openssl.log 2>&1").c_str()) != 0) {
        return "openssl could not make the certificates (" + d + "/openssl.log)";
      }
    }
    {
      std::ofstream c(dir_ / "slapd.conf");
      c << "include /etc/ldap/schema/core.schema\n"
           "include /etc/ldap/schema/cosine.schema\n"
           "include /etc/ldap/schema/inetorgperson.schema\n"
           "modulepath /usr/lib/ldap\n"
           "moduleload back_mdb\n"
           "moduleload memberof\n"
        << "pidfile " << (dir_ / "slapd.pid").string() << "\n";
      if (tls) {
        c << "TLSCACertificateFile " << caFile() << "\n"
          << "TLSCertificateFile " << (dir_ / "server.crt").string() << "\n"
          << "TLSCertificateKeyFile " << (dir_ / "server.key").string() << "\n";
      }
      // Unauthenticated binds (a DN, no password: RFC 4513 §5.1.2) succeed here, as on servers
      // that allow them: the client's refusal of an empty password is what the tests check.
      c << "allow bind_anon_dn\n";
      c << "database mdb\nmaxsize 10485760\nsuffix \"" << kSuffix << "\"\n"
        << "rootdn \"cn=admin," << kSuffix << "\"\n"
        << "directory " << (dir_ / "db").string()
        << "\n"
        // slapadd does not run the overlay: the memberOf values come from the LDIF below.
        << "overlay memberof\n"
        << "access to dn.base=\"" << kOperatorsHidden << "\" by * none\n"
        << "access to attrs=userPassword by anonymous auth by * none\n"
        // Anonymous clients may find a person by uid under ou=people (directories that allow
        // an anonymous search-then-bind), and read nothing else.
        << "access to dn.subtree=\"" << kPeople
        << "\" attrs=entry,objectClass,uid by users read by anonymous read by * none\n"
           "access to * by users read by anonymous auth by * none\n";
    }
    {
      std::ofstream l(dir_ / "tree.ldif");
      l << "dn: dc=mcn,dc=test\nobjectClass: dcObject\nobjectClass: organization\no: mcn test\n"
           "dc: mcn\n\n"
           "dn: ou=people,dc=mcn,dc=test\nobjectClass: organizationalUnit\nou: people\n\n";
      auto person = [&](const std::string& uid, const std::string& number,
                        const std::string& member_of = "") {
        l << "dn: uid=" << uid << "," << kPeople << "\nobjectClass: inetOrgPerson\nuid: " << uid
          << "\ncn: " << uid << "\nsn: " << uid << "\n";
        if (!number.empty()) l << "employeeNumber: " << number << "\n";
        if (!member_of.empty()) l << "memberOf: " << member_of << "\n";
        l << "userPassword: " << uid << "-secret\n\n";
      };
      person("alice", "p-alice");
      person("bob", "p-bob");
      person("carol", "p-carol");
      person("dave", "");
      person("eve", "p-eve");
      person("frank", "p-frank", kOperatorsHidden);
      l << "dn: " << kReader << "\nobjectClass: organizationalRole\n"
        << "objectClass: simpleSecurityObject\ncn: mcn-reader\nuserPassword: reader-secret\n\n"
        << "dn: " << kOperators << "\nobjectClass: groupOfNames\ncn: mcn-operators\n"
        << "member: uid=alice," << kPeople << "\n\n"
        << "dn: " << kOperatorsUnique << "\nobjectClass: groupOfUniqueNames\n"
        << "cn: mcn-operators-u\nuniqueMember: uid=eve," << kPeople << "\n\n"
        << "dn: " << kOperatorsHidden << "\nobjectClass: groupOfNames\ncn: mcn-operators-h\n"
        << "member: uid=frank," << kPeople << "\n\n";
    }
    const std::string conf = (dir_ / "slapd.conf").string();
    const std::string load = "slapadd -q -f '" + conf + "' -l '" + (dir_ / "tree.ldif").string() +
                             "' >'" + (dir_ / "slapadd.log").string() + "' 2>&1";
    if (std::system(load.c_str()) != 0) return "slapadd failed (" + dir_.string() + "/slapadd.log)";

    ldap_port_ = freeTcpPort(kAddr);
    ldaps_port_ = tls ? freeTcpPort(kAddr) : 0;
    other_port_ = tls ? freeTcpPort(kOtherAddr) : 0;
    std::string urls = ldapUrl();
    if (tls) urls += " " + ldapsUrl() + " " + ldapsUrlOtherHost();
    ChildProcess::Options o;
    o.output = (dir_ / "slapd.log").string();
    // -d 0: in the foreground (owned and killed by this object), no debug output.
    if (!process_.start({"slapd", "-f", conf, "-h", urls, "-d", "0"}, o)) return "fork failed";
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!tcpAccepts(kAddr, ldap_port_) ||
           (tls && (!tcpAccepts(kAddr, ldaps_port_) || !tcpAccepts(kOtherAddr, other_port_)))) {
      if (process_.exited() || std::chrono::steady_clock::now() > end) {
        return "slapd did not start (" + o.output + ")";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return {};
  }

  std::string ldapsUrl() const {
    return "ldaps://" + std::string(kAddr) + ":" + std::to_string(ldaps_port_) + "/";
  }
  std::string ldapUrl() const {
    return "ldap://" + std::string(kAddr) + ":" + std::to_string(ldap_port_) + "/";
  }
  std::string ldapsUrlOtherHost() const {
    return "ldaps://" + std::string(kOtherAddr) + ":" + std::to_string(other_port_) + "/";
  }
  std::string caFile() const { return (dir_ / "ca.crt").string(); }
  std::string otherCaFile() const { return (dir_ / "other-ca.crt").string(); }
  std::string userDnTemplate() const { return std::string("uid={user},") + kPeople; }

 private:
  std::filesystem::path dir_;
  ChildProcess process_;
  int ldap_port_ = 0;
  int ldaps_port_ = 0;
  int other_port_ = 0;
};

// The TLS slapd a test binary's suites share: started at the first call, stopped at exit.
// `error`: "" when it runs, else why not (a suite's SetUp asserts it, so a missing slapd fails
// every test that needs it rather than skipping them).
inline Slapd& sharedSlapd(std::string* error = nullptr) {
  static Slapd server;
  static const std::string start_error = server.start();
  if (error != nullptr) *error = start_error;
  return server;
}

// A TCP listener that completes connections (the kernel's backlog) but never reads or answers:
// a hung server.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, Slapd::kAddr, &a.sin_addr);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 16) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port_ = ntohs(a.sin_port);
    }
  }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  ~SilentListener() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace mcn::test
