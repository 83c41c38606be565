"""Checks about the guest (filled in by the rule pack)."""
from __future__ import annotations
