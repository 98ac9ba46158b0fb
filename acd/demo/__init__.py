"""The demo: simulated callers and agents on the real Asterisk, so `make run` moves.

    schedule.py  sans-I/O: Poisson arrivals, each caller's queue, talk time, patience and
                 caller data; the agents' breaks (time and the random source passed in)
    driver.py    asyncio: logs the demo agents in and pauses them through the agent use
                 cases (as the API does), originates the callers and hangs up those whose
                 patience ran out over the controller's own AMI link (its gate included)

Configured by `[demo]` (acd.config.settings.DemoSettings); wired in `acd.compose`
(`start_controller`), so only a node that drives Asterisk (a single node, a cluster's
leader) runs it.
"""
