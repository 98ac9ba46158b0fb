"""What the ACD tells operators: call records, agent intervals, the queue_log, Prometheus
metrics, live queue statistics and interval reports. Observers only; none of them decides.

    records.py       CallRecorder, the engine listener that keeps call records and agent
                     intervals (the source of truth for every definition) and tells each
                     change to its subscribers as a typed happening
    happenings.py    those happenings and the RecordListener protocol subscribers implement
    writer.py        BatchWriter, the subscriber that writes its outputs in batches
                     (flush, close, retry) on one background task
    store_writer.py  the store as one of those outputs; finished calls read back for the API
    queue_log.py     app_queue-format queue_log lines, the other output
    metrics_feed.py  the subscriber that counts happenings (and stored records at start)
    metrics.py       the Prometheus series of the contract
    dispatch.py      dispatch latency, an engine listener of its own
    kpi.py           the definitions: service level treatments, short abandon, occupancy
    stats.py         live per-queue statistics (GET /stats/queues)
    reports.py       interval reports from the stored records (GET /reports/queues)

They are wired by hand in `acd.compose.observe`.
"""
