"""A real OpenLDAP slapd owned by a Python test (the C++ tests' twin is tests/support/slapd.h):
its own slapd.conf, mdb database and TLS certificates (a CA and a server certificate for CN/SAN
IP `addr`, made by the openssl command) in a temporary directory, on free ports of a loopback
address, in the foreground and killed by stop().

    with Slapd("127.0.7.2", people=[("zhang", "e1014")], operators=["wang"]) as d:
        d.ldaps_url, d.ca_file, d.user_dn_template   # uid={user},ou=people,dc=mcn,dc=test

Every password is "<uid>-secret"; people listed in `operators` are members of
cn=mcn-operators,dc=mcn,dc=test (groupOfNames). Anonymous clients may only bind.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time

SUFFIX = "dc=mcn,dc=test"
PEOPLE = "ou=people," + SUFFIX
OPERATORS = "cn=mcn-operators," + SUFFIX


def _free_port(addr):
    s = socket.socket()
    s.bind((addr, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _accepts(addr, port):
    try:
        socket.create_connection((addr, port), timeout=0.2).close()
        return True
    except OSError:
        return False


class Slapd:
    def __init__(self, addr, people, operators=()):
        self.addr = addr
        self.people = list(people)  # (uid, employeeNumber or None)
        self.operators = list(operators)
        self.dir = None
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="mcn_slapd_")
        d = self.dir
        os.makedirs(os.path.join(d, "db"))
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        with open(os.path.join(d, "san.cnf"), "w") as f:
            f.write("subjectAltName=IP:%s\n" % self.addr)
        for cmd in (["openssl", "req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.crt",
                                                         "-days", "2", "-subj", "/CN=mcn test CA"],
                    ["openssl", "req"] + ec + ["-keyout", "server.key", "-out", "server.csr",
                                               "-subj", "/CN=" + self.addr],
                    ["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey",
                     "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2",
                     "-extfile", "san.cnf"]):
            subprocess.run(cmd, cwd=d, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        conf = os.path.join(d, "slapd.conf")
        with open(conf, "w") as f:
            f.write(f"""include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {d}/slapd.pid
TLSCACertificateFile {d}/ca.crt
TLSCertificateFile {d}/server.crt
TLSCertificateKeyFile {d}/server.key
database mdb
maxsize 10485760
suffix "{SUFFIX}"
rootdn "cn=admin,{SUFFIX}"
directory {d}/db
access to attrs=userPassword by anonymous auth by * none
access to * by users read by anonymous auth by * none
""")
        ldif = [f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: mcn test\n"
                f"dc: mcn\n", f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n"]
        for uid, number in self.people:
            entry = (f"dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\n"
                     f"sn: {uid}\nuserPassword: {uid}-secret\n")
            if number:
                entry += f"employeeNumber: {number}\n"
            ldif.append(entry)
        group = f"dn: {OPERATORS}\nobjectClass: groupOfNames\ncn: mcn-operators\n"
        for uid in self.operators or [self.people[0][0]]:
            group += f"member: uid={uid},{PEOPLE}\n"
        ldif.append(group)
        with open(os.path.join(d, "tree.ldif"), "w") as f:
            f.write("\n".join(ldif))
        subprocess.run(["slapadd", "-q", "-f", conf, "-l", os.path.join(d, "tree.ldif")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ldap_port = _free_port(self.addr)
        self.ldaps_port = _free_port(self.addr)
        self.ldap_url = "ldap://%s:%d/" % (self.addr, self.ldap_port)
        self.ldaps_url = "ldaps://%s:%d/" % (self.addr, self.ldaps_port)
        self.ca_file = os.path.join(d, "ca.crt")
        self.user_dn_template = "uid={user}," + PEOPLE
        self.log = open(os.path.join(d, "slapd.log"), "w")
        # -d 0: in the foreground (ours to kill), no debug output.
        self.proc = subprocess.Popen(["slapd", "-f", conf, "-h",
                                      self.ldap_url + " " + self.ldaps_url, "-d", "0"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        end = time.time() + 10
        while not (_accepts(self.addr, self.ldap_port) and _accepts(self.addr, self.ldaps_port)):
            if self.proc.poll() is not None or time.time() > end:
                raise RuntimeError("slapd did not start (%s/slapd.log)" % d)
            time.sleep(0.02)

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.log.close()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
