"""Third-party plugins used by tests, loaded the way an installed plugin is loaded."""
