"""Transcripts: their lifecycle (queued → processing → completed/failed), text and speakers."""
