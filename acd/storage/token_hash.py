"""How token secrets are kept at rest.

Issued tokens are random (`secrets.token_urlsafe(32)`: 256 bits): an unsalted SHA-256 digest
is enough to make a leaked row useless, and it lets the lookup use the unique index. A secret
a person chose (the configured `api_token` / `ACD_API_TOKEN`) may be guessable, so it is kept
under scrypt with a random salt: a dictionary check costs as much per guess as below, for
every row separately.

scrypt N=2**14, r=8, p=1 (16 MiB, 50-60 ms on one core of the 2-core test machine; measured in
tests/storage/test_token_hashes.py). The parameters are stored with the hash, so raising them
later re-hashes at the next start (the configured token is stored again at a start that finds
it stored under other parameters or for another secret; the same secret under today's keeps
its row, so the nodes of a cluster, which share the store, keep one hash between them).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1
_KEY_BYTES = 32
_SALT_BYTES = 16
#: Enough for the encoded form below; the column is String(255) (migration 0004).
MAX_LENGTH = 255


def fast_digest(secret: str) -> str:
    """For random secrets: the unique index finds the row."""
    return hashlib.sha256(secret.encode()).hexdigest()


def slow_hash(secret: str) -> str:
    """For person-chosen secrets: `scrypt$N$r$p$salt$key` (base64, no padding)."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(secret, salt, N, R, P)
    return "$".join((SCHEME, str(N), str(R), str(P), _b64(salt), _b64(key)))


def is_slow(stored: str) -> bool:
    return stored.startswith(SCHEME + "$")


def verify_slow(secret: str, stored: str) -> bool:
    """Whether `secret` is the one `stored` was made from (CPU-bound: run it in a thread)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != SCHEME:
            return False
        expected = _unb64(key)
        found = _scrypt(secret, _unb64(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(found, expected)


def current_for(secret: str, stored: str) -> bool:
    """Whether `stored` was made from `secret` with today's parameters: then storing it again
    would change nothing but the salt (CPU-bound: run it in a thread)."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[:4] != [SCHEME, str(N), str(R), str(P)]:
        return False
    return verify_slow(secret, stored)


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # maxmem: 128·N·r bytes plus slack; the default (32 MiB) would refuse larger N later.
    return hashlib.scrypt(
        secret.encode(), salt=salt, n=n, r=r, p=p, dklen=_KEY_BYTES, maxmem=256 * n * r + 2**20
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
