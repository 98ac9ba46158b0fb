"""What the ACD tells operators: call records, agent intervals, the queue_log, Prometheus
metrics, live queue statistics and interval reports. Engine listeners; none of them decides.

    records.py    call records and agent intervals from router steps (the source of truth)
    queue_log.py  app_queue-format queue_log lines
    metrics.py    the Prometheus series of the contract
    kpi.py        the definitions: service level treatments, short abandon, occupancy
    stats.py      live per-queue statistics (GET /stats/queues)
    reports.py    interval reports from the stored records (GET /reports/queues)
"""
