"""The ports one Asterisk instance uses, and picking free ones for parallel instances."""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"

#: RTP ranges for picked instances stay below Linux's ephemeral range (32768-60999), where
#: port-0 binds (ours and everyone else's) land.
RTP_POOL = (12000, 32000)
RTP_BLOCK = 200


@dataclass(frozen=True, slots=True)
class AsteriskPorts:
    """AMI (TCP), SIP (UDP), the RTP range, and the controller's FastAGI address that the
    dialplan calls (Asterisk connects to it; the controller binds it)."""

    ami: int = 5038
    sip: int = 5060
    rtp_start: int = 10000
    rtp_end: int = 10199
    agi_host: str = LOOPBACK
    agi_port: int = 4573

    def __post_init__(self) -> None:
        for name in ("ami", "sip", "rtp_start", "rtp_end", "agi_port"):
            value = getattr(self, name)
            if not 1 <= value <= 65535:
                raise ValueError(f"{name} port {value} is outside 1..65535")
        if self.rtp_end <= self.rtp_start:
            raise ValueError(f"empty RTP range {self.rtp_start}-{self.rtp_end}")

    @property
    def agi_address(self) -> str:
        return f"{self.agi_host}:{self.agi_port}"

    @classmethod
    def pick_free(cls, rng: random.Random | None = None) -> AsteriskPorts:
        """Ports free right now on loopback. Another process may still take one before
        Asterisk binds it: `AsteriskInstance.start` checks and raises `PortInUseError`."""
        rng = rng or random.Random()
        ami = free_port(socket.SOCK_STREAM)
        sip = free_port(socket.SOCK_DGRAM)
        agi = free_port(socket.SOCK_STREAM, avoid={ami})
        blocks = (RTP_POOL[1] - RTP_POOL[0]) // RTP_BLOCK
        rtp_start = RTP_POOL[0] + RTP_BLOCK * rng.randrange(blocks)
        return cls(ami, sip, rtp_start, rtp_start + RTP_BLOCK - 1, LOOPBACK, agi)


def free_port(kind: socket.SocketKind, avoid: set[int] | None = None) -> int:
    """A port the kernel considers free on loopback for this socket type."""
    avoid = avoid or set()
    while True:
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind((LOOPBACK, 0))
            port: int = probe.getsockname()[1]
        if port not in avoid:
            return port
