"""A real OpenLDAP directory for one test (test helper): Debian's ``slapd`` started on loopback
ports with a temporary ``slapd.conf`` and an mdb database filled by ``slapadd``, plain LDAP and
LDAPS (a certificate from :mod:`tests.support.certs`), StartTLS on the plain port. Changes
during a test go through ``ldapmodify`` / ``ldapdelete`` as the directory's root DN.

The directory (suffix ``dc=example,dc=org``)::

    ou=people:  alice (developers), bob (developers, portside-admins), carol (no group)
    ou=groups:  developers, portside-admins (groupOfNames)
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.certs import Pki, make_pki
from tests.support.net import free_port

SLAPD = "/usr/sbin/slapd"
SUFFIX = "dc=example,dc=org"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "root-secret"
SERVICE_DN = f"cn=portside,{SUFFIX}"
SERVICE_PASSWORD = "service-secret"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
PASSWORDS = {
    "alice": "alice-password",
    "bob": "bob-password",
    "carol": "carol-password",
}
MODULES = Path("/usr/lib/ldap")


def available() -> bool:
    return Path(SLAPD).exists() and shutil.which("ldapmodify") is not None


def user_dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE}"


def group_dn(cn: str) -> str:
    return f"cn={cn},{GROUPS}"


def _hash(password: str) -> str:
    return subprocess.run(
        ["/usr/sbin/slappasswd", "-s", password], check=True, capture_output=True, text=True
    ).stdout.strip()


def _person(uid: str) -> str:
    return (
        f"dn: {user_dn(uid)}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\n"
        f"mail: {uid}@example.org\nuserPassword: {_hash(PASSWORDS[uid])}\n"
    )


def _group(cn: str, members: list[str]) -> str:
    lines = [f"dn: {group_dn(cn)}", "objectClass: groupOfNames", f"cn: {cn}"]
    lines += [f"member: {user_dn(uid)}" for uid in members]
    lines.append(f"member: {SERVICE_DN}")  # a groupOfNames must keep one member
    return "\n".join(lines) + "\n"


def _ldif() -> str:
    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n",
        f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: portside\nuserPassword: {_hash(SERVICE_PASSWORD)}\n",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n",
        *(_person(uid) for uid in PASSWORDS),
        _group("developers", ["alice", "bob"]),
        _group("portside-admins", ["bob"]),
    ]
    return "\n".join(entries)


def _config(folder: Path, pki: Pki) -> str:
    schema = Path("/etc/ldap/schema")
    return f"""
include {schema}/core.schema
include {schema}/cosine.schema
include {schema}/inetorgperson.schema
include {schema}/nis.schema
modulepath {MODULES}
moduleload back_mdb
pidfile {folder}/slapd.pid
TLSCACertificateFile {pki.ca}
TLSCertificateFile {pki.cert}
TLSCertificateKeyFile {pki.key}
database mdb
maxsize 16777216
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {_hash(ROOT_PASSWORD)}
directory {folder}/db
access to attrs=userPassword by anonymous auth by self read by * none
access to * by * read
"""


@dataclass
class Directory:
    folder: Path
    pki: Pki
    port: int
    tls_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://localhost:{self.tls_port}"

    def start(self) -> None:
        log = (self.folder / "slapd.log").open("ab")
        self.process = subprocess.Popen(
            [
                SLAPD,
                "-f",
                str(self.folder / "slapd.conf"),
                "-h",
                f"ldap://127.0.0.1:{self.port}/ ldaps://127.0.0.1:{self.tls_port}/",
                "-d",
                "0",
            ],
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    "slapd stopped: " + (self.folder / "slapd.log").read_text(errors="replace")
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("slapd did not listen within 15 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.process = None

    def _tool(self, tool: str, text: str, *args: str) -> None:
        done = subprocess.run(
            [tool, "-x", "-H", self.url, "-D", ROOT_DN, "-w", ROOT_PASSWORD, *args],
            input=text,
            check=False,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr}{done.stdout}")

    def modify(self, ldif: str) -> None:
        self._tool("ldapmodify", ldif)

    def remove_member(self, group: str, uid: str) -> None:
        self.modify(
            f"dn: {group_dn(group)}\nchangetype: modify\ndelete: member\nmember: {user_dn(uid)}\n"
        )

    def add_member(self, group: str, uid: str) -> None:
        self.modify(
            f"dn: {group_dn(group)}\nchangetype: modify\nadd: member\nmember: {user_dn(uid)}\n"
        )

    def delete_user(self, uid: str) -> None:
        self._tool("ldapdelete", "", user_dn(uid))


@contextmanager
def running_directory(folder: Path) -> Iterator[Directory]:
    """A slapd with the test directory above, stopped at the end."""
    if not available():
        import pytest

        pytest.fail("slapd or ldap-utils is not installed: run `make test` (make system-deps)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "db").mkdir()
    pki = make_pki(folder / "pki")
    config = folder / "slapd.conf"
    config.write_text(_config(folder, pki))
    (folder / "data.ldif").write_text(_ldif())
    subprocess.run(
        ["/usr/sbin/slapadd", "-f", str(config), "-l", str(folder / "data.ldif")],
        check=True,
        capture_output=True,
    )
    directory = Directory(folder, pki, free_port(), free_port())
    directory.start()
    try:
        yield directory
    finally:
        directory.stop()
