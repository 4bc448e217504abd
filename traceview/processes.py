"""How the long-running processes (web workers, Celery workers) treat Python's cyclic garbage
collector once they have started."""

import gc


def gc_settle() -> None:
    """Objects loaded at start (Django, the app, the rules' compiled vocabularies) never die:
    keep the collector off them, and collect the young generation less often. Ingest and
    classification allocate many short-lived objects (decoded payloads, texts), and each full
    collection walked every object the process had loaded: a sixth of the classification
    worker's CPU an invocation (bench_classify, which settles its process the same way)."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
