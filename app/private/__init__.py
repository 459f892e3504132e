"""Private Transcript: keyrings, encrypted transcripts, and the refusals that guard them."""
