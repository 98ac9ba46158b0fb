"""A SIP softphone registers as agent 1001 with digest auth (raw SIP over UDP on loopback)."""

from __future__ import annotations

import hashlib
import re
import secrets
import socket

import pytest

from acd.asterisk.testing import RunningAsterisk

pytestmark = pytest.mark.asterisk


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # SIP digest (RFC 3261) is MD5


def _register(
    sock: socket.socket, sip_port: int, user: str, cseq: int, auth: str = "", expires: int = 60
) -> str:
    local_port = sock.getsockname()[1]
    uri = f"sip:127.0.0.1:{sip_port}"
    message = (
        f"REGISTER {uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK{secrets.token_hex(8)};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:{user}@127.0.0.1>;tag={secrets.token_hex(4)}\r\n"
        f"To: <sip:{user}@127.0.0.1>\r\n"
        f"Call-ID: {user}-registration-test\r\n"
        f"CSeq: {cseq} REGISTER\r\n"
        f"Contact: <sip:{user}@127.0.0.1:{local_port}>\r\n"
        f"Expires: {expires}\r\n"
        f"{auth}"
        "Content-Length: 0\r\n\r\n"
    )
    sock.sendto(message.encode(), ("127.0.0.1", sip_port))
    while True:
        reply = sock.recv(65535).decode(errors="replace")
        if not reply.startswith("SIP/2.0 100"):
            return reply


def _authorization(challenge: str, user: str, password: str, sip_port: int) -> str:
    header = re.search(r"^WWW-Authenticate: Digest (.*)$", challenge, re.MULTILINE | re.IGNORECASE)
    assert header is not None, challenge
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', header.group(1)))
    uri = f"sip:127.0.0.1:{sip_port}"
    ha1 = _md5(f"{user}:{params['realm']}:{password}")
    ha2 = _md5(f"REGISTER:{uri}")
    cnonce, nc = secrets.token_hex(8), "00000001"
    response = _md5(f"{ha1}:{params['nonce']}:{nc}:{cnonce}:auth:{ha2}")
    return (
        f'Authorization: Digest username="{user}", realm="{params["realm"]}", '
        f'nonce="{params["nonce"]}", uri="{uri}", response="{response}", algorithm=MD5, '
        f'qop=auth, nc={nc}, cnonce="{cnonce}", opaque="{params.get("opaque", "")}"\r\n'
    )


@pytest.mark.parametrize(("password", "status"), [("agent-1001", "200"), ("wrong", "401")])
def test_agent_registers_with_its_password_only(
    asterisk: RunningAsterisk, password: str, status: str
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        challenge = _register(sock, asterisk.sip_port, "1001", 1)
        assert challenge.startswith("SIP/2.0 401"), challenge
        auth = _authorization(challenge, "1001", password, asterisk.sip_port)
        reply = _register(sock, asterisk.sip_port, "1001", 2, auth)
        assert reply.startswith(f"SIP/2.0 {status}"), reply
        contacts = asterisk.instance.cli("pjsip show contacts")
        registered = f"1001/sip:1001@127.0.0.1:{sock.getsockname()[1]}" in contacts
        assert registered == (status == "200"), contacts
        if registered:
            # Unregister (Expires: 0): the instance is shared by the worker's later tests, and
            # some of them need 1001 unregistered (device state UNAVAILABLE).
            challenge = _register(sock, asterisk.sip_port, "1001", 3, expires=0)
            auth = _authorization(challenge, "1001", password, asterisk.sip_port)
            reply = _register(sock, asterisk.sip_port, "1001", 4, auth, expires=0)
            assert reply.startswith("SIP/2.0 200"), reply
            assert "1001/sip:" not in asterisk.instance.cli("pjsip show contacts")
