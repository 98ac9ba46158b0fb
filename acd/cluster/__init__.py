"""The cluster: replication of router inputs, leadership."""
