"""Checks about the vf (filled in by the rule pack)."""
from __future__ import annotations
