"""The installer: idempotent, restores from the cached tarball, finds the archive URL."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from acd.asterisk.install import (
    MARKER,
    Installation,
    InstallError,
    InstallSource,
    archive_url,
    default_cache_dir,
    install,
    parse_version,
    tarball_path,
)


@pytest.mark.asterisk
def test_second_install_is_a_no_op_and_a_wiped_root_comes_from_the_cache(
    asterisk_installation: Installation, tmp_path: Path
) -> None:
    # The session's installation has filled the shared cache (or uses the host's Asterisk,
    # in which case the first install below builds the tarball).
    root = tmp_path / "root"
    try:
        first = install(root, default_cache_dir(), use_host=False)
        assert first.source in (InstallSource.CACHE, InstallSource.BUILT)
        assert first.tarball == tarball_path(default_cache_dir())
        assert first.tarball.exists()

        second = install(root, default_cache_dir(), use_host=False)
        assert second.source is InstallSource.EXISTING
        assert second.installation == first.installation

        shutil.rmtree(root)
        third = install(root, default_cache_dir(), use_host=False)
        assert third.source is InstallSource.CACHE
        assert third.installation.version.split(".")[0] >= "20"
        assert (root / MARKER).exists()
        assert "127.0.0.1" in (root / "etc" / "hosts").read_text()
        assert "options timeout:1" in (root / "etc" / "resolv.conf").read_text()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_parse_version_accepts_debian_versions() -> None:
    major, version = parse_version("Asterisk 22.10.1+dfsg+~cs6.17.60671434-1\n")
    assert (major, version) == (22, "22.10.1+dfsg+~cs6.17.60671434-1")


def test_parse_version_rejects_garbage() -> None:
    with pytest.raises(InstallError, match="unexpected"):
        parse_version("bash: asterisk: command not found")


def test_archive_url_from_deb822_sources_skips_security(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
    )
    assert archive_url(tmp_path) == "http://mirror.example/debian"


def test_archive_url_from_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# deb http://old.example/debian buster main\n"
        "deb [arch=amd64] http://proxy.example:3142/debian bookworm main\n"
    )
    assert archive_url(tmp_path) == "http://proxy.example:3142/debian"


def test_archive_url_without_any_debian_source_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACD_DEBIAN_MIRROR", raising=False)
    (tmp_path / "sources.list.d").mkdir()
    with pytest.raises(InstallError, match="ACD_DEBIAN_MIRROR"):
        archive_url(tmp_path)
