"""Local stack for a laptop or CI without Docker (design.md, "Running it")."""
