"""Thin pipeline entry points: `python -m pipeline.<stage>`."""
