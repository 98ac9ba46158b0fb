"""Two or more controllers, one ACD: leadership (lease.py), replication (codec.py, journal.py)."""
