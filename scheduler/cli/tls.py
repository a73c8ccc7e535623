"""Reading the PEM files of the TLS flags (`serve --tls-cert/--tls-key`, the client commands'
`--tls-ca`): a file that cannot be read, or holds no PEM block of the expected kind, is an
InvalidField naming the flag (`gbasched: error: --tls-cert: ...`, status 2)."""

from __future__ import annotations

from pathlib import Path

from scheduler.domain.errors import InvalidField

CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
PRIVATE_KEY = b"PRIVATE KEY-----"  # -----BEGIN [RSA |EC |ENCRYPTED ]PRIVATE KEY-----


def read_certificate(path: Path, flag: str) -> bytes:
    """The PEM certificate(s) of `path`."""
    return _read_pem(path, flag, CERTIFICATE, "PEM certificate")


def read_private_key(path: Path, flag: str) -> bytes:
    """The PEM private key of `path`."""
    return _read_pem(path, flag, PRIVATE_KEY, "PEM private key")


def _read_pem(path: Path, flag: str, marker: bytes, kind: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidField(flag, f"cannot read {path}: {exc.strerror or exc}") from None
    if marker not in data:
        raise InvalidField(flag, f"{path} holds no {kind}")
    return data
