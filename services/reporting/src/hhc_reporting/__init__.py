"""Reporting service."""
