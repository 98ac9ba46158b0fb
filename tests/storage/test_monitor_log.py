"""The supervisors' monitor audit log (listen / whisper / barge) at rest, on SQLite and on
the real PostgreSQL server: a row per request, its result set once the dial is over, the
newest first."""

from __future__ import annotations

from acd.storage import Database

T0 = 1_700_000_000.0


def entry(entry_id: str, at: float, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": entry_id,
        "at": at,
        "token": "boss",
        "role": "supervisor",
        "agent_id": "1001",
        "call_id": "1700000000.12",
        "mode": "whisper",
        "contact": "PJSIP/1003",
        "result": "dialing",
    }
    return {**row, **changes}


async def test_entries_are_kept_newest_first_with_their_result(database: Database) -> None:
    assert await database.monitor_log.recent(10) == []
    await database.monitor_log.add(entry("a", T0))
    await database.monitor_log.add(entry("b", T0 + 5, mode="barge", token="admin", role="admin"))
    await database.monitor_log.set_result("a", "answered")

    rows = await database.monitor_log.recent(10)
    assert [r["id"] for r in rows] == ["b", "a"]
    assert rows[1] == entry("a", T0, result="answered")
    assert (rows[0]["mode"], rows[0]["result"]) == ("barge", "dialing")
    assert [r["id"] for r in await database.monitor_log.recent(1)] == ["b"]
