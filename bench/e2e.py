"""End-to-end benchmark: our ACD against Asterisk's own Queue() on the same real Asterisk.

    make bench-e2e                     # full run: step load, writes bench/results/e2e.{json,png}
    .venv/bin/python bench/e2e.py --quick          # a short smoke run (results to /tmp)

Every run offers the same load to both sides, each on its own fresh Asterisk instance
(AsteriskInstance, own ports, the same rendered configuration):
  - Poisson arrivals of Local-channel callers at `rate` per second for `duration` seconds,
    originated over AMI (fixed seed: both sides get the same arrival times, talk times and
    patience); a caller whose patience runs out before an agent is dialled hangs up;
  - `agents` simulated agents (Local/<id>@acd-sim-agent) talking an exponential time per call
    (drawn per caller, passed down as __ACD_SIM_TALK), the same wrap-up, silent music on hold
    everywhere (waiting, ringing, talking);
  - `acd` side: callers dial `Local/bench@acd-inbound`, routed by `acd serve` run as a
    subprocess (its CPU is read from /proc), agents logged in through the HTTP API;
    `baseline` side: callers dial `Local/s@baseline`, app_queue with strategy leastrecent,
    autofill, the same agents as static members, the same wrap-up.
Figures come from AMI event timestamps (timestampevents=yes), see bench/_e2e_analysis.py for
the exact definitions (wait, ASA, service level, dispatch latency). CPU per call is the
process's utime+stime over the run (arrivals and drain) divided by the calls offered.

The step load raises the rate through `--rates`; a side that saturates (calls fail or stay
unserved, abandons above 5 %, or the queue keeps growing) is not run at higher rates. Its
highest sustained rate is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _e2e_ami import AmiClient
from _e2e_analysis import EventLog, percentile, summarise
from _machine import machine

from acd.asterisk.install import Installation, install
from acd.asterisk.instance import OBSERVER_USERNAME, AsteriskInstance, PortInUseError
from acd.asterisk.ports import AsteriskPorts, free_port
from acd.asterisk.templates import default_template_dir
from acd.asterisk.testing import AMI_USERNAME

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SIDES = ("acd", "baseline")
QUEUE = "bench"
API_TOKEN = "bench-e2e-token"
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: Events the load generator needs; Asterisk filters the rest out before sending.
AMI_FILTERS = ("Event: Newstate", "Event: DialBegin", "Event: DialEnd", "Event: Hangup")
SAMPLE_EVERY = 0.5
#: A side saturates when more than this share of calls fail or are left unserved ...
MAX_FAIL = 0.01
#: ... or more than this share abandon ...
MAX_ABANDON = 0.05
#: ... or its queue grows, over the second half of the arrivals, faster than this share of the
#: arrival rate (a step starts empty, so a short step shows some growth while it fills up).
MAX_GROWTH = 0.05


@dataclass(frozen=True, slots=True)
class Scenario:
    rate: float
    duration: float
    agents: int
    talk_mean: float
    patience_mean: float
    wrap_up: float
    sl_threshold: float
    seed: int
    drain: float

    def agent_ids(self) -> list[str]:
        return [str(2001 + i) for i in range(self.agents)]

    def arrivals(self) -> list[tuple[float, float, float]]:
        """(offset s, talk s, patience s) per caller; the same for both sides of a rate."""
        rng = random.Random(f"{self.seed}:{self.rate}")
        out: list[tuple[float, float, float]] = []
        t = 0.0
        while True:
            t += rng.expovariate(self.rate)
            if t >= self.duration:
                return out
            talk = rng.expovariate(1 / self.talk_mean)
            patience = rng.expovariate(1 / self.patience_mean)
            out.append((t, talk, patience))


# --- Asterisk ---------------------------------------------------------------------------------


def bench_template(base: Path, scenario: Scenario, dest: Path) -> Path:
    """asterisk-config/ with the baseline queue's members and wrap-up set for this run and
    its music class silent; everything else as the repository has it, for both sides."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(base, dest)
    queues = (dest / "queues.conf").read_text()
    queues = re.sub(r"^member => .*\n", "", queues, flags=re.M)
    queues = re.sub(r"^wrapuptime = .*$", f"wrapuptime = {scenario.wrap_up:g}", queues, flags=re.M)
    queues = re.sub(r"^musicclass = .*$", "musicclass = silent", queues, flags=re.M)
    if "[baseline]" not in queues or f"wrapuptime = {scenario.wrap_up:g}" not in queues:
        raise RuntimeError("asterisk-config/queues.conf has no [baseline] with wrapuptime")
    if not float(scenario.wrap_up).is_integer():
        raise ValueError("app_queue's wrapuptime is whole seconds: use an integer --wrap-up")
    queues = (
        queues.rstrip("\n")
        + "\n"
        + "".join(f"member => Local/{a}@acd-sim-agent,0,sim-{a}\n" for a in scenario.agent_ids())
    )
    (dest / "queues.conf").write_text(queues)
    return dest


def start_asterisk(installation: Installation, name: str, template: Path) -> AsteriskInstance:
    for attempt in range(5):
        instance = AsteriskInstance(
            installation, name, AsteriskPorts.pick_free(), template, observer=True
        )
        try:
            instance.start()
        except PortInUseError:
            if attempt == 4:
                raise
            continue
        return instance
    raise AssertionError("unreachable")


def cpu_seconds(pid: int | None) -> float | None:
    """utime + stime of a process (all its threads) from /proc."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# --- the controller as a subprocess -----------------------------------------------------------


class AcdServe:
    """`python -m acd serve` on a generated configuration, in its own working directory."""

    def __init__(self, workdir: Path, asterisk: AsteriskInstance, scenario: Scenario) -> None:
        self.workdir = workdir
        self.asterisk = asterisk
        self.scenario = scenario
        self.http_port = free_port(socket.SOCK_STREAM, avoid={asterisk.ports.agi_port})
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "acd-serve.log"

    def config(self) -> str:
        s, ports = self.scenario, self.asterisk.ports
        lines = [
            f'api_token = "{API_TOKEN}"',
            "[ami]",
            f'host = "127.0.0.1"\nport = {ports.ami}',
            f'username = "{AMI_USERNAME}"\nsecret = "{self.asterisk.ami_secret}"',
            "[agi]",
            f'host = "{ports.agi_host}"\nport = {ports.agi_port}',
            f'secret = "{self.asterisk.agi_secret}"',
            "[http]",
            f'host = "127.0.0.1"\nport = {self.http_port}',
            "[storage]",
            f'var_dir = "{self.workdir / "var"}"',
            "[[queues]]",
            f'name = "{QUEUE}"',
            "skills = {}",
            f"sl_threshold = {s.sl_threshold}",
            f"wrap_up = {s.wrap_up}",
            "ring_timeout = 15",
            "max_wait = 86400",
            "announce_every = 0",  # no announcements: the baseline has none either
            "callback = false",
            'policy = "longest_idle"',  # app_queue's leastrecent
        ]
        for agent in s.agent_ids():
            lines += [
                "[[agents]]",
                f'id = "{agent}"',
                f'contact = "Local/{agent}@acd-sim-agent"',
                "skills = {}",
            ]
        return "\n".join(lines) + "\n"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    async def start(self, within: float = 30.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / "acd.toml"
        path.write_text(self.config())
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACD_")}
        with open(self.log_path, "ab") as log:  # noqa: ASYNC230 (start-up, before the load)
            self.process = subprocess.Popen(  # noqa: ASYNC220
                [sys.executable, "-m", "acd", "serve", "--config", str(path)],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as http:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"acd serve exited: see {self.log_path}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{self.base}/readyz") as response:
                        if response.status == 200:
                            break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"acd serve not ready within {within} s: {self.log_path}")
                await asyncio.sleep(0.1)  # start-up only: nothing to wait on before it listens
            headers = {"Authorization": f"Bearer {API_TOKEN}"}
            for agent in self.scenario.agent_ids():
                url = f"{self.base}/api/v1/agents/{agent}/login"
                async with http.post(url, headers=headers) as response:
                    if response.status != 200:
                        raise RuntimeError(
                            f"login {agent}: {response.status} {await response.text()}"
                        )

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


# --- one side at one rate ---------------------------------------------------------------------


async def drive(
    ami: AmiClient, log: EventLog, side: str, scenario: Scenario
) -> tuple[float, float, int]:
    """Originate the arrivals on schedule, hang up callers out of patience, drain.
    Returns the arrival window (epoch seconds) and the number of callers still unserved."""
    loop = asyncio.get_running_loop()
    entry = f"Local/{QUEUE}@acd-inbound/n" if side == "acd" else "Local/s@baseline/n"
    arrivals = scenario.arrivals()
    hold = int(scenario.duration + scenario.drain + 600)

    def give_up(n: int) -> None:
        caller = log.callers.get(n)
        if caller is not None and (caller.dial is not None or caller.gone is not None):
            return
        log.caller(n).abandoned_by_us = True
        ami.send({"Action": "Hangup", "Channel": f"bench-{n}"})

    async def sample() -> None:
        while True:
            log.sample_waiting(time.time())
            await asyncio.sleep(SAMPLE_EVERY)

    start = loop.time() + 0.2
    start_epoch = time.time() + 0.2
    sampler = asyncio.create_task(sample())
    pending: list[asyncio.Future[dict[str, str]]] = []
    try:
        for n, (offset, talk, patience) in enumerate(arrivals):
            delay = start + offset - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(
                ami.send(
                    {
                        "Action": "Originate",
                        "Channel": entry,
                        "Application": "Wait",
                        "Data": str(hold),
                        "Async": "true",
                        "ChannelId": f"bench-{n}",
                        "Variable": [
                            f"__ACD_SIM_TALK={talk:.3f}",
                            "__ACD_SIM_MOH=silent",
                            "ACD_MOH=silent",
                        ],
                    }
                )
            )
            loop.call_at(start + offset + patience, give_up, n)
    finally:
        sampler.cancel()
    end_epoch = start_epoch + scenario.duration
    # Drain: every caller answered-and-finished or gone, or the drain time is up.
    deadline = loop.time() + scenario.drain
    while loop.time() < deadline:
        if len(log.callers) >= len(arrivals) and all(
            c.gone is not None for c in log.callers.values()
        ):
            break
        await asyncio.sleep(0.2)
    await asyncio.gather(*pending, return_exceptions=True)
    unserved = sum(1 for c in log.callers.values() if c.gone is None and c.answer is None)
    return start_epoch, end_epoch, unserved


async def run_side(
    side: str, scenario: Scenario, installation: Installation, template: Path, workdir: Path
) -> dict[str, Any]:
    name = f"bench-e2e-{side}-{os.getpid()}"
    asterisk = start_asterisk(installation, name, template)
    controller: AcdServe | None = None
    ami: AmiClient | None = None
    try:
        if side == "acd":
            controller = AcdServe(workdir / f"acd-{scenario.rate:g}", asterisk, scenario)
            await controller.start()
        log = EventLog()
        ami = AmiClient(log.on_event)
        await ami.connect(
            "127.0.0.1", asterisk.ports.ami, OBSERVER_USERNAME, asterisk.observer_secret, "call"
        )
        await ami.add_filters(AMI_FILTERS)
        await asyncio.sleep(1.0)  # let start-up work (logins, device states) settle
        ast_pid = asterisk.pid()
        ctl_pid = controller.pid if controller else None
        cpu0 = (cpu_seconds(ast_pid), cpu_seconds(ctl_pid), time.process_time())
        start, end, unserved = await drive(ami, log, side, scenario)
        cpu1 = (cpu_seconds(ast_pid), cpu_seconds(ctl_pid), time.process_time())
        offered = len(scenario.arrivals())
        result = summarise(
            log,
            offered=offered,
            window=(start, end),
            agent_ids=scenario.agent_ids(),
            wrap_up=scenario.wrap_up,
            sl_threshold=scenario.sl_threshold,
        )
        result["unserved"] = unserved
        result["side"] = side
        result["rate"] = scenario.rate
        for key, a, b in (
            ("asterisk", cpu0[0], cpu1[0]),
            ("controller", cpu0[1], cpu1[1]),
            ("loadgen", cpu0[2], cpu1[2]),
        ):
            cpu = None if a is None or b is None else b - a
            result[f"cpu_{key}_s"] = cpu
            result[f"cpu_{key}_ms_per_call"] = (
                None if cpu is None or not offered else round(cpu / offered * 1000, 3)
            )
        result["sustained"] = sustained(result)
        return result
    finally:
        if ami is not None:
            await ami.close()
        if controller is not None:
            controller.stop()
        asterisk.remove()


def median_row(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row from repeated runs: the median of every figure, all latency samples pooled,
    sustained when most runs were."""
    if len(runs) == 1:
        return runs[0] | {"runs": 1}
    row: dict[str, Any] = {"runs": len(runs)}
    for key, value in runs[0].items():
        values = [run[key] for run in runs]
        if key == "dispatch_latencies_ms":
            row[key] = [x for run in runs for x in run[key]]
        elif key == "sustained":
            row[key] = sum(values) * 2 > len(values)
        elif isinstance(value, bool) or not all(isinstance(v, (int, float)) for v in values):
            row[key] = value
        else:
            row[key] = statistics.median(values)
    return pooled_dispatch(row)


def pooled_dispatch(row: dict[str, Any]) -> dict[str, Any]:
    """Dispatch percentiles over the samples of all runs (a run has few: a median of per-run
    p99s would be a median of maxima)."""
    samples = row["dispatch_latencies_ms"]
    return row | {
        "dispatch_samples": len(samples),
        "dispatch_p50_ms": percentile(samples, 50),
        "dispatch_p99_ms": percentile(samples, 99),
        "dispatch_max_ms": max(samples) if samples else None,
    }


def sustained(result: dict[str, Any]) -> bool:
    offered = result["offered"] or 1
    if (result["failed"] + result["unserved"]) / offered > MAX_FAIL:
        return False
    if (result["abandon_rate"] or 0) > MAX_ABANDON:
        return False
    growth = result["waiting_growth"]
    return not (growth is not None and growth > MAX_GROWTH * result["rate"])


# --- reporting --------------------------------------------------------------------------------


def fmt(value: Any, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'rate/s':>6} {'side':<8} {'offered':>7} {'answ':>5} {'aband':>5} {'fail':>4} "
        f"{'ASA s':>6} {'SL':>6} {'calls/s':>7} {'disp n':>6} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'ctl ms/c':>8} {'ast ms/c':>8} {'ok':>3}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['rate']:>6g} {r['side']:<8} {r['offered']:>7} {r['answered']:>5} "
            f"{r['abandoned']:>5} {r['failed'] + r['unserved']:>4} {fmt(r['asa_s'], '.3f'):>6} "
            f"{fmt(r['service_level'] and r['service_level'] * 100, '.1f'):>5}% "
            f"{fmt(r['calls_per_s'], '.1f'):>7} {r['dispatch_samples']:>6} "
            f"{fmt(r['dispatch_p50_ms']):>7} {fmt(r['dispatch_p99_ms']):>7} "
            f"{fmt(r['dispatch_max_ms']):>7} {fmt(r['cpu_controller_ms_per_call'], '.2f'):>8} "
            f"{fmt(r['cpu_asterisk_ms_per_call'], '.2f'):>8} {'yes' if r['sustained'] else 'NO':>3}"
        )
    return "\n".join(lines)


def verdicts(rows: list[dict[str, Any]], target_rate: float) -> dict[str, Any]:
    by = {(r["rate"], r["side"]): r for r in rows}
    rates = sorted({r["rate"] for r in rows})
    acd_rows = [r for r in rows if r["side"] == "acd" and r["sustained"]]
    p99s = [r["dispatch_p99_ms"] for r in acd_rows if r["dispatch_p99_ms"] is not None]
    both = [
        rate
        for rate in rates
        if by.get((rate, "acd"), {}).get("sustained")
        and by.get((rate, "baseline"), {}).get("sustained")
    ]
    sl_asa_ok = []
    for rate in both:
        a, b = by[(rate, "acd")], by[(rate, "baseline")]
        sl_asa_ok.append(
            {
                "rate": rate,
                "asa_ok": (a["asa_s"] or 0) <= (b["asa_s"] or 0),
                "sl_ok": (a["service_level"] or 0) >= (b["service_level"] or 0),
            }
        )
    cpu = by.get((target_rate, "acd"))
    ratio = None
    if cpu and cpu["cpu_controller_ms_per_call"] and cpu["cpu_asterisk_ms_per_call"]:
        ratio = cpu["cpu_controller_ms_per_call"] / cpu["cpu_asterisk_ms_per_call"]
    highest = {
        side: max((r["rate"] for r in rows if r["side"] == side and r["sustained"]), default=None)
        for side in SIDES
    }
    return {
        "dispatch_p99_max_ms": max(p99s) if p99s else None,
        "dispatch_p99_ok": bool(p99s) and max(p99s) <= 20.0,
        "asa_sl_per_rate": sl_asa_ok,
        "asa_sl_ok": bool(sl_asa_ok) and all(x["asa_ok"] and x["sl_ok"] for x in sl_asa_ok),
        "cpu_rate": target_rate,
        "cpu_controller_over_asterisk": ratio,
        "cpu_ok": ratio is not None and ratio <= 1 / 3,
        "highest_sustained_rate": highest,
    }


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    colours = {"acd": "tab:blue", "baseline": "tab:orange"}
    labels = {"acd": "our ACD", "baseline": "Queue() leastrecent"}
    for side in SIDES:
        samples = sorted(
            x
            for r in rows
            if r["side"] == side and r["sustained"]
            for x in r["dispatch_latencies_ms"]
        )
        if samples:
            ys = [(i + 1) / len(samples) for i in range(len(samples))]
            left.step(
                [max(x, 0.01) for x in samples],
                ys,
                where="post",
                color=colours[side],
                label=f"{labels[side]} (n={len(samples)})",
            )
    left.set_xscale("log")
    left.set_xlabel("dispatch latency (ms): agent free → Dial to it begins")
    left.set_ylabel("fraction of dispatches")
    left.axvline(20, color="grey", linestyle=":", label="20 ms target")
    left.set_title("Dispatch latency (sustained rates)")
    left.legend(loc="lower right")
    left.grid(alpha=0.3)
    for side in SIDES:
        pts = sorted(
            (r["rate"], r["service_level"], r["sustained"])
            for r in rows
            if r["side"] == side and r["service_level"] is not None
        )
        if pts:
            right.plot(
                [p[0] for p in pts],
                [p[1] * 100 for p in pts],
                "-",
                color=colours[side],
                label=labels[side],
            )
            right.plot(
                [p[0] for p in pts if p[2]],
                [p[1] * 100 for p in pts if p[2]],
                "o",
                color=colours[side],
            )
            right.plot(
                [p[0] for p in pts if not p[2]],
                [p[1] * 100 for p in pts if not p[2]],
                "x",
                color=colours[side],
                markersize=9,
            )
    right.set_xlabel("offered calls per second")
    right.set_ylabel("service level (%)")
    right.set_title("Service level against load (x: saturated)")
    right.legend(loc="lower left")
    right.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- main -------------------------------------------------------------------------------------


async def run_all(args: argparse.Namespace) -> dict[str, Any]:
    installation = install().installation
    base = Scenario(
        rate=(args.rates or [0.0])[0],
        duration=args.duration,
        agents=args.agents,
        talk_mean=args.talk,
        patience_mean=args.patience,
        wrap_up=args.wrap_up,
        sl_threshold=args.sl_threshold,
        seed=args.seed,
        drain=args.drain,
    )
    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    if args.append is not None:  # earlier steps of the same scenario, judged afresh
        rows = [
            pooled_dispatch(row) | {"sustained": sustained(row)}
            for row in json.loads(args.append.read_text())["rows"]
        ]
        load_before = json.loads(args.append.read_text())["machine"]["loadavg_before"]
    saturated: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="acd-bench-e2e-") as tmp:
        workdir = Path(tmp)
        template = bench_template(default_template_dir(), base, workdir / "asterisk-config")
        for rate in args.rates:
            scenario = replace(base, rate=rate)
            for side in args.sides:
                if side in saturated:
                    continue
                runs = []
                for attempt in range(args.repeat):
                    print(
                        f"-- rate {rate:g}/s, {side}, run {attempt + 1}/{args.repeat} ...",
                        file=sys.stderr,
                        flush=True,
                    )
                    runs.append(await run_side(side, scenario, installation, template, workdir))
                result = median_row(runs)
                rows.append(result)
                print(table([result]).splitlines()[-1], file=sys.stderr, flush=True)
                if not result["sustained"]:
                    saturated.add(side)
            if saturated >= set(args.sides):
                break
    load_after = os.getloadavg()
    if args.append is not None and not args.rates:  # only re-judged: keep the measured load
        load_after = json.loads(args.append.read_text())["machine"]["loadavg_after"]
    info = machine()
    info["loadavg_before"] = load_before
    info["loadavg_after"] = load_after
    info["asterisk"] = installation.version
    return {
        "command": " ".join(["bench/e2e.py", *sys.argv[1:]]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": info,
        "scenario": {k: v for k, v in asdict(base).items() if k != "rate"}
        | {"rates": sorted({r["rate"] for r in rows}), "sides": args.sides},
        "rows": rows,
        "verdicts": verdicts(rows, args.cpu_rate),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (results to /tmp)")
    parser.add_argument(
        "--rates",
        type=lambda s: [float(x) for x in s.split(",") if x],
        default=[30, 45, 50, 53, 56],
        help="offered calls per second, in increasing order (step load)",
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of arrivals per step")
    parser.add_argument("--agents", type=int, default=135)
    parser.add_argument("--talk", type=float, default=2.0, help="mean talk time (exponential), s")
    parser.add_argument(
        "--patience", type=float, default=30.0, help="mean caller patience (exponential), s"
    )
    parser.add_argument(
        "--wrap-up",
        type=float,
        default=0.0,
        help="wrap-up after each call, whole seconds (app_queue's resolution)",
    )
    parser.add_argument(
        "--sl-threshold", type=float, default=2.0, help="service level threshold, s"
    )
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per rate and side (figures: the median)"
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=20.0,
        help="seconds to wait for calls to finish after the last arrival",
    )
    parser.add_argument("--sides", type=lambda s: s.split(","), default=list(SIDES))
    parser.add_argument(
        "--cpu-rate",
        type=float,
        default=50.0,
        help="the rate at which controller vs Asterisk CPU per call is judged",
    )
    parser.add_argument("--out", type=Path, default=None, help="results directory")
    parser.add_argument(
        "--append",
        type=Path,
        default=None,
        help="an earlier e2e.json of the same scenario: keep its rows, add these rates",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rates, args.duration, args.agents, args.drain = [4.0, 8.0], 12.0, 20, 15.0
        args.repeat = 1
        args.cpu_rate = 8.0
    out: Path = args.out or (
        Path(tempfile.gettempdir()) / "acd-bench-e2e" if args.quick else RESULTS
    )
    out.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(run_all(args))
    rows = results["rows"]
    (out / "e2e.json").write_text(json.dumps(results, indent=1) + "\n")
    m = results["machine"]
    title = (
        f"{results['command']} · {m['cpu']} x{m['cores']} · load "
        f"{m['loadavg_before'][0]:.2f}→{m['loadavg_after'][0]:.2f} · "
        f"Asterisk {m['asterisk'].split('+')[0]}"
    )
    plot(rows, out / "e2e.png", title)
    print(table(rows))
    v = results["verdicts"]
    print()
    print(
        f"machine: {m['cpu']} x{m['cores']}, load average before {m['loadavg_before']}, "
        f"after {m['loadavg_after']}"
    )
    print(
        f"dispatch p99 (our ACD, worst sustained rate): {fmt(v['dispatch_p99_max_ms'])} ms "
        f"→ target ≤ 20 ms {'HOLDS' if v['dispatch_p99_ok'] else 'does NOT hold'}"
    )
    print(
        f"ASA and SL at least as good as Queue() at every rate both sustain: "
        f"{'HOLDS' if v['asa_sl_ok'] else 'does NOT hold'} {v['asa_sl_per_rate']}"
    )
    ratio = v["cpu_controller_over_asterisk"]
    print(
        f"controller / Asterisk CPU per call at {v['cpu_rate']:g}/s: "
        f"{fmt(ratio, '.3f')} → target ≤ 0.333 {'HOLDS' if v['cpu_ok'] else 'does NOT hold'}"
    )
    print(f"highest sustained rate: {v['highest_sustained_rate']}")
    print(f"results: {out / 'e2e.json'}, {out / 'e2e.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
