"""Real, local stand-ins for third-party services the tests cannot reach."""
