"""Shared test set-up. Fixtures of one area live in that area's conftest (tests/<area>/)."""

pytest_plugins = ["conftest_asterisk"]
