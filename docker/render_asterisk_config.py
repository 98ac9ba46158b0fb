"""Renders asterisk-config/ for the Asterisk container (compose service `asterisk-config`).

It runs in the controller image, which has the project: the same renderer as
`acd asterisk start` (`acd.asterisk.templates.render_directory`, the controller's AMI event
filters), fed with the secrets the controller reads (`/run/secrets/…`) and the addresses of the
compose network instead of an instance's loopback ports. asterisk-config/ binds AMI and SIP to
127.0.0.1 and permits AMI from 127.0.0.1 only (tests/asterisk/test_config_files.py keeps that
so for `acd asterisk`); in a container those lines are replaced here, each exactly once, so a
template change that moves them fails this step instead of leaving Asterisk on loopback.

    python render_asterisk_config.py --out DIR [--agi controller-1:4573] [--bind 0.0.0.0] …

The Asterisk image's entrypoint (docker/asterisk-entrypoint.sh) copies DIR into its etc/.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from acd.asterisk.instance import LINK_EVENTS
from acd.asterisk.templates import TemplateError, default_template_dir, render_directory
from acd.controller.facts import event_filters

LOOPBACK = "127.0.0.1"


def read_secret(path: Path) -> str:
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise ValueError(f"{path} is empty")
    if any(ch in value for ch in "\n\r;"):
        # A newline or `;` (a comment in Asterisk's files) would cut the rendered line.
        raise ValueError(f"{path}: a secret may not hold a line break or ';'")
    return value


def placeholders(args: argparse.Namespace) -> dict[str, str]:
    host, _, port = args.agi.rpartition(":")
    return {
        "AMI_PORT": str(args.ami_port),
        "SIP_PORT": str(args.sip_port),
        "RTP_START": str(args.rtp_start),
        "RTP_END": str(args.rtp_end),
        "AGI_ADDRESS": args.agi,
        "AGI_HOST": host,
        "AGI_PORT": port,
        "INSTANCE_DIR": args.instance_dir,
        "INSTANCE_NAME": "docker",
        "AMI_SECRET": read_secret(args.ami_secret_file),
        "AGI_SECRET": read_secret(args.agi_secret_file),
        "AMI_EVENT_FILTERS": "\neventfilter = ".join(event_filters(LINK_EVENTS)),
    }


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if line.strip() == old]
    if len(hits) != 1:
        raise TemplateError(f"{path.name}: expected the line {old!r} once, found {len(hits)}")
    lines[hits[0]] = new + "\n"
    path.write_text("".join(lines))


def container_addresses(out: Path, args: argparse.Namespace) -> None:
    """AMI and SIP on the container's interfaces; AMI permitted from the compose network."""
    replace_once(out / "manager.conf", f"bindaddr = {LOOPBACK}", f"bindaddr = {args.bind}")
    replace_once(
        out / "manager.conf",
        f"permit = {LOOPBACK}/255.255.255.255",
        f"permit = {args.ami_permit}",
    )
    pjsip = out / "pjsip.conf"
    replace_once(pjsip, f"bind = {LOOPBACK}:{args.sip_port}", f"bind = {args.bind}:{args.sip_port}")
    replace_once(pjsip, f"media_address = {LOOPBACK}", f"media_address = {args.media_address}")
    if args.media_address != LOOPBACK:
        # RTP then listens on every interface of the container; the SDP names media_address.
        replace_once(pjsip, "bind_rtp_to_media_address = yes", "bind_rtp_to_media_address = no")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="where the rendered files go")
    parser.add_argument("--templates", type=Path, default=None, help="asterisk-config/")
    parser.add_argument("--instance-dir", default="/var/lib/acd-asterisk")
    parser.add_argument("--ami-secret-file", type=Path, default=Path("/run/secrets/ami_secret"))
    parser.add_argument("--agi-secret-file", type=Path, default=Path("/run/secrets/agi_secret"))
    parser.add_argument("--ami-port", type=int, default=5038)
    parser.add_argument("--sip-port", type=int, default=5060)
    parser.add_argument("--rtp-start", type=int, default=10000)
    parser.add_argument("--rtp-end", type=int, default=10199)
    parser.add_argument("--agi", default="controller-1:4573", help="the first FastAGI host:port")
    parser.add_argument("--bind", default="0.0.0.0", help="AMI and SIP listen here")
    parser.add_argument(
        "--ami-permit", default="0.0.0.0/0.0.0.0", help="network the controllers connect from"
    )
    parser.add_argument(
        "--media-address", default=LOOPBACK, help="the RTP address Asterisk's SDP advertises"
    )
    args = parser.parse_args(argv)
    if not args.agi.rpartition(":")[2].isdigit():
        parser.error(f"--agi {args.agi!r}: expected HOST:PORT")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    templates = args.templates or default_template_dir()
    try:
        values = placeholders(args)
        # A fresh directory every start: a file removed from the templates goes away here too.
        for stale in args.out.glob("*") if args.out.is_dir() else ():
            if stale.is_file():
                stale.unlink()
        # The rendered files hold both secrets: only the renderer's user (and root) read them.
        args.out.mkdir(parents=True, exist_ok=True)
        args.out.chmod(0o700)
        render_directory(templates, args.out, values)
        container_addresses(args.out, args)
    except (OSError, ValueError) as exc:
        print(f"render_asterisk_config: error: {exc}", file=sys.stderr)
        return 1
    print(f"render_asterisk_config: {templates} rendered into {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
