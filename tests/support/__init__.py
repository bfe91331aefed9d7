"""Test doubles and builders shared across test folders (importable as `support.<module>`)."""
