"""Bearer tokens -> principals.

A call authenticates with the metadata `authorization: Bearer <token>`. The server keeps only
each token's SHA-256 (loaded from a tokens file by `scheduler.config.tokens_toml`), so a leaked
tokens file or database does not leak a usable credential. Errors never repeat what the caller
sent: it may be a secret, or one mistyped by a character.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

from scheduler.config.tokens_toml import load_tokens
from scheduler.domain.pool import Pool
from scheduler.domain.principals import Principal, Unauthenticated

AUTHORIZATION = "authorization"
SCHEME = "bearer"


def token_hash(token: str) -> str:
    """The lowercase hex SHA-256 of a token, as a tokens file holds it."""
    return hashlib.sha256(token.encode()).hexdigest()


def bearer(token: str) -> tuple[tuple[str, str]]:
    """The call metadata that presents `token` (for clients and tests)."""
    return ((AUTHORIZATION, f"Bearer {token}"),)


class TokenBook:
    """Who holds which token, by the token's hash."""

    def __init__(self, principals: Mapping[str, Principal]) -> None:
        self._principals = dict(principals)

    @classmethod
    def load(cls, path: str | Path, pool: Pool) -> TokenBook:
        return cls(load_tokens(path, pool))

    @classmethod
    def of(cls, tokens: Mapping[str, Principal]) -> TokenBook:
        """From plain tokens (tests and embedding); only their hashes are kept."""
        return cls({token_hash(token): principal for token, principal in tokens.items()})

    def __len__(self) -> int:
        return len(self._principals)

    def take(self, other: TokenBook) -> None:
        """Hold `other`'s tokens from now on, in place of these (a reloaded tokens file): one
        assignment, so a call authenticates against the old set or the new one, never a mix."""
        self._principals = other._principals

    def authenticate(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> Principal:
        """The principal whose token the call metadata presents; `Unauthenticated` when there is
        none, more than one, a malformed one, or one this book does not know."""
        values = [value for key, value in metadata or () if key.lower() == AUTHORIZATION]
        if not values:
            raise Unauthenticated(
                "no credentials: send the metadata 'authorization: Bearer <token>'"
            )
        if len(values) > 1:
            raise Unauthenticated("more than one authorization header")
        [value] = values
        if isinstance(value, bytes):
            raise Unauthenticated("the authorization header must be text")
        scheme, _, token = value.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != SCHEME or not token:
            raise Unauthenticated("the authorization header must be 'Bearer <token>'")
        principal = self._principals.get(token_hash(token))
        if principal is None:
            raise Unauthenticated("unknown or revoked token")
        return principal
