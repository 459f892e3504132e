"""AI providers shipped with Verbatim."""
