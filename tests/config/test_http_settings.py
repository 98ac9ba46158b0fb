"""The [http] limits: read from the file or the environment, refused when not positive."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.config import ConfigError, HttpSettings, load_settings


def test_defaults_bound_heads_and_streams() -> None:
    http = load_settings(None, env={}).http
    assert http.header_timeout == 10.0
    assert (http.max_event_streams, http.max_event_streams_per_token) == (100, 10)


def test_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "acd.toml"
    path.write_text("[http]\nheader_timeout = 3\nmax_event_streams = 7\n")
    env = {"ACD_HTTP_HEADER_TIMEOUT": "2.5", "ACD_HTTP_MAX_EVENT_STREAMS_PER_TOKEN": "2"}
    http = load_settings(path, env=env).http
    assert (http.header_timeout, http.max_event_streams) == (2.5, 7)
    assert http.max_event_streams_per_token == 2


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"ACD_HTTP_HEADER_TIMEOUT": "0"}, "http.header_timeout"),
        ({"ACD_HTTP_HEADER_TIMEOUT": "nan"}, "http.header_timeout"),
        ({"ACD_HTTP_HEADER_TIMEOUT": "soon"}, "ACD_HTTP_HEADER_TIMEOUT"),
        ({"ACD_HTTP_MAX_EVENT_STREAMS": "-1"}, "http.max_event_streams"),
        ({"ACD_HTTP_MAX_EVENT_STREAMS_PER_TOKEN": "1.5"}, "ACD_HTTP_MAX_EVENT_STREAMS_PER_TOKEN"),
    ],
)
def test_bad_limits_are_refused(env: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(None, env=env)
    assert refused.value.field == field


def test_a_file_value_of_the_wrong_kind_is_refused() -> None:
    with pytest.raises(ConfigError, match="max_event_streams"):
        HttpSettings(max_event_streams=2.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="header_timeout"):
        HttpSettings(header_timeout="10")  # type: ignore[arg-type]
