"""Plans, usage and payments."""
