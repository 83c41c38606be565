"""Checks about the pf (filled in by the rule pack)."""
from __future__ import annotations
