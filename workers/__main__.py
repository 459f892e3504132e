"""`python -m workers`: an RQ worker for the given queues.

The GPU queue's worker does not fork (CUDA state, engine loaded once); the others fork a
work horse per job so a crash or leak in one job cannot take the worker with it.
"""

from __future__ import annotations

import argparse

from app.config import load_settings
from app.queue import QUEUES, connection_for
from workers.failures import SafeSimpleWorker, SafeWorker


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m workers")
    parser.add_argument("--queues", nargs="+", default=[q for q in QUEUES if q != "gpu"])
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--max-jobs", type=int, default=None)
    args = parser.parse_args()
    cfg = load_settings()
    conn = connection_for(cfg.redis_url)
    # Both keep a failed job's traceback without its message (workers/failures.py).
    worker_class = SafeSimpleWorker if "gpu" in args.queues else SafeWorker
    worker = worker_class(args.queues, connection=conn)
    # The scheduler moves retries with a delay (backoff) back onto their queues when due.
    worker.work(burst=args.burst, max_jobs=args.max_jobs, logging_level="INFO", with_scheduler=True)


if __name__ == "__main__":
    main()
