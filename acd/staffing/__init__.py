"""Staffing: Erlang B/C/A figures and a discrete-event simulator that drives the real router."""
