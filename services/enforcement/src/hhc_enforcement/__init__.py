"""Enforcement service."""
