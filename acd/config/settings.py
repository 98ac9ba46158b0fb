"""Settings from one TOML file, every key overridable by an `ACD_…` environment variable.

Environment names join the TOML path with underscores in upper case: `[ami] port` is
`ACD_AMI_PORT`, `[http] host` is `ACD_HTTP_HOST`; `ACD_API_TOKEN` sets an admin token.
Queues and agents in the file seed the store at first start (`[[queues]]`, `[[agents]]`).
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from acd.config.dialstrings import (
    CONTEXT_NAME,
    DEFAULT_CALLBACK_NUMBERS,
    DEFAULT_CALLBACK_TEMPLATE,
    DEFAULT_LOCAL_CONTEXTS,
    DEFAULT_TECHNOLOGIES,
    TECHNOLOGY_NAME,
    DialRules,
    DialStringError,
)
from acd.config.documents import (
    MAX_PAUSE_REASON_LENGTH,
    QUEUE_NAME_PATTERN,
    AgentId,
    AgentSeed,
    ConfigError,
    parse_agent,
    parse_queue,
    transfer_code_holder,
)
from acd.router.model import QueueConfig

#: Where `acd asterisk install` writes the default instance's secrets (mode 0600).
DEFAULT_SECRETS_DIR = "/var/acd/instances/default/secrets"


@dataclass(frozen=True, slots=True)
class AmiSettings:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "acd"
    #: The secret itself, or empty to read it from `secret_file` (the usual way: the
    #: installer generates it; only root and the controller can read the file).
    secret: str = ""
    secret_file: str = f"{DEFAULT_SECRETS_DIR}/ami.secret"

    def resolved_secret(self) -> str:
        return _resolved_secret(self.secret, self.secret_file, "ami")


@dataclass(frozen=True, slots=True)
class AgiSettings:
    host: str = "127.0.0.1"
    port: int = 4573
    #: The key Asterisk proves itself with: every FastAGI request is asked for the global
    #: ACD_AGI_KEY, rendered from this file (as `secret` above).
    secret: str = ""
    secret_file: str = f"{DEFAULT_SECRETS_DIR}/agi.secret"
    #: Open FastAGI connections at most (agi/server.py). Asterisk opens one per AGI() and
    #: each lasts a few ms (enter, announce, callback, a feature code): even 1,000 calls
    #: arriving per second keep about 10 open. 256 leaves a burst (every waiting caller
    #: retrying at once after a restart) room while keeping the controller far from a
    #: 1024 fd limit.
    max_connections: int = 256

    def resolved_secret(self) -> str:
        return _resolved_secret(self.secret, self.secret_file, "agi")


def _resolved_secret(secret: str, secret_file: str, section: str) -> str:
    """The configured secret, else the first line of its file; ConfigError if neither."""
    if secret:
        return secret
    if not secret_file:
        raise ConfigError(f"{section}.secret", "set secret or secret_file")
    try:
        value = Path(secret_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"{section}.secret_file",
            f"cannot read {secret_file} ({exc.strerror}); `acd asterisk install` writes it",
        ) from None
    if not value:
        raise ConfigError(f"{section}.secret_file", f"{secret_file} is empty")
    return value


@dataclass(frozen=True, slots=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    #: Seconds a connection may take to send a complete request head (after connecting or
    #: after its previous response), and then as long for its body (408 request_timeout);
    #: an idle keep-alive connection closes after as long.
    header_timeout: float = 10.0
    #: Concurrent `/events` streams, in all and per token; one more is refused (503 / 429).
    max_event_streams: int = 100
    max_event_streams_per_token: int = 10

    def __post_init__(self) -> None:
        limits: dict[str, tuple[object, type | tuple[type, ...]]] = {
            "header_timeout": (self.header_timeout, (int, float)),
            "max_event_streams": (self.max_event_streams, int),
            "max_event_streams_per_token": (self.max_event_streams_per_token, int),
        }
        for name, (value, kind) in limits.items():
            if (
                isinstance(value, bool) or not isinstance(value, kind) or not 0 < value < 1e9  # type: ignore[operator]
            ):
                raise ConfigError(f"http.{name}", f"must be a positive number, got {value!r}")


@dataclass(frozen=True, slots=True)
class StorageSettings:
    #: SQLAlchemy async URL; empty means SQLite at `<var_dir>/acd.sqlite3`.
    url: str = ""
    var_dir: str = "var"

    def resolved_url(self) -> str:
        if self.url:
            return self.url
        return f"sqlite+aiosqlite:///{Path(self.var_dir).resolve() / 'acd.sqlite3'}"


@dataclass(frozen=True, slots=True)
class DialSettings:
    """What an agent's contact or a callback may dial (acd/config/dialstrings.py): the
    technologies, and the contexts a `Local/` channel may enter. In the environment, a
    comma-separated list (`ACD_DIAL_TECHNOLOGIES=PJSIP,IAX2`). A caller's own number is
    called back at `callback_dial` (its `{number}` replaced) when it matches
    `callback_numbers` whole."""

    technologies: tuple[str, ...] = DEFAULT_TECHNOLOGIES
    local_contexts: tuple[str, ...] = DEFAULT_LOCAL_CONTEXTS
    callback_dial: str = DEFAULT_CALLBACK_TEMPLATE
    callback_numbers: str = DEFAULT_CALLBACK_NUMBERS

    def rules(self) -> DialRules:
        return DialRules(
            self.technologies, self.local_contexts, self.callback_dial, self.callback_numbers
        )


def _dial(data: Any, env: Mapping[str, str]) -> DialSettings:
    if not isinstance(data, Mapping):
        raise ConfigError("dial", "must be a table ([dial])")
    # A misspelt key would leave the default allow-list in force without a word.
    for key in data:
        if key not in {f.name for f in fields(DialSettings)}:
            raise ConfigError(f"dial.{key}", "unknown key")
    dial: DialSettings = _section(DialSettings, data, "dial", env)
    for name, pattern in (("technologies", TECHNOLOGY_NAME), ("local_contexts", CONTEXT_NAME)):
        values = getattr(dial, name)
        if not isinstance(values, list | tuple) or not all(
            isinstance(v, str) and re.fullmatch(pattern, v) for v in values
        ):
            raise ConfigError(f"dial.{name}", "must be a list of names (letters, digits, _ -)")
    for name in ("callback_dial", "callback_numbers"):
        if not isinstance(getattr(dial, name), str):
            raise ConfigError(f"dial.{name}", "must be a string")
    dial = replace(dial, technologies=tuple(dial.technologies),
                   local_contexts=tuple(dial.local_contexts))  # fmt: skip
    try:
        rules = DialRules(dial.technologies, dial.local_contexts, dial.callback_dial)
        if "callback_dial" in data or "ACD_DIAL_CALLBACK_DIAL" in env:
            rules.check_callback_template()  # one written for these allow-lists must fit them
    except DialStringError as exc:
        raise ConfigError("dial.callback_dial", str(exc)) from None
    try:
        dial.rules()
    except DialStringError as exc:
        raise ConfigError("dial.callback_numbers", str(exc)) from None
    return dial


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """`[cluster]`: several controllers, one ACD (acd/cluster/). Absent, the node is alone."""

    #: redis://, rediss:// (TLS) or unix:// (a socket path).
    redis_url: str = ""
    #: This node's name in the lease (letters, digits, . _ -); empty: `<hostname>-<pid>`, unique
    #: per process (set it to keep one name across restarts, e.g. for metrics).
    node_id: str = ""
    #: Seconds: the lease's expiry in Redis; a leader renews every `renew_every` and stops
    #: acting `lease_margin` before its lease can expire (acd/cluster/lease.py).
    lease_ttl: float = 3.0
    renew_every: float = 1.0
    lease_margin: float = 0.5
    #: Every key of this ACD in Redis starts with it (`<prefix>:leader`, `<prefix>:epoch`, …).
    key_prefix: str = "acd"
    #: Where the other nodes reach this node's HTTP API while it leads (a standby forwards
    #: API writes there); empty: http://<[http] host>:<[http] port>.
    api_url: str = ""
    #: host:port where Asterisk reaches this node's FastAGI server while it leads (published
    #: as the global ACD_AGI at every AMI login); empty: <[agi] host>:<[agi] port>.
    agi_address: str = ""
    #: Seconds between two snapshots of the leader's router (the journal is trimmed behind).
    snapshot_every: float = 30.0


_NODE_ID = r"[A-Za-z0-9._-]{1,64}"
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _cluster(data: Any, env: Mapping[str, str]) -> ClusterSettings | None:
    if data is None and "ACD_CLUSTER_REDIS_URL" not in env:
        return None
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise ConfigError("cluster", "must be a table ([cluster])")
    for key in data:
        if key not in {f.name for f in fields(ClusterSettings)}:
            raise ConfigError(f"cluster.{key}", "unknown key")
    cluster: ClusterSettings = _section(ClusterSettings, data, "cluster", env)
    url = cluster.redis_url
    if not isinstance(url, str) or not url:
        raise ConfigError("cluster.redis_url", "required with [cluster] (e.g. redis://host:6379/0)")
    if not url.startswith(_REDIS_SCHEMES) or len(url) <= url.index("://") + 3:
        raise ConfigError(
            "cluster.redis_url", f"must be a redis://, rediss:// or unix:// URL, got {url!r}"
        )
    node_id = cluster.node_id or f"{socket.gethostname()}-{os.getpid()}"
    if not isinstance(node_id, str) or not re.fullmatch(_NODE_ID, node_id):
        raise ConfigError("cluster.node_id", f"must be 1-64 of A-Z a-z 0-9 . _ -, got {node_id!r}")
    prefix = cluster.key_prefix
    if not isinstance(prefix, str) or not re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", prefix):
        raise ConfigError(
            "cluster.key_prefix", f"must be 1-64 of A-Z a-z 0-9 . _ : -, got {prefix!r}"
        )
    # The timing rules are the lease's own (declared once there); imported here only when a
    # [cluster] section asks for them, so a single node never loads the Redis client.
    from acd.cluster.lease import LeaseTiming

    try:
        LeaseTiming(cluster.lease_ttl, cluster.renew_every, cluster.lease_margin)
    except ValueError as exc:
        raise ConfigError(
            "cluster", f"lease_ttl, renew_every, lease_margin (as ttl, renew_every, margin): {exc}"
        ) from None
    if not isinstance(cluster.snapshot_every, int | float) or not cluster.snapshot_every > 0:
        raise ConfigError("cluster.snapshot_every", "must be a number of seconds above 0")
    if cluster.api_url and not re.fullmatch(r"https?://[^\s/?#]+/?", str(cluster.api_url)):
        raise ConfigError(
            "cluster.api_url", f"must be http(s)://host:port, got {cluster.api_url!r}"
        )
    if cluster.agi_address and not re.fullmatch(
        r"[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}", str(cluster.agi_address)
    ):
        raise ConfigError("cluster.agi_address", f"must be host:port, got {cluster.agi_address!r}")
    return replace(
        cluster,
        node_id=node_id,
        snapshot_every=float(cluster.snapshot_every),
        lease_ttl=float(cluster.lease_ttl),
        renew_every=float(cluster.renew_every),
        lease_margin=float(cluster.lease_margin),
    )


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """`[demo]`: simulated callers and agents on the real Asterisk (acd/demo/), so a fresh
    `make run` shows calls flowing. Off unless `enabled`; acd.example.toml enables it.
    Environment: ACD_DEMO_<KEY>; lists comma-separated (`ACD_DEMO_QUEUES=support:2,sales`)."""

    enabled: bool = False
    #: Callers per minute on average, a Poisson stream (exponential gaps between them).
    calls_per_minute: float = 8.0
    #: (queue, weight): each queue's share of the callers. Empty: every queue alike (those
    #: configured when a caller is drawn). In the file `{ support = 2, sales = 1 }` or a list.
    queues: tuple[tuple[str, float], ...] = ()
    #: Seconds: a simulated agent talks an exponential time of this mean (at least 1 s),
    #: handed to it as the caller's __ACD_SIM_TALK.
    talk_mean: float = 12.0
    #: Seconds a simulated agent rings before it answers (__ACD_SIM_RING).
    ring: float = 2.0
    #: Seconds: a caller still waiting (or ringing an agent) after an exponential patience of
    #: this mean (at least 2 s) hangs up, a lost call. 0: callers never give up.
    patience_mean: float = 60.0
    #: Invented ACD_CALLER_DATA on every caller (customer number, name, tier).
    caller_data: bool = True
    #: Agent ids logged in at start. Empty: every agent whose contact is
    #: Local/<ext>@acd-sim-agent.
    agents: tuple[str, ...] = ()
    #: The random source's seed (the same callers, talk times and breaks again); absent: new.
    seed: int | None = None
    #: Seconds: each demo agent takes a break after an exponential time of this mean (one
    #: agent at a time, only when available). 0: no breaks.
    break_every: float = 120.0
    #: Seconds: a break lasts an exponential time of this mean (at least 5 s).
    break_mean: float = 20.0
    #: The pause reasons a break is given, one drawn for each.
    break_reasons: tuple[str, ...] = ("coffee", "coaching", "admin")


#: Most callers per minute the demo offers: it shows the ACD at work, bench/ loads it.
MAX_DEMO_CALLS_PER_MINUTE = 600.0
#: Longest mean time (talk, patience, breaks) in seconds: a day.
_MAX_DEMO_SECONDS = 86400.0


def _demo(data: Any, env: Mapping[str, str]) -> DemoSettings:
    if not isinstance(data, Mapping):
        raise ConfigError("demo", "must be a table ([demo])")
    for key in data:
        if key not in {f.name for f in fields(DemoSettings)}:
            raise ConfigError(f"demo.{key}", "unknown key")
    demo: DemoSettings = _section(DemoSettings, data, "demo", env)
    for name in ("enabled", "caller_data"):
        if not isinstance(getattr(demo, name), bool):
            raise ConfigError(f"demo.{name}", "must be true or false")
    numbers: dict[str, Any] = {}
    for name, low, high, low_included in (
        ("calls_per_minute", 0.0, MAX_DEMO_CALLS_PER_MINUTE, False),
        ("talk_mean", 0.0, _MAX_DEMO_SECONDS, False),
        ("ring", 0.0, 60.0, True),
        ("patience_mean", 0.0, _MAX_DEMO_SECONDS, True),
        ("break_every", 0.0, _MAX_DEMO_SECONDS, True),
        ("break_mean", 0.0, _MAX_DEMO_SECONDS, False),
    ):
        value = getattr(demo, name)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not (low <= value <= high if low_included else low < value <= high):
            bound = f"from {low:g}" if low_included else f"above {low:g}"
            raise ConfigError(
                f"demo.{name}", f"must be a number {bound} to {high:g}, got {value!r}"
            )
        numbers[name] = float(value)
    return replace(
        demo,
        **numbers,
        queues=_demo_queues(demo.queues),
        agents=_demo_agents(demo.agents),
        seed=_demo_seed(demo.seed),
        break_reasons=_demo_reasons(demo.break_reasons, numbers["break_every"] > 0),
    )


def _demo_queues(value: Any) -> tuple[tuple[str, float], ...]:
    """`{ support = 2, sales = 1 }`, or a list of names, each `name` or `name:weight` (the
    environment's form)."""
    field = "demo.queues"
    pairs: list[tuple[Any, Any]] = []
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list | tuple):
        for item in value:
            if not isinstance(item, str):
                raise ConfigError(field, f"must be queue names or name = weight, got {item!r}")
            name, _, given = item.partition(":")
            pairs.append((name.strip(), given.strip() or 1.0))
    else:
        raise ConfigError(field, "must be a table of queue = weight, or a list of queue names")
    queues: dict[str, float] = {}
    for name, raw in pairs:
        if not isinstance(name, str) or not re.fullmatch(QUEUE_NAME_PATTERN, name):
            raise ConfigError(field, f"{name!r} is not a queue name (letters, digits, _ -)")
        if name in queues:
            raise ConfigError(field, f"{name!r} is named twice")
        try:
            weight = float(raw) if not isinstance(raw, bool) else float("nan")
        except ValueError:
            weight = float("nan")
        if not 0 < weight < 1e9:  # nan fails too
            raise ConfigError(
                field, f"the weight of {name!r} must be a number above 0, got {raw!r}"
            )
        queues[name] = weight
    return tuple(queues.items())


_AGENT_ID: TypeAdapter[str] = TypeAdapter(AgentId)


def _demo_agents(value: Any) -> tuple[str, ...]:
    try:
        if not isinstance(value, list | tuple):
            raise ValueError(value)
        return tuple(_AGENT_ID.validate_python(v, strict=True) for v in value)
    except (ValueError, ValidationError):
        raise ConfigError("demo.agents", f"must be a list of agent ids, got {value!r}") from None


def _demo_seed(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):  # from ACD_DEMO_SEED
        try:
            return int(value)
        except ValueError:
            raise ConfigError("ACD_DEMO_SEED", f"expected an integer, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError("demo.seed", f"must be an integer, got {value!r}")
    return value


def _demo_reasons(value: Any, breaks: bool) -> tuple[str, ...]:
    field = "demo.break_reasons"
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, str) and v and v.isprintable() and len(v) <= MAX_PAUSE_REASON_LENGTH
        for v in value
    ):
        raise ConfigError(
            field,
            f"must be a list of pause reasons (1-{MAX_PAUSE_REASON_LENGTH} printable "
            f"characters), got {value!r}",
        )
    if breaks and not value:
        raise ConfigError(field, "needs at least one reason while break_every is above 0")
    return tuple(value)


@dataclass(frozen=True, slots=True)
class Settings:
    ami: AmiSettings = AmiSettings()
    agi: AgiSettings = AgiSettings()
    http: HttpSettings = HttpSettings()
    storage: StorageSettings = StorageSettings()
    dial: DialSettings = DialSettings()
    api_token: str = ""
    queues: tuple[QueueConfig, ...] = ()
    agents: tuple[AgentSeed, ...] = ()
    #: None: a single node (no Redis).
    cluster: ClusterSettings | None = None
    demo: DemoSettings = DemoSettings()


def _coerce(value: str, target: Any, name: str) -> Any:
    if isinstance(target, bool):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(name, f"expected a boolean, got {value!r}")
    if isinstance(target, tuple):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    if isinstance(target, int):
        try:
            return int(value)
        except ValueError:
            raise ConfigError(name, f"expected an integer, got {value!r}") from None
    if isinstance(target, float):
        try:
            return float(value)
        except ValueError:
            raise ConfigError(name, f"expected a number, got {value!r}") from None
    return value


def _section(cls: Any, data: Mapping[str, Any], prefix: str, env: Mapping[str, str]) -> Any:
    default = cls()
    values: dict[str, Any] = {}
    for f in fields(cls):
        current = data.get(f.name, getattr(default, f.name))
        env_name = f"ACD_{prefix}_{f.name}".upper()
        if env_name in env:
            current = _coerce(env[env_name], getattr(default, f.name), env_name)
        values[f.name] = current
    return replace(default, **values)


def _tables(data: Mapping[str, Any], key: str) -> list[Any]:
    """`[[queues]]` / `[[agents]]`: each table is then a document (acd.config.documents)."""
    tables = data.get(key, [])
    if not isinstance(tables, list):
        raise ConfigError(key, f"must be an array of tables ([[{key}]])")
    return tables


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    if path is not None:
        with open(path, "rb") as fh:
            try:
                data = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(str(path), str(exc)) from None
    dial = _dial(data.get("dial", {}), env)
    queues = tuple(parse_queue(q, f"queues[{i}]") for i, q in enumerate(_tables(data, "queues")))
    for i, queue in enumerate(queues):
        holder = transfer_code_holder(queue, queues[:i])
        if holder is not None:
            raise ConfigError(
                f"queues[{i}].transfer_code", f"{queue.transfer_code!r} is queue {holder!r}'s"
            )
    agents = tuple(
        parse_agent(a, f"agents[{i}]", dial.rules()) for i, a in enumerate(_tables(data, "agents"))
    )
    agi = _section(AgiSettings, data.get("agi", {}), "agi", env)
    http = _section(HttpSettings, data.get("http", {}), "http", env)
    storage = _section(StorageSettings, data.get("storage", {}), "storage", env)
    cluster = _cluster(data.get("cluster"), env)
    if cluster is not None:
        cluster = _cluster_node(cluster, agi, http, storage)
    return Settings(
        ami=_section(AmiSettings, data.get("ami", {}), "ami", env),
        agi=agi,
        http=http,
        storage=storage,
        dial=dial,
        api_token=env.get("ACD_API_TOKEN", str(data.get("api_token", ""))),
        queues=queues,
        agents=agents,
        cluster=cluster,
        demo=_demo(data.get("demo", {}), env),
    )


_ANY_ADDRESS = ("", "0.0.0.0", "::", "[::]")


def _cluster_node(
    cluster: ClusterSettings, agi: AgiSettings, http: HttpSettings, storage: StorageSettings
) -> ClusterSettings:
    """The addresses a node advertises, and the store the nodes share."""
    if not storage.resolved_url().startswith("postgresql"):
        raise ConfigError(
            "storage.url",
            "the nodes of a cluster share one PostgreSQL store: set [storage] url "
            "(ACD_STORAGE_URL) to postgresql+asyncpg://…; SQLite is one node's",
        )
    for key, host, given in (
        ("api_url", http.host, cluster.api_url),
        ("agi_address", agi.host, cluster.agi_address),
    ):
        if not given and host in _ANY_ADDRESS:
            raise ConfigError(
                f"cluster.{key}",
                f"the listening host {host!r} is every address, not one the other nodes (or "
                f"Asterisk) can reach: set [cluster] {key}",
            )
    return replace(
        cluster,
        api_url=(cluster.api_url or f"http://{http.host}:{http.port}").rstrip("/"),
        agi_address=cluster.agi_address or f"{agi.host}:{agi.port}",
    )
