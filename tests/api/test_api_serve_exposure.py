"""`acd serve` as a process, on real sockets: which admin tokens it serves on which address,
and how long a connection may take to send its request head."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ACD = str(Path(sys.executable).parent / "acd")
STRONG_TOKEN = "Kq3vN8-xW2pL9sT4uY7zB1cD6fG0hJ5mR"  # 33 characters, 33 distinct


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _config(tmp_path: Path, host: str, token: str | None) -> Path:
    """A configuration with ports of its own: the AMI port is closed (no Asterisk needed:
    the controller keeps retrying while the HTTP API serves)."""
    lines = [f'api_token = "{token}"'] if token is not None else []
    lines += [
        "[ami]",
        'host = "127.0.0.1"',
        f"port = {_free_port()}",
        'secret = "test-ami-secret"',
        "[agi]",
        'host = "127.0.0.1"',
        f"port = {_free_port()}",
        'secret = "test-agi-secret"',
        "[http]",
        f'host = "{host}"',
        f"port = {_free_port()}",
        "[storage]",
        f'var_dir = "{tmp_path / "var"}"',
    ]
    path = tmp_path / "acd.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACD_")}
    env.update(extra)
    return env


def _http_port(config: Path) -> int:
    import tomllib

    port: int = tomllib.loads(config.read_text())["http"]["port"]
    return port


class Served:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port


def _start(config: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [ACD, "serve", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err


def _wait_listening(
    port: int, process: subprocess.Popen[str], host: str = "127.0.0.1", within: float = 20.0
) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    config = _config(tmp_path, "127.0.0.1", STRONG_TOKEN)
    process = _start(config, _env(ACD_HTTP_HEADER_TIMEOUT="1.0"))
    try:
        assert _wait_listening(_http_port(config), process), _stop(process)
        yield Served(process, _http_port(config))
    finally:
        _stop(process)


def _refused(config: Path, env: dict[str, str]) -> tuple[int | None, str]:
    """Run `acd serve`; (exit status, stderr) if it exits within 10 s, else (None, stderr)."""
    process = _start(config, env)
    try:
        status = process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        return None, _stop(process)
    return status, _stop(process)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "acd.example.com"])
def test_the_demo_token_is_refused_off_loopback(tmp_path: Path, host: str) -> None:
    status, err = _refused(_config(tmp_path, host, "demo-admin-token"), _env())
    assert status not in (None, 0), f"served the demo token on {host}: {err}"
    for word in ("api_token", "ACD_API_TOKEN", "demo", "[http] host"):
        assert word in err, err


def test_a_short_env_token_is_refused_off_loopback(tmp_path: Path) -> None:
    config = _config(tmp_path, "0.0.0.0", STRONG_TOKEN)
    status, err = _refused(config, _env(ACD_API_TOKEN="only-31-characters-long-secret!"))
    assert status not in (None, 0), f"served a 31-character token on 0.0.0.0: {err}"
    for word in ("ACD_API_TOKEN", "31 characters", "32"):
        assert word in err, err


def test_a_long_token_is_served_off_loopback(tmp_path: Path) -> None:
    config = _config(tmp_path, "0.0.0.0", None)
    process = _start(config, _env(ACD_API_TOKEN="y2Mx9Qw4Ze7Rt1Uo5Ip8As3Df6Gh0Jk-"))
    try:
        assert _wait_listening(_http_port(config), process), _stop(process)
    finally:
        _stop(process)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost"])
def test_loopback_keeps_serving_the_demo_token(tmp_path: Path, host: str) -> None:
    config = _config(tmp_path, host, "demo-admin-token")
    process = _start(config, _env())
    address = host if host.startswith("127.") else "127.0.0.1"
    try:
        assert _wait_listening(_http_port(config), process, address), _stop(process)
        request = b"GET /api/v1/queues HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        with socket.create_connection((address, _http_port(config)), timeout=5) as s:
            s.sendall(request + b"demo-admin-token\r\nConnection: close\r\n\r\n")
            assert s.recv(100).startswith(b"HTTP/1.1 200"), "the demo token no longer works"
    finally:
        _stop(process)


async def _slow_head(port: int) -> float:
    """Send a request head one byte at a time, never finishing it; how long it was held."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    opened = time.monotonic()
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        while True:
            writer.write(b"X")
            await writer.drain()
            try:
                if await asyncio.wait_for(reader.read(100), 0.2) == b"":
                    break
            except TimeoutError:
                continue
    except (ConnectionError, OSError):
        pass
    writer.close()
    return time.monotonic() - opened


async def test_slow_request_heads_are_cut_off_while_requests_are_served(served: Served) -> None:
    n, bound = 300, 1.0
    slow = [asyncio.create_task(_slow_head(served.port)) for _ in range(n)]
    try:
        await asyncio.sleep(0.3)
        # Meanwhile a normal request is answered at once.
        started = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(100), 5)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert time.monotonic() - started < bound
        done, _ = await asyncio.wait(slow, timeout=bound + 4)
        assert len(done) == n, f"{n - len(done)} of {n} slow heads still held after {bound + 4}s"
        held = max(task.result() for task in done)
        assert held < bound + 1.5, f"a slow head was held {held:.1f}s"
    finally:
        for task in slow:
            task.cancel()
        await asyncio.gather(*slow, return_exceptions=True)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.255.255.254", True),
        ("::1", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("10.0.0.1", False),
        ("::ffff:127.0.0.1", False),  # refused rather than guessed
        ("localhost.example.com", False),
    ],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    from acd.serve import is_loopback

    assert is_loopback(host) is loopback


def test_no_configured_token_is_no_weak_token() -> None:
    """Off loopback without api_token: only issued (random) tokens exist."""
    from acd.config import HttpSettings, Settings
    from acd.serve import check_exposure

    check_exposure(Settings(http=HttpSettings(host="0.0.0.0"), api_token=""))
    check_exposure(Settings(http=HttpSettings(host="0.0.0.0"), api_token=STRONG_TOKEN))


@pytest.mark.parametrize(
    "token",
    [
        " " * 32,
        "\t" * 40,
        "Kq3vN8-xW2pL9sT4 uY7zB1cD6fG0hJ5mR",  # an inner space
        STRONG_TOKEN + "\n",
        STRONG_TOKEN + "\x00",
    ],
)
@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
def test_a_token_with_whitespace_is_refused_anywhere(token: str, host: str) -> None:
    """A client strips the bearer value: such a token is unusable, or usable half-typed."""
    from acd.config import ConfigError, HttpSettings, Settings
    from acd.serve import check_exposure

    with pytest.raises(ConfigError, match="whitespace"):
        check_exposure(Settings(http=HttpSettings(host=host), api_token=token))


@pytest.mark.parametrize("token", ["a" * 32, "ab" * 20, "passwordpassword" * 3, "0123456" * 5])
def test_a_long_token_of_few_distinct_characters_is_refused_off_loopback(token: str) -> None:
    from acd.config import ConfigError, HttpSettings, Settings
    from acd.serve import check_exposure

    with pytest.raises(ConfigError, match="distinct characters"):
        check_exposure(Settings(http=HttpSettings(host="0.0.0.0"), api_token=token))
    check_exposure(Settings(http=HttpSettings(host="127.0.0.1"), api_token=token))


def test_random_hex_tokens_have_variety_enough() -> None:
    """The variety rule refuses no honest random token: 2000 of the narrowest usual kind."""
    import secrets

    from acd.config import HttpSettings, Settings
    from acd.serve import check_exposure

    for _ in range(2000):
        token = secrets.token_hex(16)
        check_exposure(Settings(http=HttpSettings(host="0.0.0.0"), api_token=token))


def test_acd_serve_refuses_a_repeated_character_token_off_loopback(tmp_path: Path) -> None:
    config = _config(tmp_path, "0.0.0.0", None)
    status, err = _refused(config, _env(ACD_API_TOKEN="a" * 32))
    assert status not in (None, 0), f"served 'a' * 32 on 0.0.0.0: {err}"
    assert "distinct characters" in err, err
