"""Build hook: the man page and the bash and zsh completion scripts are generated from the argparse parser
when the package is built (sriovcheck/manpage.py) and shipped as the wheel's data files:
share/man/man1/sriovcheck.1, share/bash-completion/completions/sriovcheck, share/zsh/site-functions/_sriovcheck.
Everything else is in pyproject.toml.
"""
from __future__ import annotations

import os
import sys

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATED = os.path.join("build", "generated")


def generated_data_files():
    # The generator imports only the standard library and sriovcheck.cli (the build environment has nothing
    # else), from this source tree.
    sys.path.insert(0, HERE)
    try:
        from pathlib import Path

        from sriovcheck.manpage import write_all
    finally:
        sys.path.remove(HERE)
    written = write_all(Path(HERE) / GENERATED)

    def rel(kind, name=None):
        path = os.path.join(GENERATED, written[kind].name)
        if name is None:
            return path
        # The installed name differs from the generated one: copy under that name.
        target = os.path.join(GENERATED, kind, name)
        os.makedirs(os.path.join(HERE, os.path.dirname(target)), exist_ok=True)
        with open(os.path.join(HERE, path), "rb") as src, open(os.path.join(HERE, target), "wb") as dst:
            dst.write(src.read())
        return target

    return [
        ("share/man/man1", [rel("man")]),
        ("share/bash-completion/completions", [rel("bash", "sriovcheck")]),
        ("share/zsh/site-functions", [rel("zsh")]),
    ]


setup(data_files=generated_data_files())
