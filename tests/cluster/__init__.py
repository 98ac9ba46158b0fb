"""Tests of acd.cluster (a package: its conftest and modules do not clash with other areas)."""
