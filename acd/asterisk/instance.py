"""One Asterisk instance: its own configuration, run, log, astdb and spool directories and its
own ports, so several run side by side on one machine (parallel test workers, other checkouts).

An instance lives in `<root>/var/acd/instances/<name>` on the host, which Asterisk sees as
`/var/acd/instances/<name>` (for the host's own Asterisk the root is `/`, so both are the same).
Each start renders asterisk-config/ afresh and empties the astdb (PJSIP registrations survive
restarts there otherwise), the run, spool and log directories. The instance's secrets (the
controller's AMI secret, the FastAGI key) are generated once into `secrets/` and kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path, PurePosixPath
from typing import NoReturn

from acd.asterisk.install import Installation, write_network_files
from acd.asterisk.ports import AsteriskPorts
from acd.asterisk.templates import default_template_dir, render_directory
from acd.private_files import SECRET_LOOSE, private_dir, tighten, write_private_once

INSTANCES_DIR = PurePosixPath("/var/acd/instances")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
FRESH_SUBDIRS = ("etc", "run", "db", "spool", "log")
#: The per-instance secrets (AMI account, FastAGI key, a test instance's observer account):
#: generated once, kept across starts.
SECRET_NAMES = ("ami", "agi", "observer")
#: Besides what acd.controller.facts reads: ami.py's originate() waits for OriginateResponse
#: (panoramisk hands it to the action by its ActionID).
LINK_EVENTS = ("OriginateResponse",)
#: An AMI user of test instances only (manager.conf `#tryinclude`s its file): the classes the
#: `acd` user had before it lost `system` and got event filters, so tests and benchmarks
#: watch and drive calls as they did, on a session that is not the controller's.
OBSERVER_USERNAME = "acd-observer"
OBSERVER_FILE = "manager_observer.conf"
#: Bytes of randomness per secret; token_urlsafe(32) gives 43 characters.
SECRET_BYTES = 32
#: How often to look for the control socket while Asterisk starts (it appears within ~0.2 s;
#: Asterisk offers nothing to wait on before it exists).
STARTUP_POLL_SECONDS = 0.02


class AsteriskError(RuntimeError):
    """Asterisk did not start, stop or answer as asked; the message says why."""


class PortInUseError(AsteriskError):
    """Another process holds one of the instance's ports."""


class AsteriskInstance:
    def __init__(
        self,
        installation: Installation,
        name: str,
        ports: AsteriskPorts | None = None,
        template_dir: Path | None = None,
        *,
        observer: bool = False,
    ) -> None:
        if not NAME_PATTERN.fullmatch(name):
            raise ValueError(f"instance name {name!r}: use 1-64 letters, digits, '.', '_', '-'")
        self.installation = installation
        self.name = name
        self.ports = ports or AsteriskPorts()
        self.template_dir = template_dir or default_template_dir()
        self.observer = observer
        self.inner_dir = INSTANCES_DIR / name
        self.dir = installation.host_path(self.inner_dir)
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"AsteriskInstance({self.name!r}, {self.ports!r})"

    # --- paths (host side) ---------------------------------------------------------------

    @property
    def etc_dir(self) -> Path:
        return self.dir / "etc"

    @property
    def run_dir(self) -> Path:
        return self.dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.dir / "log"

    @property
    def db_dir(self) -> Path:
        return self.dir / "db"

    @property
    def astdb_path(self) -> Path:
        return self.db_dir / "astdb.sqlite3"

    @property
    def messages_log(self) -> Path:
        return self.log_dir / "messages"

    @property
    def queue_log(self) -> Path:
        return self.log_dir / "queue_log"

    @property
    def console_log(self) -> Path:
        """Asterisk's own stdout and stderr (start-up failures land here)."""
        return self.log_dir / "console.log"

    @property
    def pid_file(self) -> Path:
        return self.dir / "asterisk.pid"

    @property
    def ports_file(self) -> Path:
        return self.dir / "ports.json"

    @property
    def secrets_dir(self) -> Path:
        """`/var/acd/instances/<name>/secrets` on the HOST, also for a chrooted Asterisk: only
        the renderer and the controller read the secrets (Asterisk sees them in its rendered
        config), and the controller's default `secret_file` is this host path."""
        return Path(self.inner_dir / "secrets")

    def secret_file(self, name: str) -> Path:
        """`secrets/<name>.secret` (a name of SECRET_NAMES); "ami" and "agi" are what the
        controller's `[ami] secret_file` / `[agi] secret_file` point at."""
        if name not in SECRET_NAMES:
            raise ValueError(f"unknown secret {name!r} (known: {', '.join(SECRET_NAMES)})")
        return self.secrets_dir / f"{name}.secret"

    def ensure_secrets(self, names: tuple[str, ...] = ("ami", "agi")) -> None:
        """Generate each missing secret (dir 0700, files 0600, created with those modes so no
        other user can read them even for a moment, `acd.private_files`); existing ones are
        kept, made private if they were not."""
        private_dir(self.secrets_dir, SECRET_LOOSE)
        for name in names:
            path = self.secret_file(name)
            if not tighten(path, SECRET_LOOSE):
                write_private_once(path, secrets.token_urlsafe(SECRET_BYTES) + "\n")

    def read_secret(self, name: str) -> str:
        self.ensure_secrets((name,))
        value = self.secret_file(name).read_text(encoding="utf-8").strip()
        if not value:
            raise AsteriskError(f"instance {self.name}: {self.secret_file(name)} is empty")
        return value

    @property
    def ami_secret(self) -> str:
        return self.read_secret("ami")

    @property
    def agi_secret(self) -> str:
        return self.read_secret("agi")

    @property
    def _inner_config(self) -> str:
        return str(self.inner_dir / "etc" / "asterisk.conf")

    # --- lifecycle -----------------------------------------------------------------------

    def prepare(self) -> None:
        """Render the configuration and empty the per-start directories."""
        if self.is_running():
            raise AsteriskError(f"instance {self.name} is already running (pid {self.pid()})")
        for sub in FRESH_SUBDIRS:
            shutil.rmtree(self.dir / sub, ignore_errors=True)
            (self.dir / sub).mkdir(parents=True)
        # The rendered manager.conf and dialplan hold the secrets: no other user reads them.
        os.chmod(self.etc_dir, 0o700)
        if self.installation.is_chroot:
            write_network_files(self.installation.root)
        render_directory(self.template_dir, self.etc_dir, self.placeholders())
        if self.observer:
            (self.etc_dir / OBSERVER_FILE).write_text(self._observer_section())
        self.ports_file.write_text(json.dumps(_ports_dict(self.ports), indent=2) + "\n")

    def placeholders(self) -> dict[str, str]:
        return {
            "AMI_PORT": str(self.ports.ami),
            "SIP_PORT": str(self.ports.sip),
            "RTP_START": str(self.ports.rtp_start),
            "RTP_END": str(self.ports.rtp_end),
            "AGI_ADDRESS": self.ports.agi_address,
            "AGI_HOST": self.ports.agi_host,
            "AGI_PORT": str(self.ports.agi_port),
            "INSTANCE_DIR": str(self.inner_dir),
            "INSTANCE_NAME": self.name,
            "AMI_SECRET": self.ami_secret,
            "AGI_SECRET": self.agi_secret,
            "AMI_EVENT_FILTERS": _event_filter_lines(),
        }

    @property
    def observer_secret(self) -> str:
        return self.read_secret("observer")

    def _observer_section(self) -> str:
        return (
            f"[{OBSERVER_USERNAME}]\n"
            f"secret = {self.observer_secret}\n"
            "deny = 0.0.0.0/0.0.0.0\n"
            "permit = 127.0.0.1/255.255.255.255\n"
            "read = system,call,agent,user,reporting\n"
            "write = system,call,originate,agent,user,reporting\n"
        )

    def argv(self) -> list[str]:
        """Asterisk in the foreground (`-f`), without colours, on this instance's config."""
        return self.installation.command("-C", self._inner_config, "-f", "-n")

    def start(self, timeout: float = 30.0) -> None:
        """Start in the background and return once Asterisk is fully booted and holds its
        AMI and SIP ports. Raises PortInUseError (instance stopped) if a port is taken."""
        self.prepare()
        with open(self.console_log, "ab") as console:
            self._process = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal is not meant for Asterisk
            )
        # `chroot` execs Asterisk, so this is Asterisk's own pid.
        self.pid_file.write_text(f"{self._process.pid}\n")
        try:
            self.wait_fully_booted(timeout)
            self._check_ports()
        except BaseException:
            self.stop()
            raise

    def run_foreground(self) -> NoReturn:
        """Replace this process with Asterisk (for `make run`); Ctrl-C stops it."""
        self.prepare()
        self.pid_file.write_text(f"{os.getpid()}\n")
        argv = self.argv()
        os.execvp(argv[0], argv)

    def wait_fully_booted(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        control_socket = self.run_dir / "asterisk.ctl"
        while not control_socket.exists():
            self._raise_if_exited()
            if time.monotonic() > deadline:
                self._fail(f"no control socket after {timeout:.0f} s")
            time.sleep(STARTUP_POLL_SECONDS)
        remaining = max(1.0, deadline - time.monotonic())
        self.cli(f"core waitfullybooted {remaining:.0f}", timeout=remaining + 5)
        self._raise_if_exited()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop cleanly (`core stop now`), then SIGTERM, then SIGKILL. No-op if not running."""
        pid = self.pid()
        if pid is None or not self.is_running():
            self._forget()
            return
        with contextlib.suppress(AsteriskError):
            self.cli("core stop now", timeout=timeout)
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            if self._wait_exit(pid, timeout if sig is None else 5.0):
                break
        else:
            raise AsteriskError(f"instance {self.name} (pid {pid}) survived SIGKILL")
        self._forget()

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def is_running(self) -> bool:
        pid = self.pid()
        return pid is not None and _alive(pid) and self._inner_config in _cmdline(pid)

    def cli(self, command: str, timeout: float = 15.0) -> str:
        """Run one CLI command on this instance (`asterisk -rx`); returns its output."""
        argv = self.installation.command("-C", self._inner_config, "-rx", command)
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise AsteriskError(f"{self.name}: `{command}` took longer than {timeout} s") from None
        if done.returncode != 0 or done.stdout.startswith("Unable to connect"):
            output = (done.stdout + done.stderr).strip()
            raise AsteriskError(f"{self.name}: `{command}` failed: {output}")
        return done.stdout

    def read_ports(self) -> AsteriskPorts | None:
        """The ports of the last start (for `acd asterisk status` on a running instance)."""
        try:
            return AsteriskPorts(**json.loads(self.ports_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def remove(self) -> None:
        """Stop if running and delete the instance directory and its secrets."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        # A chrooted Asterisk's secrets are in /var/acd/instances/<name> on the host.
        shutil.rmtree(self.secrets_dir.parent, ignore_errors=True)

    # --- internals -----------------------------------------------------------------------

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        if self._process is not None and self._process.pid == pid:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        # Started by another process (e.g. `acd asterisk start`): not our child to wait for.
        deadline = time.monotonic() + timeout
        while _alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _forget(self) -> None:
        self._process = None
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()

    def _raise_if_exited(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            self._fail(f"Asterisk exited with status {self._process.returncode}")

    def _fail(self, reason: str) -> NoReturn:
        raise AsteriskError(f"instance {self.name}: {reason}\n{self._log_tail()}")

    def _log_tail(self, lines: int = 20) -> str:
        chunks: list[str] = []
        for path in (self.console_log, self.messages_log):
            with contextlib.suppress(OSError):
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                if tail:
                    chunks.append(f"--- {path}\n" + "\n".join(tail))
        return "\n".join(chunks) or "(no log output)"

    def _check_ports(self) -> None:
        pid = self.pid()
        assert pid is not None
        sockets = _socket_inodes(pid)
        for proto, port, what in (("tcp", self.ports.ami, "AMI"), ("udp", self.ports.sip, "SIP")):
            if not sockets & _bound_inodes(proto, port):
                self.stop()
                raise PortInUseError(
                    f"instance {self.name}: {what} port {port}/{proto} is held by another "
                    f"process\n{self._log_tail()}"
                )


def _event_filter_lines() -> str:
    """The value of manager.conf's `eventfilter = @AMI_EVENT_FILTERS@`: the first expression,
    then one more `eventfilter =` line per further one."""
    from acd.controller.facts import event_filters  # not at import: `acd asterisk` stays light

    return "\neventfilter = ".join(event_filters(LINK_EVENTS))


def _ports_dict(ports: AsteriskPorts) -> dict[str, object]:
    return {
        "ami": ports.ami,
        "sip": ports.sip,
        "rtp_start": ports.rtp_start,
        "rtp_end": ports.rtp_end,
        "agi_host": ports.agi_host,
        "agi_port": ports.agi_port,
    }


def _alive(pid: int) -> bool:
    """True for a live process; a zombie (exited, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    return inodes


def _bound_inodes(proto: str, port: int) -> set[str]:
    """Inodes of IPv4 sockets bound to `port` (TCP: listening) per /proc/net/<proto>."""
    inodes: set[str] = set()
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/net/{proto}").read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].split(":")[1], 16)
            listening = proto != "tcp" or fields[3] == "0A"
            if local_port == port and listening:
                inodes.add(fields[9])
    return inodes
