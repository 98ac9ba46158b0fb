"""The open-files limit of `acd serve`: the soft limit raised to the hard one at start.

Every FastAGI connection, HTTP request, event stream, the AMI link and the stores hold a file
descriptor; a default soft limit of 1024 is what an idle-connection flood would reach first
(then accept() fails and Asterisk's requests wait). The hard limit is the administrator's
ceiling: raising the soft limit to it needs no privilege."""

from __future__ import annotations

import logging
import resource

log = logging.getLogger(__name__)


def raise_open_files_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (logged); returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == hard:
        log.info("open files limit %s (hard %s)", soft, hard)
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:
        log.warning("open files limit stays %s (hard %s): %s", soft, hard, exc)
        return soft
    log.info("open files limit raised from %s to the hard limit %s", soft, hard)
    return hard
