"""First-party search backends (see app/search/backend.py for the protocol)."""
