"""Checks about the host (filled in by the rule pack)."""
from __future__ import annotations
