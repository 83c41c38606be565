"""sriovcheck: SR-IOV diagnostic and compliance checker for Linux/KVM hosts."""
from __future__ import annotations

__version__ = "0.1.0"
