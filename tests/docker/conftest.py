"""The images' install steps, replayed here without Docker (no engine on these machines).

- `controller_prefix`: controller.Dockerfile's build stage — its COPYs into a scratch "image"
  directory, then its RUN (docker/install-controller.sh) with `/opt/acd` mapped to a prefix.
  Cached under ~/.cache/acd (ACD_CACHE_DIR) by the content of everything the COPYs bring and
  the Python version: cold about 40 s (pip installs the project and its dependencies), warm 0 s.
- `asterisk_image_root`: asterisk.Dockerfile — a minimal Debian sid root with apt (mmdebstrap
  `--variant=apt`, what debian:sid-slim is), the COPYs, then its RUN
  (docker/install-asterisk.sh) inside it with `chroot`, the host's resolv.conf in place as
  `docker build` provides it. Cached as a zstd tarball keyed by the install script and the
  recipe: cold about 50 s (25 s base, 18 s apt-get, packing), warm 1.5 s (unpacking a copy).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from unavailable import unavailable

from acd.asterisk.install import _host_proxy_options, archive_url, default_cache_dir

from . import dockerfile as df

#: Bump when the replay below changes in a way the hashed inputs do not show.
REPLAY_VERSION = 1
BASE_RECIPE = (
    "mmdebstrap",
    "--mode=root",
    "--variant=apt",
    '--aptopt=Acquire::Check-Valid-Until "false"',
    '--aptopt=APT::Install-Recommends "false"',
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
)
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def content_key(*parts: bytes | Path) -> str:
    digest = hashlib.sha256(str(REPLAY_VERSION).encode())
    for part in parts:
        if isinstance(part, bytes):
            digest.update(part)
            continue
        files = sorted(p for p in part.rglob("*") if p.is_file()) if part.is_dir() else [part]
        for path in files:
            if "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(df.REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def timed(label: str, started: float) -> None:
    print(f"tests/docker: {label} took {time.monotonic() - started:.1f} s", file=sys.stderr)


#: An older cache entry is removed once unused this long (another checkout's test session may
#: still be using one from a moment ago).
STALE_AFTER_SECONDS = 3600


def _drop_other(cache: Path, pattern: str, keep: Path) -> None:
    for old in cache.glob(pattern):
        if old == keep or old.name.endswith((".context", ".partial")):
            continue
        with contextlib.suppress(OSError):
            if time.time() - old.stat().st_mtime < STALE_AFTER_SECONDS:
                continue
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()


# --- the controller image ------------------------------------------------------------------

CONTROLLER_PREFIX = "/opt/acd"


def _controller_inputs() -> list[Path]:
    return [
        df.REPO / source
        for sources, _ in df.copies(df.CONTROLLER_DOCKERFILE, 0)
        for source in sources
    ]


def build_controller_prefix(prefix: Path) -> None:
    """The build stage: COPY into a scratch root, then its RUN with /opt/acd → `prefix`."""
    scratch = prefix.with_name(prefix.name + ".context")
    shutil.rmtree(scratch, ignore_errors=True)
    df.replay_copies(df.CONTROLLER_DOCKERFILE, 0, scratch)
    [(_stage, script, args)] = [r for r in df.script_runs(df.CONTROLLER_DOCKERFILE) if r[0] == 0]
    mapped = [str(prefix) if a == CONTROLLER_PREFIX else str(scratch / a.lstrip("/")) for a in args]
    done = subprocess.run(
        ["sh", str(scratch / str(script).lstrip("/")), *mapped],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    shutil.rmtree(scratch, ignore_errors=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="session")
def controller_prefix() -> Path:
    cache = default_cache_dir()
    key = content_key(sys.version.encode(), *_controller_inputs())
    prefix = cache / f"docker-controller-{key}"
    with locked(cache / "docker-controller.lock"):
        if not (prefix / ".complete").exists():
            shutil.rmtree(prefix, ignore_errors=True)
            started = time.monotonic()
            build_controller_prefix(prefix)
            (prefix / ".complete").write_text(key + "\n")
            timed("install-controller.sh (cold)", started)
            _drop_other(cache, "docker-controller-*", prefix)
    return prefix


# --- the Asterisk image --------------------------------------------------------------------


def _asterisk_key() -> str:
    return content_key(
        "\n".join(BASE_RECIPE).encode(), df.DOCKER / "install-asterisk.sh", df.ASTERISK_DOCKERFILE
    )


def _run(argv: list[str], what: str, timeout: float = 900) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
    assert done.returncode == 0, f"{what} failed (exit {done.returncode}):\n{tail}"


def build_asterisk_root(root: Path) -> None:
    """FROM (a sid root with apt), the COPYs, the RUN — as asterisk.Dockerfile says."""
    shutil.rmtree(root, ignore_errors=True)
    started = time.monotonic()
    _run([*BASE_RECIPE, *_host_proxy_options(), "sid", str(root), archive_url()], "mmdebstrap")
    timed("the sid base root (mmdebstrap --variant=apt)", started)
    df.replay_copies(df.ASTERISK_DOCKERFILE, None, root)
    # `docker build` gives each RUN the host's resolver; the image keeps none of it.
    resolv = root / "etc" / "resolv.conf"
    resolv.unlink(missing_ok=True)
    shutil.copy("/etc/resolv.conf", resolv)
    started = time.monotonic()
    for words in df.runs(df.ASTERISK_DOCKERFILE):
        _run(["env", "-i", f"PATH={CHROOT_PATH}", "chroot", str(root), *words], " ".join(words))
    timed("install-asterisk.sh in the root", started)
    resolv.unlink()


@pytest.fixture(scope="session")
def asterisk_image_tarball() -> Path:
    if os.geteuid() != 0 or shutil.which("chroot") is None:
        unavailable("the Asterisk image's install replay needs root and chroot")
    for tool in ("mmdebstrap", "zstd"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} missing (`acd asterisk install` installs it on Debian)")
    cache = default_cache_dir()
    tarball = cache / f"docker-asterisk-root-{_asterisk_key()}.tar.zst"
    with locked(cache / "docker-asterisk.lock"):
        if not tarball.exists():
            staging = cache / "docker-asterisk-root.building"
            build_asterisk_root(staging)
            started = time.monotonic()
            partial = tarball.with_name(tarball.name + ".partial")
            _run(["tar", "-I", "zstd -3 -T0", "-cpf", str(partial), "-C", str(staging), "."], "tar")
            partial.replace(tarball)
            shutil.rmtree(staging, ignore_errors=True)
            timed("packing the image root", started)
            _drop_other(cache, "docker-asterisk-root-*.tar.zst", tarball)
    return tarball


@pytest.fixture
def asterisk_image_root(asterisk_image_tarball: Path, tmp_path: Path) -> Iterator[Path]:
    """A fresh copy of the installed image root, then the Dockerfile's COPYs again (the
    entrypoint as it is now)."""
    root = tmp_path / "image-root"
    root.mkdir()
    started = time.monotonic()
    _run(["tar", "-I", "zstd -d -T0", "-xpf", str(asterisk_image_tarball), "-C", str(root)], "tar")
    timed("unpacking the image root", started)
    df.replay_copies(df.ASTERISK_DOCKERFILE, None, root)
    yield root
    shutil.rmtree(root, ignore_errors=True)  # 280 MB each
