"""Search across a workspace's transcripts: one backend protocol (backend.py), three
backends (backends/), per-segment-chunk documents (documents.py), a transactional outbox
(outbox.py) drained by the index worker (indexer.py), and the query service (service.py)."""
