"""Real SIP user agents (pjsua2) for end-to-end tests, driven from asyncio.

pjsua2 is one library instance per process and wants a single thread (threadCnt=0,
mainThreadOnly): a dedicated thread owns it, runs its event loop (`libHandleEvents`), and
executes the commands the test sends it; pjsua2's callbacks are forwarded to the asyncio loop
as plain tuples in a Watch. Everything binds to 127.0.0.1; audio uses the null device and
each account plays its own tone (440 Hz unless `register` says otherwise) into every call, so
real RTP flows both ways and a listener can tell who it hears: `record` writes what one call
receives to a WAV file (pjsua2's AudioMediaRecorder), `tone_level` measures a frequency in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import queue
import threading
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pjsua2 as pj
from watch import Watch

LOOPBACK = "127.0.0.1"


class _Account(pj.Account):  # type: ignore[misc]
    def __init__(self, phone: SoftphoneHost, user: str) -> None:
        super().__init__()
        self.phone = phone
        self.user = user

    def onRegState(self, prm: Any) -> None:  # noqa: N802 (pjsua2's name)
        self.phone.notify(("reg", self.user, prm.code))

    def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
        call = _Call(self.phone, self, prm.callId)
        handle = self.phone.keep(call)
        # The INVITE as received: its X-ACD-* headers are what a softphone would show.
        self.phone.notify(("incoming", self.user, handle, prm.rdata.wholeMsg))


class _Call(pj.Call):  # type: ignore[misc]
    def __init__(self, phone: SoftphoneHost, account: _Account, call_id: int = -1) -> None:
        super().__init__(account, call_id)
        self.phone = phone
        self.user = account.user
        self.handle = -1
        self.recorder: Any = None

    def onCallState(self, prm: Any) -> None:  # noqa: N802
        info = self.getInfo()
        self.phone.notify(("state", self.handle, info.stateText))

    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
        info = self.getInfo()
        for media in info.media:
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                audio = self.getAudioMedia(media.index)
                self.phone.tones[self.user].startTransmit(audio)
                self.phone.notify(("media", self.handle, "active"))


class SoftphoneHost:
    def __init__(self, sip_port: int) -> None:
        self.sip_port = sip_port
        self.events = Watch()
        self._loop = asyncio.get_running_loop()
        self._commands: queue.Queue[tuple[Callable[[], Any], asyncio.Future[Any]]] = queue.Queue()
        self._calls: dict[int, _Call] = {}
        self._accounts: dict[str, _Account] = {}
        self._recordings: dict[int, Path] = {}  # call handle → the WAV being recorded
        #: Each account's tone generator (pjsua2 objects: created and freed on its thread).
        self.tones: dict[str, Any] = {}
        self._running = True
        self._thread = threading.Thread(target=self._main, name="pjsua2", daemon=True)
        self._started: asyncio.Future[None] = self._loop.create_future()

    # --- thread side -------------------------------------------------------------------------

    def notify(self, item: tuple[Any, ...]) -> None:
        self._loop.call_soon_threadsafe(self.events.add, item)

    def keep(self, call: _Call) -> int:
        handle = len(self._calls) + 1
        call.handle = handle
        self._calls[handle] = call
        return handle

    def _main(self) -> None:
        ep = pj.Endpoint()
        try:
            ep.libCreate()
            config = pj.EpConfig()
            config.uaConfig.threadCnt = 0
            config.uaConfig.mainThreadOnly = True
            # Every phone of a test is in this one library: pjsua's default of 4 live calls is
            # too few once two agents talk to two callers and a supervisor listens.
            config.uaConfig.maxCalls = 16
            config.medConfig.noVad = True
            config.logConfig.level = 1
            config.logConfig.consoleLevel = 1
            ep.libInit(config)
            transport = pj.TransportConfig()
            transport.port = 0
            transport.boundAddress = LOOPBACK
            transport.publicAddress = LOOPBACK
            ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
            ep.libStart()
            ep.audDevManager().setNullDev()
        except Exception as exc:
            self._loop.call_soon_threadsafe(self._started.set_exception, exc)
            return
        self._loop.call_soon_threadsafe(self._started.set_result, None)
        while self._running:
            ep.libHandleEvents(10)
            while True:
                try:
                    command, future = self._commands.get_nowait()
                except queue.Empty:
                    break
                try:
                    result = command()
                except Exception as exc:
                    self._loop.call_soon_threadsafe(future.set_exception, exc)
                else:
                    self._loop.call_soon_threadsafe(future.set_result, result)
        # Tear down in pjsua2's own thread, calls before accounts before the library: a pjsua2
        # object destroyed later from another thread aborts the process.
        ep.hangupAllCalls()
        for _ in range(20):
            ep.libHandleEvents(10)
        self._calls.clear()  # with their recorders
        for account in self._accounts.values():
            account.shutdown()
        self._accounts.clear()
        self.tones.clear()
        ep.libDestroy()

    # --- asyncio side ------------------------------------------------------------------------

    async def start(self) -> None:
        self._thread.start()
        await asyncio.wait_for(self._started, 10)

    async def stop(self) -> None:
        self._running = False
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 10)

    async def run(self, command: Callable[[], Any]) -> Any:
        future: asyncio.Future[Any] = self._loop.create_future()
        self._commands.put((command, future))
        return await asyncio.wait_for(future, 10)

    async def register(self, user: str, password: str, tone_hz: int = 440) -> None:
        """`tone_hz`: the tone this account plays into its calls."""
        since = self.events.mark()

        def create() -> None:
            tone = pj.ToneGenerator()
            tone.createToneGenerator()
            description = pj.ToneDesc()
            description.freq1, description.freq2 = tone_hz, 0
            description.on_msec, description.off_msec = 1000, 0
            tones = pj.ToneDescVector()
            tones.append(description)
            tone.play(tones, True)
            config = pj.AccountConfig()
            config.idUri = f"sip:{user}@{LOOPBACK}:{self.sip_port}"
            config.regConfig.registrarUri = f"sip:{LOOPBACK}:{self.sip_port}"
            config.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", user, 0, password))
            config.mediaConfig.transportConfig.boundAddress = LOOPBACK
            config.mediaConfig.transportConfig.publicAddress = LOOPBACK
            self.tones[user] = tone
            account = _Account(self, user)
            account.create(config)
            self._accounts[user] = account

        await self.run(create)
        event = await self.events.first(lambda e: e[0] == "reg" and e[1] == user, since=since)
        assert event[2] == 200, f"registration of {user} failed: {event}"

    async def call(self, user: str, extension: str) -> int:
        def make() -> int:
            call = _Call(self, self._accounts[user])
            handle = self.keep(call)
            call.makeCall(f"sip:{extension}@{LOOPBACK}:{self.sip_port}", pj.CallOpParam(True))
            return handle

        result: int = await self.run(make)
        return result

    async def answer(self, handle: int) -> None:
        def answer() -> None:
            param = pj.CallOpParam()
            param.statusCode = 200
            self._calls[handle].answer(param)

        await self.run(answer)

    async def hangup(self, handle: int) -> None:
        await self.run(lambda: self._calls[handle].hangup(pj.CallOpParam()))

    async def rx_packets(self, handle: int) -> int:
        def stats() -> int:
            return int(self._calls[handle].getStreamStat(0).rtcp.rxStat.pkt)

        result: int = await self.run(stats)
        return result

    async def record(self, handle: int, path: Path) -> None:
        """Write what call `handle` receives to `path` (WAV) until `stop_recording`."""

        def start() -> None:
            call = self._calls[handle]
            recorder = pj.AudioMediaRecorder()
            recorder.createRecorder(str(path))
            call.getAudioMedia(-1).startTransmit(recorder)
            call.recorder = recorder

        await self.run(start)
        self._recordings[handle] = path

    async def stop_recording(self, handle: int) -> None:
        """The WAV file is complete once this returns (the recorder is destroyed)."""

        def stop() -> None:
            call = self._calls[handle]
            recorder, call.recorder = call.recorder, None
            if recorder is not None:
                with contextlib.suppress(pj.Error):  # the call's media may be gone already
                    call.getAudioMedia(-1).stopTransmit(recorder)
                del recorder
                gc.collect()  # the file is complete only once the recorder is freed

        await self.run(stop)
        path = self._recordings.pop(handle, None)
        if path is not None:
            await _complete_wav(path)

    async def dtmf(self, handle: int, digits: str) -> None:
        """Send `digits` as RFC 4733 events on call `handle` (what a keypad does)."""
        await self.run(lambda: self._calls[handle].dialDtmf(digits))

    async def state(self, handle: int, text: str, since: int = 0) -> None:
        await self.events.first(
            lambda e: e[0] == "state" and e[1] == handle and e[2] == text, since=since
        )


#: How long a stopped recording may take to become a whole WAV file.
WAV_COMPLETE_WITHIN = 5.0


async def _complete_wav(path: Path) -> None:
    """Wait until `path` is a whole WAV file. pjmedia writes the header when the recorder is
    destroyed; on a loaded machine (CI) a freed recorder was seen with its file not written
    yet when it was read, so the reader waits for the file rather than for the free."""
    deadline = asyncio.get_running_loop().time() + WAV_COMPLETE_WITHIN
    while True:
        try:
            with wave.open(str(path), "rb") as wav:
                wav.getnframes()
            return
        except (OSError, EOFError, wave.Error):
            if asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(0.05)


def sip_header(message: str, name: str) -> str | None:
    """The value of header `name` in a SIP message as received, or None."""
    for line in message.split("\r\n"):
        key, colon, value = line.partition(":")
        if colon and key.strip().lower() == name.lower():
            return value.strip()
    return None


def _samples(path: Path) -> tuple[int, list[int]]:
    with wave.open(str(path), "rb") as wav:
        rate, width = wav.getframerate(), wav.getsampwidth()
        assert (wav.getnchannels(), width) == (1, 2), "pjsua2 records 16-bit mono"
        data = wav.readframes(wav.getnframes())
    return rate, [
        int.from_bytes(data[i : i + 2], "little", signed=True) for i in range(0, len(data), 2)
    ]


def loudness(path: Path) -> float:
    """The RMS level of a recorded WAV relative to full scale (0 silence, 1 a full-scale
    square wave): whether anything at all was heard."""
    _, samples = _samples(path)
    if not samples:
        return 0.0
    return math.sqrt(sum(x * x for x in samples) / len(samples)) / 32768


def tone_level(path: Path, frequency: float, window: float = 0.1) -> float:
    """How present `frequency` is in a recorded WAV: the median, over windows of `window`
    seconds, of the share of each window's energy at that frequency (Goertzel): about 1 for
    that pure tone alone, about 1/n for n tones of equal level, near 0 without it. The median
    keeps a window or two of silence or noise at either end from deciding."""
    rate, samples = _samples(path)
    size = int(rate * window)
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    shares = []
    for start in range(0, len(samples) - size + 1, size):
        block = samples[start : start + size]
        energy = sum(x * x for x in block)
        if energy == 0:
            shares.append(0.0)
            continue
        s1 = s2 = 0.0
        for x in block:
            s1, s2 = x + coefficient * s1 - s2, s1
        power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
        shares.append(2 * power / (size * energy))
    if not shares:
        return 0.0
    shares.sort()
    return shares[len(shares) // 2]
