"""`gbasched token new`: the printed token hashes to the printed sha256, and the printed entry
loads with the tokens loader and authenticates the token; each run makes a new token."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest

from scheduler.api.auth import TokenBook, bearer
from scheduler.cli.main import main
from scheduler.config.pool_toml import load_pool
from scheduler.config.tokens_toml import load_tokens
from scheduler.domain.principals import Principal

SAMPLE_POOL = Path(__file__).resolve().parents[2] / "deploy" / "pools" / "gba-sample.toml"


def new_token(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    """(the token, the TOML entry) as printed: the token on stderr, the entry on stdout."""
    assert main(["token", "new", *argv]) == 0
    entry, err = capsys.readouterr()
    [token] = [
        line.removeprefix("token: ") for line in err.splitlines() if line.startswith("token: ")
    ]
    return token, entry


@pytest.mark.parametrize(
    ("argv", "principal"),
    [
        (("--tenant", "hku-ml"), Principal("hku-ml", "hku-ml", operator=False)),
        (("--tenant", "hku-ml", "--name", "hku-ml-ci"), Principal("hku-ml-ci", "hku-ml", False)),
        (("--operator",), Principal("operator", None, operator=True)),
        (("--operator", "--name", "oncall"), Principal("oncall", None, operator=True)),
    ],
)
def test_a_new_token_round_trips_through_the_tokens_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: tuple[str, ...], principal: Principal
) -> None:
    token, entry = new_token(capsys, *argv)
    path = tmp_path / "tokens.toml"
    path.write_text(entry)  # all of stdout: what `>> tokens.toml` appends

    digest = hashlib.sha256(token.encode()).hexdigest()
    assert tomllib.loads(entry)["tokens"][principal.name]["sha256"] == digest
    assert load_tokens(path, load_pool(SAMPLE_POOL)) == {digest: principal}
    assert TokenBook.load(path, load_pool(SAMPLE_POOL)).authenticate(bearer(token)) == principal
    assert token not in entry
    assert len(token) >= 43  # 32 random bytes


def test_every_token_is_new(capsys: pytest.CaptureFixture[str]) -> None:
    tokens = {new_token(capsys, "--operator")[0] for _ in range(3)}

    assert len(tokens) == 3


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        ((), "one of the arguments --tenant --operator is required"),
        (("--operator", "--tenant", "hku-ml"), "not allowed with argument"),
        (("--tenant", "hku ml"), "--tenant: 'hku ml' is not a valid id"),
        (("--operator", "--name", "a.b"), "--name: 'a.b' is not a valid id"),
    ],
)
def test_a_bad_request_prints_no_token(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], error: str
) -> None:
    assert main(["token", "new", *argv]) == 2
    out, err = capsys.readouterr()

    assert out == ""
    assert error in err
