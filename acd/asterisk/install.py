"""Installs Asterisk (>= 20) for the ACD: the host's own when it has one, else a Debian sid root.

Debian 12 ships no Asterisk and sid's needs a newer libc, so Asterisk runs in a small sid root
entered with plain `chroot`. The root is built once with mmdebstrap and kept as a zstd tarball
under the cache directory, keyed by the package list and `RECIPE_VERSION`; later installs
(another checkout, CI, a wiped root) restore it in about a second. A marker file in the root
records the key it was built from, so an install with a current root does nothing.

Several processes may install at once (parallel test workers, other checkouts): an exclusive
lock file in the cache directory serialises them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePosixPath

#: Bump when the recipe below changes in a way the package list does not show.
RECIPE_VERSION = 1
PACKAGES = (
    "asterisk",
    "asterisk-modules",
    "asterisk-core-sounds-en-gsm",  # the digits SayNumber and announcements need
    "asterisk-moh-opsound-gsm",
)
SUITE = "sid"
MIN_MAJOR_VERSION = 20
HOST_BINARY = PurePosixPath("/usr/sbin/asterisk")
MARKER = ".acd-asterisk-root"
HOST_TOOLS = {"mmdebstrap": "mmdebstrap", "zstd": "zstd", "tar": "tar", "chroot": "coreutils"}

Reporter = Callable[[str], None]


class InstallError(RuntimeError):
    """Asterisk could not be installed or found; the message says why and what to do."""


class InstallSource(Enum):
    HOST = "host"  # /usr/sbin/asterisk on this machine
    EXISTING = "existing"  # the root was already installed from the current recipe
    CACHE = "cache"  # restored from the cached tarball
    BUILT = "built"  # built with mmdebstrap (and cached)


@dataclass(frozen=True, slots=True)
class Installation:
    """Where an Asterisk lives. `root` is `/` for the host's Asterisk, else the chroot."""

    root: Path
    version: str

    @property
    def is_chroot(self) -> bool:
        return self.root != Path("/")

    def command(self, *args: str) -> list[str]:
        """The argv running the asterisk binary with `args` (inside the root if there is one)."""
        if self.is_chroot:
            return ["chroot", str(self.root), str(HOST_BINARY), *args]
        return [str(HOST_BINARY), *args]

    def host_path(self, inner: PurePosixPath) -> Path:
        """The host path of a path as Asterisk sees it."""
        return self.root / inner.relative_to("/")


@dataclass(frozen=True, slots=True)
class InstallResult:
    installation: Installation
    source: InstallSource
    tarball: Path | None


def default_root() -> Path:
    return Path(
        os.environ.get("ACD_ASTERISK_ROOT")
        or Path.home() / ".local" / "share" / "acd" / "asterisk-root"
    )


def default_cache_dir() -> Path:
    return Path(os.environ.get("ACD_CACHE_DIR") or Path.home() / ".cache" / "acd")


def cache_key() -> str:
    recipe = {"recipe": RECIPE_VERSION, "suite": SUITE, "packages": sorted(PACKAGES)}
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()
    return digest[:16]


def tarball_path(cache_dir: Path) -> Path:
    return cache_dir / f"asterisk-root-{cache_key()}.tar.zst"


def parse_version(output: str) -> tuple[int, str]:
    """`Asterisk 22.10.1+dfsg…` → (22, "22.10.1+dfsg…"); InstallError on anything else."""
    match = re.match(r"Asterisk (\d+)\.(\S+)", output.strip())
    if match is None:
        raise InstallError(f"unexpected `asterisk -V` output: {output.strip()!r}")
    return int(match.group(1)), f"{match.group(1)}.{match.group(2)}"


def probe(installation_root: Path) -> Installation | None:
    """The Asterisk at this root if it runs and is new enough, else None."""
    candidate = Installation(installation_root, "")
    if not candidate.host_path(HOST_BINARY).exists():
        return None
    try:
        done = subprocess.run(
            candidate.command("-V"), capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    try:
        major, version = parse_version(done.stdout)
    except InstallError:
        return None
    if major < MIN_MAJOR_VERSION:
        return None
    return Installation(installation_root, version)


def find_installation(root: Path | None = None, *, use_host: bool = True) -> Installation | None:
    """An installed, usable Asterisk without installing anything."""
    if use_host and (host := probe(Path("/"))) is not None:
        return host
    root = default_root() if root is None else root
    if _marker_matches(root):
        return probe(root)
    return None


def install(
    root: Path | None = None,
    cache_dir: Path | None = None,
    *,
    use_host: bool = True,
    report: Reporter = lambda message: None,
) -> InstallResult:
    """Make Asterisk available (idempotent). Raises InstallError with the reason on failure."""
    if use_host and (host := probe(Path("/"))) is not None:
        report(f"using the host's Asterisk {host.version} ({HOST_BINARY})")
        return InstallResult(host, InstallSource.HOST, None)
    root = (default_root() if root is None else root).absolute()
    cache_dir = (default_cache_dir() if cache_dir is None else cache_dir).absolute()
    if os.geteuid() != 0:
        raise InstallError(
            "installing Asterisk needs root (mmdebstrap and chroot); run `acd asterisk install` "
            "as root, or install Asterisk >= 20 as /usr/sbin/asterisk"
        )
    try:
        return _install_root(root, cache_dir, report)
    except OSError as exc:
        raise InstallError(
            f"installing Asterisk in {root} (cache {cache_dir}) failed: {exc}"
        ) from None


def _install_root(root: Path, cache_dir: Path, report: Reporter) -> InstallResult:
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(cache_dir / "install.lock"):
        tarball = tarball_path(cache_dir)
        if _marker_matches(root) and (existing := probe(root)) is not None:
            write_network_files(root)
            report(f"Asterisk {existing.version} already installed in {root}")
            return InstallResult(existing, InstallSource.EXISTING, tarball)
        if tarball.exists():
            _ensure_host_tools(report, ("zstd", "tar"))
            report(f"restoring the Asterisk root from {tarball}")
            _restore(tarball, root)
            source = InstallSource.CACHE
        else:
            _ensure_host_tools(report, tuple(HOST_TOOLS))
            _build(root, report)
            source = InstallSource.BUILT
        write_network_files(root)
        installation = probe(root)
        if installation is None:
            raise InstallError(
                f"the root at {root} holds no working Asterisk >= {MIN_MAJOR_VERSION} "
                f"(try `chroot {root} {HOST_BINARY} -V`); remove {tarball} to rebuild"
            )
        if source is InstallSource.BUILT:
            report(f"caching the root as {tarball}")
            _pack(root, tarball)
        (root / MARKER).write_text(cache_key() + "\n")
        report(f"Asterisk {installation.version} installed in {root} ({source.value})")
        return InstallResult(installation, source, tarball)


def write_network_files(root: Path) -> None:
    """Local name resolution inside the root: Asterisk resolves the host name at start and on
    every PJSIP call, and each lookup against an unreachable DNS server costs ~10 s."""
    hostname = socket.gethostname()
    etc = root / "etc"
    etc.mkdir(exist_ok=True)
    hosts = (
        f"127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost ip6-loopback {hostname}\n"
    )
    _write_if_changed(etc / "hosts", hosts)
    resolv = etc / "resolv.conf"
    if resolv.is_symlink():
        resolv.unlink()
    _write_if_changed(resolv, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_symlink() and path.exists() and path.read_text() == text:
        return
    tmp = path.with_name(path.name + ".acd-tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _marker_matches(root: Path) -> bool:
    try:
        return (root / MARKER).read_text().strip() == cache_key()
    except OSError:
        return False


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(argv: list[str], what: str, timeout: float = 900) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallError(f"{what} failed: {exc}") from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise InstallError(f"{what} failed (exit {done.returncode}):\n{tail}")


def _ensure_host_tools(report: Reporter, tools: tuple[str, ...]) -> None:
    missing = sorted({HOST_TOOLS[tool] for tool in tools if shutil.which(tool) is None})
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise InstallError(f"missing tools {', '.join(missing)} and no apt-get to install them")
    report(f"installing {', '.join(missing)} on the host with apt-get")
    env_argv = ["env", "DEBIAN_FRONTEND=noninteractive"]
    _run([*env_argv, "apt-get", "update", "-qq"], "apt-get update")
    _run([*env_argv, "apt-get", "install", "-y", "-qq", *missing], f"apt-get install {missing}")


def archive_url(sources_dir: Path = Path("/etc/apt")) -> str:
    """The Debian archive this machine's apt already uses (its mirror or proxy, not ours)."""
    if override := os.environ.get("ACD_DEBIAN_MIRROR"):
        return override
    candidates: list[str] = []
    for path in sorted((sources_dir / "sources.list.d").glob("*.sources")):
        for stanza in path.read_text(errors="replace").split("\n\n"):
            fields = _deb822_fields(stanza)
            if "deb" not in fields.get("types", "").split():
                continue
            if any(s.endswith("-security") for s in fields.get("suites", "").split()):
                continue
            candidates.extend(fields.get("uris", "").split())
    for path in [
        sources_dir / "sources.list",
        *sorted((sources_dir / "sources.list.d").glob("*.list")),
    ]:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb" and not words[2].endswith("-security"):
                candidates.append(words[1])
    debian = [url for url in candidates if "security" not in url and "debian" in url]
    if not debian:
        raise InstallError(
            "found no Debian archive in /etc/apt/sources.list{,.d}; "
            "set ACD_DEBIAN_MIRROR to a Debian archive URL serving sid"
        )
    return debian[0]


def _deb822_fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in stanza.splitlines():
        if line.startswith("#") or ":" not in line or line[:1].isspace():
            continue
        key, value = line.split(":", 1)
        fields[key.strip().lower()] = value.strip()
    return fields


def _host_proxy_options() -> list[str]:
    """The host apt's proxy settings, so mmdebstrap goes the same way the host's apt does."""
    options: list[str] = []
    for key in ("Acquire::http::Proxy", "Acquire::https::Proxy"):
        try:
            done = subprocess.run(
                ["apt-config", "shell", "value", key],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        match = re.search(r"value='([^']*)'", done.stdout)
        if match and match.group(1):
            options.append(f'--aptopt={key} "{match.group(1)}"')
    return options


def _build(root: Path, report: Reporter) -> None:
    url = archive_url()
    report(f"building a Debian {SUITE} root with Asterisk in {root} from {url} (about 30 s)")
    staging = root.with_name(root.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    excluded = ("doc", "man", "locale", "info")
    argv = [
        "mmdebstrap",
        "--mode=root",
        "--variant=essential",
        "--include=" + ",".join(PACKAGES),
        '--aptopt=Acquire::Check-Valid-Until "false"',
        '--aptopt=APT::Install-Recommends "false"',
        *_host_proxy_options(),
        *(f"--dpkgopt=path-exclude=/usr/share/{name}/*" for name in excluded),
        SUITE,
        str(staging),
        url,
    ]
    try:
        _run(argv, "mmdebstrap")
    except InstallError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _replace_dir(staging, root)


def _restore(tarball: Path, root: Path) -> None:
    staging = root.with_name(root.name + ".restoring")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _run(["tar", "-I", "zstd -d -T0", "-xpf", str(tarball), "-C", str(staging)], "unpacking")
    except InstallError:
        shutil.rmtree(staging, ignore_errors=True)
        raise InstallError(f"the cached root {tarball} is damaged; remove it to rebuild") from None
    _replace_dir(staging, root)


def _pack(root: Path, tarball: Path) -> None:
    partial = tarball.with_name(tarball.name + ".partial")
    _run(
        [
            "tar",
            "-I",
            "zstd -3 -T0",
            "--exclude=./var/acd",
            "-cpf",
            str(partial),
            "-C",
            str(root),
            ".",
        ],
        "packing the root",
    )
    partial.replace(tarball)


def _replace_dir(new: Path, target: Path) -> None:
    """Move `new` to `target`, keeping instance directories from an older root."""
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.replace(old)
        instances = old / "var" / "acd"
        if instances.exists():
            (new / "var").mkdir(exist_ok=True)
            instances.replace(new / "var" / "acd")
    new.replace(target)
    shutil.rmtree(old, ignore_errors=True)
