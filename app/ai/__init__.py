"""AI: summaries, chat with a transcript, questions across the workspace (app/ai/service.py)."""
