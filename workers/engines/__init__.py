"""Transcription engines. Heavy libraries (ctranslate2, torch, whisperx) are imported only
inside an engine's load(), so the web process and CPU workers never import them."""
