"""Dashboard users: scrypt password hashes, signed session cookies, CSRF tokens and unit scopes.

* Passwords are hashed with :func:`hashlib.scrypt` (stdlib) and a random 16-byte salt; the cost
  parameters are stored in the hash (``scrypt$N$r$p$salt$hash``), so they can be raised later
  without breaking existing users. Comparison is constant-time, and an unknown username costs the
  same scrypt as a wrong password, so timing does not tell which usernames exist.
* The session is a cookie ``payload.signature``: the payload is URL-safe base64 of a small JSON
  object (user id, expiry, a random nonce, and a tag of the user's password hash), the signature
  an HMAC-SHA256 of it under the server secret. The server keeps no session table: the user row
  is read again on every request, so a deactivated user, a changed role or unit, or a changed
  password (the tag no longer matches) takes effect at once.
* CSRF: the login form carries ``HMAC(secret, nonce)`` for a nonce held in a separate HttpOnly
  cookie (a signed double submit: a cross-site page can neither read the cookie nor compute the
  HMAC). Forms of a logged-in user carry an HMAC of the session's nonce.
* Scope: ``admin`` sees every unit; ``unit_operator`` only its ``unit_id``; ``viewer`` sees every
  unit, or only its ``unit_id`` when it has one, and may change nothing. The queries take the
  scope as a filter (:mod:`central.dashboard.queries`), so it is enforced in SQL, not the page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from central.schema.attendance import app_user
from central.schema.registry import unit

log = logging.getLogger(__name__)

#: scrypt cost: N=2**15, r=8, p=1 uses 32 MiB and about 0.1 s per hash on the central server.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_SALT_BYTES = 16
_KEY_BYTES = 32
_MAX_N = 2**20  # a stored hash asking for more is refused rather than computed
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")


class Role(StrEnum):
    """``app_user.role``."""

    ADMIN = "admin"
    UNIT_OPERATOR = "unit_operator"
    VIEWER = "viewer"


class UserError(ValueError):
    """A user cannot be created or changed; the message is Bahasa Indonesia, English in brackets."""


@dataclass(frozen=True, slots=True)
class User:
    """A dashboard user as read from ``app_user``.

    Attributes:
        id: ``app_user.id``.
        username: The login name.
        role: What the user may see and do.
        unit_id: The unit of a unit operator (or of a unit-bound viewer); ``None`` otherwise.
        active: Inactive users cannot log in, and their sessions stop working.
        tag: A short HMAC of the password hash, put in the session to end it on a new password.
    """

    id: int
    username: str
    role: Role
    unit_id: int | None
    active: bool
    tag: str

    @property
    def units(self) -> frozenset[int] | None:
        """The units the user may see: ``None`` for all of them."""
        if self.role is Role.ADMIN:
            return None
        if self.unit_id is None:
            # A viewer without a unit reads everything; an operator without one sees nothing.
            return None if self.role is Role.VIEWER else frozenset()
        return frozenset({self.unit_id})

    @property
    def read_only(self) -> bool:
        """Whether the user may only look (a viewer)."""
        return self.role is Role.VIEWER


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r + 2**20, dklen=_KEY_BYTES
    )


def hash_password(password: str, *, n: int = SCRYPT_N) -> str:
    """The stored form of ``password``: ``scrypt$N$r$p$salt$key`` (salt and key base64)."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(password, salt, n, SCRYPT_R, SCRYPT_P)
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time); False for a malformed hash."""
    try:
        scheme, n_s, r_s, p_s, salt_s, key_s = stored.split("$")
        n, r, p = int(n_s), int(r_s), int(p_s)
        salt, key = _unb64(salt_s), _unb64(key_s)
    except (ValueError, binascii.Error):
        return False
    if scheme != "scrypt" or not (2 <= n <= _MAX_N and 1 <= r <= 32 and 1 <= p <= 16):
        return False
    if len(password) > MAX_PASSWORD:
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p), key)


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def _tag(secret: bytes, password_hash: str) -> str:
    return hmac.new(secret, b"pwtag|" + password_hash.encode(), hashlib.sha256).hexdigest()[:16]


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UserError(
            f"kata sandi harus {MIN_PASSWORD}-{MAX_PASSWORD} karakter "
            f"(the password must be {MIN_PASSWORD}-{MAX_PASSWORD} characters)"
        )


def create_user(
    conn: Connection,
    username: str,
    password: str,
    role: Role | str,
    unit_id: int | None = None,
    *,
    now: datetime | None = None,
) -> int:
    """Add a dashboard user; the password is stored only as its scrypt hash.

    Args:
        conn: A connection inside a transaction.
        username: 3-64 characters: lower-case letters, digits, ``.``, ``_``, ``-``.
        password: At least :data:`MIN_PASSWORD` characters.
        role: ``admin``, ``unit_operator`` or ``viewer``.
        unit_id: Required for a unit operator, optional for a viewer, refused for an admin.
        now: The creation time (UTC); the current time by default.

    Returns:
        The new ``app_user.id``.

    Raises:
        UserError: A malformed username, short password, unknown role or unit, a unit that does
            not fit the role, or a username already taken.
    """
    username = username.strip().lower()
    if _USERNAME.fullmatch(username) is None:
        raise UserError(
            "nama pengguna: 3-64 huruf kecil, angka, . _ - "
            "(username: 3-64 lower-case letters, digits, . _ -)"
        )
    _check_password(password)
    try:
        role = Role(role)
    except ValueError:
        raise UserError(
            f"peran {role!r} tidak dikenal (unknown role; use admin, unit_operator or viewer)"
        ) from None
    if role is Role.UNIT_OPERATOR and unit_id is None:
        raise UserError("operator unit wajib punya unit (a unit operator needs a unit)")
    if role is Role.ADMIN and unit_id is not None:
        raise UserError("admin tidak terikat unit (an admin is not bound to a unit)")
    known = select(unit.c.id).where(unit.c.id == unit_id)
    if unit_id is not None and conn.execute(known).first() is None:
        raise UserError(f"unit {unit_id} tidak ada (no unit {unit_id})")
    if conn.execute(select(app_user.c.id).where(app_user.c.username == username)).first():
        raise UserError(f"nama pengguna {username!r} sudah dipakai (username already in use)")
    new_id: int = conn.execute(
        insert(app_user)
        .returning(app_user.c.id)
        .values(
            username=username,
            password_hash=hash_password(password),
            role=role.value,
            unit_id=unit_id,
            active=True,
            created_at=now or datetime.now(UTC),
        )
    ).scalar_one()
    log.info("dashboard user added id=%d username=%s role=%s", new_id, username, role.value)
    return new_id


def set_password(conn: Connection, username: str, password: str) -> None:
    """Replace a user's password; their open sessions end (the hash tag changes).

    Raises:
        UserError: A short password or an unknown username.
    """
    _check_password(password)
    done = conn.execute(
        update(app_user)
        .where(app_user.c.username == username.strip().lower())
        .values(password_hash=hash_password(password))
    )
    if done.rowcount == 0:
        raise UserError(f"pengguna {username!r} tidak ada (no such user)")
    log.info("dashboard password changed username=%s", username)


def set_active(conn: Connection, username: str, active: bool) -> None:
    """Enable or disable a user; a disabled user's sessions stop working at once.

    Raises:
        UserError: An unknown username.
    """
    done = conn.execute(
        update(app_user)
        .where(app_user.c.username == username.strip().lower())
        .values(active=active)
    )
    if done.rowcount == 0:
        raise UserError(f"pengguna {username!r} tidak ada (no such user)")
    log.info("dashboard user username=%s active=%s", username, active)


def _user(secret: bytes, row: Row[Any]) -> User:
    return User(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        unit_id=row.unit_id,
        active=bool(row.active),
        tag=_tag(secret, row.password_hash),
    )


def load_user(conn: Connection, secret: bytes, user_id: int) -> User | None:
    """The user ``user_id``, or ``None``."""
    row = conn.execute(select(app_user).where(app_user.c.id == user_id)).first()
    return None if row is None else _user(secret, row)


def authenticate(conn: Connection, secret: bytes, username: str, password: str) -> User | None:
    """The active user with this username and password, else ``None`` (same cost either way)."""
    username = username.strip().lower()
    # A username no user can have (PostgreSQL refuses NUL in text) is not looked up at all.
    row = None
    if _USERNAME.fullmatch(username) is not None:
        row = conn.execute(select(app_user).where(app_user.c.username == username)).first()
    if row is None:
        verify_password(password, _dummy_hash())
        return None
    if not verify_password(password, row.password_hash) or not row.active:
        return None
    return _user(secret, row)


@dataclass(frozen=True, slots=True)
class Session:
    """A verified session cookie.

    Attributes:
        user_id: Whose session.
        tag: The password-hash tag when it was issued.
        nonce: Random; the CSRF token of the user's forms is derived from it.
        expires: When it stops working (UTC).
    """

    user_id: int
    tag: str
    nonce: str
    expires: datetime


class Signer:
    """Signs and checks session cookies and CSRF tokens with one server secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the dashboard secret must be at least 32 bytes")
        self._secret = secret

    @property
    def secret(self) -> bytes:
        """The server secret (for password tags)."""
        return self._secret

    def _mac(self, purpose: bytes, data: bytes) -> str:
        return _b64(hmac.new(self._secret, purpose + b"|" + data, hashlib.sha256).digest())

    def issue(self, user: User, expires: datetime) -> tuple[str, Session]:
        """A new session cookie value for ``user``, valid until ``expires``."""
        session = Session(user.id, user.tag, secrets.token_urlsafe(16), expires)
        body = json.dumps(
            {"u": user.id, "t": user.tag, "n": session.nonce, "e": int(expires.timestamp())},
            separators=(",", ":"),
        )
        payload = _b64(body.encode())
        return f"{payload}.{self._mac(b'session', payload.encode())}", session

    def read(self, cookie: str | None, now: datetime) -> Session | None:
        """The session in ``cookie`` if its signature holds and it has not expired."""
        if not cookie or len(cookie) > 1024 or cookie.count(".") != 1:
            return None
        payload, mac = cookie.split(".")
        if not hmac.compare_digest(mac.encode(), self._mac(b"session", payload.encode()).encode()):
            return None
        try:
            data = json.loads(_unb64(payload))
            session = Session(
                int(data["u"]),
                str(data["t"]),
                str(data["n"]),
                datetime.fromtimestamp(int(data["e"]), UTC),
            )
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        return session if now < session.expires else None

    def csrf_token(self, nonce: str) -> str:
        """The CSRF form token bound to ``nonce`` (a login cookie's, or a session's)."""
        return self._mac(b"csrf", nonce.encode())

    def check_csrf(self, nonce: str | None, token: str | None) -> bool:
        """Whether ``token`` is the CSRF token of ``nonce`` (constant-time)."""
        if not nonce or not token:
            return False
        return hmac.compare_digest(token.encode(), self.csrf_token(nonce).encode())
