"""`acd asterisk install|start|stop|status`: a local Asterisk for development and the demo.

`start` without options runs the instance named `default` in the background on the ports the
controller expects (AMI and FastAGI from the ACD settings, so `ACD_AMI_PORT` and friends apply;
SIP 5060), `status` and `stop` act on it; `start --foreground` is for `make run`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from acd.asterisk.install import InstallError, find_installation, install
from acd.asterisk.instance import AsteriskError, AsteriskInstance
from acd.asterisk.ports import AsteriskPorts
from acd.asterisk.templates import TemplateError
from acd.config import ConfigError, load_settings

DEFAULT_INSTANCE = "default"
EXIT_NOT_RUNNING = 3  # as `systemctl status` for a stopped unit


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "asterisk", help="install and run a local Asterisk 22", description=__doc__
    )
    verbs = parser.add_subparsers(dest="asterisk_verb", required=True, metavar="ACTION")

    install_parser = verbs.add_parser(
        "install", help="install Asterisk (idempotent; uses the host's Asterisk >= 20 if any)"
    )
    install_parser.add_argument("--root", type=Path, help="where the Debian sid root goes")
    install_parser.add_argument("--cache-dir", type=Path, help="where the root tarball is cached")
    install_parser.add_argument(
        "--no-host", action="store_true", help="ignore /usr/sbin/asterisk; always use the root"
    )
    install_parser.set_defaults(func=_install)

    start = verbs.add_parser("start", help="start an instance (background unless --foreground)")
    _add_name(start)
    start.add_argument("--config", type=Path, help="ACD settings file for the AMI/FastAGI ports")
    start.add_argument("--ami-port", type=int, help="AMI port (default: the ACD setting, 5038)")
    start.add_argument("--sip-port", type=int, default=5060, help="SIP UDP port (default 5060)")
    start.add_argument("--rtp-start", type=int, default=10000, help="first RTP port")
    start.add_argument("--rtp-end", type=int, default=10199, help="last RTP port")
    start.add_argument(
        "--agi", metavar="HOST:PORT", help="the controller's FastAGI (default: the ACD setting)"
    )
    start.add_argument("--foreground", action="store_true", help="run in this terminal")
    start.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for boot")
    start.set_defaults(func=_start)

    stop = verbs.add_parser("stop", help="stop an instance")
    _add_name(stop)
    stop.set_defaults(func=_stop)

    status = verbs.add_parser("status", help="is the instance running; its ports (exit 3: no)")
    _add_name(status)
    status.set_defaults(func=_status)


def _add_name(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", default=DEFAULT_INSTANCE, help="instance name (default: default)")


def _say(message: str) -> None:
    print(f"acd asterisk: {message}", flush=True)


def _error(message: str) -> int:
    print(f"acd asterisk: error: {message}", file=sys.stderr, flush=True)
    return 1


def _install(args: argparse.Namespace) -> int:
    try:
        result = install(args.root, args.cache_dir, use_host=not args.no_host, report=_say)
        default = AsteriskInstance(result.installation, DEFAULT_INSTANCE)
        default.ensure_secrets()
    except (InstallError, OSError) as exc:
        return _error(str(exc))
    _say(f"secrets of instance {DEFAULT_INSTANCE}: {default.secrets_dir} (kept if present)")
    return 0


def _ports(args: argparse.Namespace) -> AsteriskPorts:
    settings = load_settings(args.config)
    agi_host, agi_port = settings.agi.host, settings.agi.port
    if args.agi:
        host, sep, port = args.agi.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"--agi {args.agi!r}: expected HOST:PORT")
        agi_host, agi_port = host, int(port)
    return AsteriskPorts(
        ami=args.ami_port or settings.ami.port,
        sip=args.sip_port,
        rtp_start=args.rtp_start,
        rtp_end=args.rtp_end,
        agi_host=agi_host,
        agi_port=agi_port,
    )


def _start(args: argparse.Namespace) -> int:
    try:
        ports = _ports(args)
        installation = install(report=_say).installation
        instance = AsteriskInstance(installation, args.name, ports)
        if instance.is_running():
            _say(f"instance {args.name} is already running (pid {instance.pid()})")
            return 0
        if args.foreground:
            _say(f"running instance {args.name} in the foreground: {_describe(instance)}")
            instance.run_foreground()
        instance.start(args.timeout)
    except (InstallError, AsteriskError, TemplateError, ConfigError, ValueError) as exc:
        return _error(str(exc))
    _say(f"instance {args.name} running (pid {instance.pid()}): {_describe(instance)}")
    _say(f"logs: {instance.log_dir}; stop with `acd asterisk stop --name {args.name}`")
    return 0


def _existing(name: str) -> AsteriskInstance | None:
    installation = find_installation()
    if installation is None:
        return None
    instance = AsteriskInstance(installation, name)
    if (ports := instance.read_ports()) is not None:
        instance.ports = ports
    return instance


def _stop(args: argparse.Namespace) -> int:
    try:
        instance = _existing(args.name)
        if instance is None or not instance.is_running():
            _say(f"instance {args.name} is not running")
            return 0
        instance.stop()
    except (AsteriskError, ValueError) as exc:
        return _error(str(exc))
    _say(f"instance {args.name} stopped")
    return 0


def _status(args: argparse.Namespace) -> int:
    try:
        instance = _existing(args.name)
    except ValueError as exc:
        return _error(str(exc))
    if instance is None:
        _say("Asterisk is not installed (run `acd asterisk install`)")
        return EXIT_NOT_RUNNING
    if not instance.is_running():
        _say(f"instance {args.name} is not running (Asterisk {instance.installation.version})")
        return EXIT_NOT_RUNNING
    try:
        uptime = instance.cli("core show uptime seconds").split()
    except AsteriskError as exc:
        return _error(str(exc))
    seconds = uptime[2] if len(uptime) > 2 else "?"
    _say(
        f"instance {args.name} running (pid {instance.pid()}, up {seconds} s, "
        f"Asterisk {instance.installation.version}): {_describe(instance)}"
    )
    return 0


def _describe(instance: AsteriskInstance) -> str:
    ports = instance.ports
    return (
        f"AMI 127.0.0.1:{ports.ami}, SIP udp 127.0.0.1:{ports.sip}, "
        f"RTP {ports.rtp_start}-{ports.rtp_end}, FastAGI {ports.agi_address}, dir {instance.dir}, "
        f"secrets {instance.secrets_dir}"
    )
