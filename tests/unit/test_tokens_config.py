"""Tokens TOML: the demo tokens against the sample pool (each plain demo token in its comment
authenticates as what its entry says), a minimal file, the bearer metadata a TokenBook accepts,
and a table of bad files with their exact errors."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from scheduler.api.auth import TokenBook, bearer, token_hash
from scheduler.config.errors import ConfigError
from scheduler.config.pool_toml import load_pool
from scheduler.config.tokens_toml import load_tokens, parse_tokens
from scheduler.domain.errors import InvalidField
from scheduler.domain.pool import Pool
from scheduler.domain.principals import PermissionDenied, Principal, Unauthenticated
from tests.builders import a_pool, a_tenant

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_POOL = ROOT / "deploy" / "pools" / "gba-sample.toml"
DEMO = ROOT / "deploy" / "auth" / "demo-tokens.toml"
HASH = "ab" * 32


@pytest.fixture(scope="module")
def pool() -> Pool:
    return a_pool().tenant(a_tenant("t1")).tenant(a_tenant("t2")).build()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tokens.toml"
    path.write_text(text)
    return path


# ── the demo tokens ──────────────────────────────────────────────────────────────────────────


def test_the_demo_tokens_are_one_operator_and_one_per_sample_tenant() -> None:
    sample = load_pool(SAMPLE_POOL)
    principals = load_tokens(DEMO, sample)

    operators = [p for p in principals.values() if p.operator]
    assert [p.name for p in operators] == ["demo-operator"]
    assert sorted(p.tenant for p in principals.values() if p.tenant) == sorted(sample.tenants)


def test_the_demo_file_says_its_tokens_are_public_and_its_comments_give_them() -> None:
    text = DEMO.read_text()
    book = TokenBook.load(DEMO, load_pool(SAMPLE_POOL))

    assert text.startswith("# DEMO TOKENS: PUBLIC VALUES, NEVER FOR A REAL POOL.")
    plain = re.findall(r"^# token: (\S+)$", text, re.MULTILINE)
    assert len(plain) == len(book) == 12
    for token in plain:
        principal = book.authenticate(bearer(token))
        assert principal.name == token
        assert token not in text.replace(f"# token: {token}", "").replace(
            f"[tokens.{token}]", ""
        ), "a plain token outside its comment and entry name"


# ── a minimal file ───────────────────────────────────────────────────────────────────────────


def test_a_minimal_file_maps_hashes_to_principals(tmp_path: Path, pool: Pool) -> None:
    path = write(
        tmp_path,
        f'[tokens.ops]\nsha256 = "{token_hash("a")}"\nrole = "operator"\n\n'
        f'[tokens.t1-ci]\nsha256 = "{token_hash("b")}"\ntenant = "t1"\n',
    )

    assert load_tokens(path, pool) == {
        token_hash("a"): Principal("ops", None, operator=True),
        token_hash("b"): Principal("t1-ci", "t1", operator=False),
    }


def test_the_hash_is_the_lowercase_hex_sha256() -> None:
    assert token_hash("demo-operator") == hashlib.sha256(b"demo-operator").hexdigest()


BAD = [
    ("", "tokens.toml: tokens: missing required key"),
    ("[tokens]\n", "tokens.toml: tokens: must list at least one token"),
    ("x = 1\n[tokens.a]\n", "tokens.toml: x: unknown key; accepted keys: tokens"),
    (
        f'[tokens.a]\nsha256 = "{HASH}"\ntenant = "t1"\nnote = "x"\n',
        "tokens.toml: tokens.a.note: unknown key; accepted keys: sha256, tenant, role",
    ),
    ('[tokens.a]\ntenant = "t1"\n', "tokens.toml: tokens.a.sha256: missing required key"),
    (
        '[tokens.a]\nsha256 = "my-secret-token"\ntenant = "t1"\n',
        "tokens.toml: tokens.a.sha256: must be 64 lowercase hex digits (the token's SHA-256); "
        "the value given has 15 characters and is not shown: keep only a token's hash here",
    ),
    (
        f'[tokens.a]\nsha256 = "{HASH.upper()}"\ntenant = "t1"\n',
        "tokens.toml: tokens.a.sha256: must be 64 lowercase hex digits",
    ),
    (
        f'[tokens.a]\nsha256 = "{HASH[:-1]}"\ntenant = "t1"\n',
        "tokens.toml: tokens.a.sha256: must be 64 lowercase hex digits",
    ),
    ("[tokens.a]\nsha256 = 7\n", "tokens.toml: tokens.a.sha256: must be a string, got an integer"),
    (
        f'[tokens.a]\nsha256 = "{HASH}"\ntenant = "nobody"\n',
        "tokens.toml: tokens.a.tenant: unknown tenant 'nobody'; known: t1, t2",
    ),
    (
        f'[tokens.a]\nsha256 = "{HASH}"\ntenant = "t1"\nrole = "operator"\n',
        "tokens.toml: tokens.a.role: give either tenant or role, not both",
    ),
    (
        f'[tokens.a]\nsha256 = "{HASH}"\n',
        'tokens.toml: tokens.a.tenant: missing required key: give tenant = "<tenant id>" or '
        'role = "operator"',
    ),
    (
        f'[tokens.a]\nsha256 = "{HASH}"\nrole = "admin"\n',
        "tokens.toml: tokens.a.role: unknown role 'admin'; the only role is operator",
    ),
    (
        f'[tokens.a]\nsha256 = "{HASH}"\nrole = true\n',
        "tokens.toml: tokens.a.role: must be a string, got a boolean",
    ),
    (
        f'[tokens.a]\nsha256 = "{HASH}"\ntenant = "t1"\n'
        f'[tokens.b]\nsha256 = "{HASH}"\ntenant = "t2"\n',
        "tokens.toml: tokens.b.sha256: the same hash as tokens.a",
    ),
    (
        f'[tokens."a b"]\nsha256 = "{HASH}"\ntenant = "t1"\n',
        "tokens.toml: tokens.a b: 'a b' is not a valid id",
    ),
    ('tokens = "all"\n', "tokens.toml: tokens: must be a table, got a string ('all')"),
    ("[tokens.a\n", "tokens.toml: invalid TOML: "),
]


@pytest.mark.parametrize(("text", "error"), BAD, ids=[e for _, e in BAD])
def test_a_bad_file_is_rejected_naming_the_file_and_key(
    tmp_path: Path, pool: Pool, text: str, error: str
) -> None:
    path = write(tmp_path, text)

    with pytest.raises(ConfigError) as raised:
        load_tokens(path, pool)

    assert str(raised.value).startswith(f"{tmp_path}/{error}"), str(raised.value)


def test_a_plain_token_in_the_hash_field_is_never_echoed(pool: Pool) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_tokens({"tokens": {"a": {"sha256": "s3cret-value", "tenant": "t1"}}}, "f", pool)

    assert "s3cret" not in str(raised.value)


def test_a_missing_file_is_named(tmp_path: Path, pool: Pool) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_tokens(tmp_path / "absent.toml", pool)


# ── authenticating a call ────────────────────────────────────────────────────────────────────

OPS = Principal("ops", None, operator=True)
T1 = Principal("t1-ci", "t1", operator=False)
BOOK = TokenBook.of({"op-secret": OPS, "t1-secret": T1})


@pytest.mark.parametrize(
    ("metadata", "who"),
    [
        (bearer("op-secret"), OPS),
        ((("authorization", "Bearer t1-secret"),), T1),
        ((("Authorization", "bearer   t1-secret  "),), T1),
        ((("user-agent", "x"), ("authorization", "Bearer t1-secret")), T1),
    ],
)
def test_a_bearer_token_names_its_principal(
    metadata: tuple[tuple[str, str], ...], who: Principal
) -> None:
    assert BOOK.authenticate(metadata) == who


@pytest.mark.parametrize(
    "metadata",
    [
        None,
        (),
        (("authorization", "Bearer nope-secret"),),
        (("authorization", "Bearer "),),
        (("authorization", "Basic t1-secret"),),
        (("authorization", "t1-secret"),),
        (("authorization", b"Bearer t1-secret"),),
        (("authorization", "Bearer t1-secret"), ("authorization", "Bearer op-secret")),
    ],
)
def test_anything_else_is_unauthenticated_without_echoing_it(metadata: object) -> None:
    with pytest.raises(Unauthenticated) as raised:
        BOOK.authenticate(metadata)  # type: ignore[arg-type]

    assert "secret" not in str(raised.value)


# ── what a principal may name ────────────────────────────────────────────────────────────────


def test_a_tenant_submits_and_reads_only_as_itself() -> None:
    assert T1.tenant_to_submit_as("", "tenant") == T1.tenant_to_submit_as("t1", "tenant") == "t1"
    assert T1.tenant_to_read("", "tenant") == T1.tenant_to_read("t1", "tenant") == "t1"
    with pytest.raises(PermissionDenied, match=r"^jobs\[2\]\.tenant: t1-ci may submit only as"):
        T1.tenant_to_submit_as("t2", "jobs[2].tenant")
    with pytest.raises(PermissionDenied, match=r"^tenant: t1-ci may read only tenant 't1'"):
        T1.tenant_to_read("t2", "tenant")
    assert T1.sees("t1") and not T1.sees("t2") and not T1.sees(None)


def test_an_operator_names_the_tenant_it_submits_as_and_reads_any() -> None:
    assert OPS.tenant_to_submit_as("t2", "tenant") == "t2"
    with pytest.raises(InvalidField, match=r"^tenant: an operator must name the tenant"):
        OPS.tenant_to_submit_as("", "tenant")
    assert OPS.tenant_to_read("", "tenant") is None
    assert OPS.tenant_to_read("t2", "tenant") == "t2"
    assert OPS.sees("t1") and OPS.sees(None)


@pytest.mark.parametrize(("tenant", "operator"), [(None, False), ("t1", True)])
def test_a_principal_is_a_tenants_or_an_operators(tenant: str | None, operator: bool) -> None:
    with pytest.raises(InvalidField):
        Principal("x", tenant, operator)
