"""Data rights and privacy: export, deletion, retention, analytics consent, Voice Lab."""
