"""The names and versions of the capture format, shared by its writer (:mod:`sriovcheck.capture`) and its
reader (:mod:`sriovcheck.sources.capture`): a module of its own so that writing a capture does not load the
archive reader."""
from __future__ import annotations

MANIFEST_NAME = "sriovcheck-manifest.json"
FORMAT = "sriovcheck-capture"
#: Manifest versions this reader understands.
FORMAT_VERSION = 1
#: ``member_index.offsets_from``: offsets count from the first byte after the manifest member.
INDEX_OFFSETS_FROM = "manifest end"
