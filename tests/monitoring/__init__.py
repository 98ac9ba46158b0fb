"""Tests of monitoring/ (Prometheus rules, Grafana dashboard) with the real promtool."""
