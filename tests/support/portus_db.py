"""A Portus database on the machine's MariaDB (127.0.0.1:3306, root without a password): the
tables an importer reads, with Portus's columns (../shared/reference/portus-accounts.md), filled
the way Portus writes its rows: Devise's bcrypt password hashes (``$2a$``, cost 10), application
tokens hashed with bcrypt and a per-token salt, visibility and role integers, a hidden
personal team and a personal namespace for every user, the global namespace, and Portus's own
``portus`` user and namespace."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import bcrypt
import pymysql

HOST, PORT, ROOT = "127.0.0.1", 3306, "root"

SCHEMA = [
    """CREATE TABLE registries (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(255) NOT NULL,
    hostname VARCHAR(255) NOT NULL, use_ssl TINYINT(1), created_at DATETIME, updated_at DATETIME,
    external_hostname VARCHAR(255))""",
    """CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY,
    username VARCHAR(255) NOT NULL DEFAULT '', email VARCHAR(255) DEFAULT '',
    encrypted_password VARCHAR(255) NOT NULL DEFAULT '', created_at DATETIME,
    updated_at DATETIME, admin TINYINT(1) DEFAULT 0, enabled TINYINT(1) DEFAULT 1,
    ldap_name VARCHAR(255), failed_attempts INT DEFAULT 0, locked_at DATETIME,
    namespace_id INT, display_name VARCHAR(255), bot TINYINT(1) DEFAULT 0,
    UNIQUE KEY index_users_on_username (username))""",
    """CREATE TABLE teams (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(255),
    created_at DATETIME, updated_at DATETIME, hidden TINYINT(1) DEFAULT 0, description TEXT,
    UNIQUE KEY index_teams_on_name (name))""",
    """CREATE TABLE team_users (id INT AUTO_INCREMENT PRIMARY KEY, user_id INT, team_id INT,
    created_at DATETIME, updated_at DATETIME, role INT DEFAULT 0)""",
    """CREATE TABLE namespaces (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(255),
    created_at DATETIME, updated_at DATETIME, team_id INT, registry_id INT NOT NULL,
    `global` TINYINT(1) DEFAULT 0, description TEXT, visibility INT)""",
    """CREATE TABLE repositories (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(255)
    NOT NULL DEFAULT '', namespace_id INT, created_at DATETIME, updated_at DATETIME)""",
    """CREATE TABLE tags (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(255) NOT NULL
    DEFAULT 'latest', repository_id INT NOT NULL, created_at DATETIME, updated_at DATETIME,
    user_id INT, digest VARCHAR(255), image_id VARCHAR(255) DEFAULT '', username VARCHAR(255),
    scanned INT DEFAULT 0)""",
    """CREATE TABLE application_tokens (id INT AUTO_INCREMENT PRIMARY KEY,
    application VARCHAR(255) NOT NULL, token_hash VARCHAR(255) NOT NULL,
    token_salt VARCHAR(255) NOT NULL, user_id INT NOT NULL)""",
    """CREATE TABLE webhooks (id INT AUTO_INCREMENT PRIMARY KEY, namespace_id INT,
    url VARCHAR(255), username VARCHAR(255), password VARCHAR(255), request_method INT,
    content_type INT, enabled TINYINT(1) DEFAULT 0, name VARCHAR(255) NOT NULL,
    created_at DATETIME, updated_at DATETIME)""",
    """CREATE TABLE webhook_headers (id INT AUTO_INCREMENT PRIMARY KEY, webhook_id INT,
    name VARCHAR(255), value VARCHAR(255), created_at DATETIME, updated_at DATETIME)""",
]

PRIVATE, PROTECTED, PUBLIC = 0, 1, 2
VIEWER, CONTRIBUTOR, OWNER = 0, 1, 2


def devise_hash(password: str) -> str:
    """As Devise stores a password: bcrypt, ``$2a$``, cost 10."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(10, b"2a")).decode()


@dataclass
class PortusDb:
    name: str
    connection: Any
    registry_id: int = 0
    global_namespace: int = 0
    portus_user: int = 0
    users: dict[str, int] = field(default_factory=dict)
    personal_teams: dict[str, int] = field(default_factory=dict)

    @property
    def dsn(self) -> str:
        return f"mysql://{ROOT}@{HOST}:{PORT}/{self.name}"

    def insert(self, table: str, **values: Any) -> int:
        names = ", ".join(f"`{name}`" for name in values)
        marks = ", ".join(["%s"] * len(values))
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(values.values())
            )
            return int(cursor.lastrowid)

    def execute(self, sql: str, *args: Any) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, args)

    def user(
        self,
        name: str,
        password: str | None = None,
        *,
        admin: bool = False,
        bot: bool = False,
        enabled: bool = True,
        email: str | None = None,
        ldap_name: str | None = None,
        visibility: int = PRIVATE,
    ) -> int:
        """A user as Portus makes one: the row, a hidden personal team of which the user is
        the owner, and a personal namespace of the user's name."""
        now = datetime.now()
        user_id = self.insert(
            "users",
            username=name,
            email=email or f"{name}@example.com",
            encrypted_password=devise_hash(password) if password else "",
            admin=int(admin),
            enabled=int(enabled),
            bot=int(bot),
            ldap_name=ldap_name,
            display_name=name.title(),
            created_at=now,
            updated_at=now,
        )
        team = self.insert("teams", name=name, hidden=1, description="", created_at=now)
        self.insert("team_users", user_id=user_id, team_id=team, role=OWNER, created_at=now)
        namespace = self.namespace(name, team, visibility, f"{name}'s personal namespace")
        self.execute("UPDATE users SET namespace_id = %s WHERE id = %s", namespace, user_id)
        self.users[name] = user_id
        self.personal_teams[name] = team
        return user_id

    def team(self, name: str, owner: int, description: str = "") -> int:
        now = datetime.now()
        team = self.insert("teams", name=name, hidden=0, description=description, created_at=now)
        self.member(team, owner, OWNER)
        return team

    def member(self, team: int, user: int, role: int) -> int:
        return self.insert("team_users", user_id=user, team_id=team, role=role)

    def namespace(
        self, name: str, team: int | None, visibility: int, description: str = "", **more: Any
    ) -> int:
        return self.insert(
            "namespaces",
            name=name,
            team_id=team,
            registry_id=self.registry_id,
            visibility=visibility,
            description=description,
            created_at=datetime.now(),
            **more,
        )

    def token(self, user: int, application: str, plain: str | None = None) -> str:
        """An application token as Portus keeps it: bcrypt of the plain token with a salt of
        its own (Ruby's bcrypt makes ``$2a$`` salts of cost 10)."""
        plain = plain or secrets.token_urlsafe(16)
        salt = bcrypt.gensalt(10, b"2a")
        self.insert(
            "application_tokens",
            application=application,
            token_hash=bcrypt.hashpw(plain.encode(), salt).decode(),
            token_salt=salt.decode(),
            user_id=user,
        )
        return plain

    def webhook(
        self,
        namespace: int,
        name: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        **more: Any,
    ) -> int:
        values = {"request_method": 1, "content_type": 0, "enabled": 1, **more}
        hook = self.insert("webhooks", namespace_id=namespace, name=name, url=url, **values)
        for header, value in (headers or {}).items():
            self.insert("webhook_headers", webhook_id=hook, name=header, value=value)
        return hook

    def tag(
        self, namespace: int, repository: str, tag: str, user: int | None, username: str | None
    ) -> None:
        found = None
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM repositories WHERE name = %s AND namespace_id = %s",
                (repository, namespace),
            )
            found = cursor.fetchone()
        repo = (
            found[0]
            if found
            else self.insert("repositories", name=repository, namespace_id=namespace)
        )
        self.insert(
            "tags",
            name=tag,
            repository_id=repo,
            user_id=user,
            username=username,
            digest="sha256:" + "0" * 64,
        )


def _connect(database: str | None = None) -> Any:
    return pymysql.connect(
        host=HOST, port=PORT, user=ROOT, password="", database=database, autocommit=True
    )


@contextmanager
def portus_database() -> Iterator[PortusDb]:
    """A fresh Portus database with the registry, Portus's own user and namespace, and the
    global namespace (owned by a hidden team of Portus's); dropped afterwards."""
    name = f"portus_test_{secrets.token_hex(6)}"
    server = _connect()
    with server.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    try:
        db = PortusDb(name, _connect(name))
        for statement in SCHEMA:
            db.execute(statement)
        db.registry_id = db.insert(
            "registries", name="registry", hostname="registry.example:5000", use_ssl=0
        )
        global_team = db.insert("teams", name="portus_global_team_1", hidden=1)
        db.global_namespace = db.namespace(
            "registry.example:5000", global_team, PUBLIC, "the global namespace", **{"global": 1}
        )
        db.portus_user = db.user("portus", secrets.token_urlsafe(24), admin=True)
        db.member(global_team, db.portus_user, OWNER)
        try:
            yield db
        finally:
            db.connection.close()
    finally:
        with server.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        server.close()


PASSWORDS = {
    "admin": "admin password 1",
    "ann": "ann's portus pw",
    "bob": "bob's portus pw",
    "carol": "carol's portus pw",
    "dave": "dave's portus pw",
}


@dataclass
class Example:
    """A small Portus installation: ann owns team Platform (bob its viewer), carol is in no
    team, robot is a bot with a token only, dave is disabled; namespaces platform (private),
    shared (protected), open (public), carol's personal namespace made protected; ann's and
    robot's application tokens; a webhook with basic auth and a header; who pushed
    platform/app:1.0."""

    tokens: dict[str, str]
    namespaces: dict[str, int]


def fill_example(db: PortusDb) -> Example:
    admin = db.user("admin", PASSWORDS["admin"], admin=True)
    ann = db.user("ann", PASSWORDS["ann"], email="ann@example.com")
    bob = db.user("bob", PASSWORDS["bob"])
    db.user("carol", PASSWORDS["carol"], visibility=PROTECTED)
    db.user("dave", PASSWORDS["dave"], enabled=False, ldap_name="uid=dave,ou=people")
    robot = db.user("robot", bot=True)
    platform = db.team("Platform", ann, "the platform team")
    db.member(platform, bob, VIEWER)
    db.member(platform, robot, CONTRIBUTOR)
    db.member(platform, admin, CONTRIBUTOR)
    namespaces = {
        name: db.namespace(name, platform, visibility, f"{name} images")
        for name, visibility in (("platform", PRIVATE), ("shared", PROTECTED), ("open", PUBLIC))
    }
    tokens = {"ann": db.token(ann, "docker-cli"), "robot": db.token(robot, "ci")}
    db.webhook(
        namespaces["platform"],
        "deploys",
        "http://hooks.example/portus",
        username="hook",
        password="hook secret",
        headers={"X-Team": "platform"},
    )
    db.tag(namespaces["platform"], "app", "1.0", ann, "ann")
    db.tag(namespaces["platform"], "app", "2.0", None, None)  # no pusher known
    return Example(tokens, namespaces)
