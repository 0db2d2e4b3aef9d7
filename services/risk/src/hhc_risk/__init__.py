"""Risk service."""
