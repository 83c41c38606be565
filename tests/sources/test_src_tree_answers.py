"""The root-directory source answers every question as the plain walk would, in any order.

TreeSource answers most questions from shortcuts (a folder's scan, a remembered walk of a link target's
folder part, a folder walked one step from the one above); :func:`sriovcheck.sources.tree.resolve` walks
every path from the root, one component at a time, remembering nothing.  Random small trees full of
links (relative, absolute, through other links, loops, ones that climb out) and random question orders
must get the same answers from both.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sriovcheck.sources.base import SourceReadError
from sriovcheck.sources.rootdir import RootDirSource
from sriovcheck.sources.tree import DIR, FILE, LINK, DirTree, resolve

NAMES = ("a", "b", "c")
TARGETS = ("a", "b", "../a", "../b/c", "../../a/b", "/a", "/b/c", "/a/../b", "a/b/c", "..", "../..",
           "../../../..", "c/..", ".", "/", "/c", "../c/b", "b/./c")

# A tree: each path (1-3 components) is a folder, a file (its content) or a link (its target).
entries = st.dictionaries(
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map("/".join),
    st.one_of(st.just(("dir", "")), st.tuples(st.just("file"), st.sampled_from(("x", "yy\n", ""))),
              st.tuples(st.just("link"), st.sampled_from(TARGETS))),
    max_size=14)

QUESTIONS = ("read_bytes", "read_link", "exists", "is_dir", "list_dir")


def build(root: Path, spec: Dict[str, Tuple[str, str]]) -> None:
    for rel in sorted(spec, key=lambda r: r.count("/")):
        kind, value = spec[rel]
        path = root / rel
        if not path.parent.is_dir() or path.parent.is_symlink() or os.path.lexists(path):
            continue  # its folder is a file or a link here, or it exists already
        if kind == "dir":
            path.mkdir()
        elif kind == "file":
            path.write_text(value)
        else:
            os.symlink(value, path)


def plain_answer(root: Path, question: str, path: str) -> Any:
    """What the question's answer is by the plain walk from the root (no memory of earlier answers)."""
    tree = DirTree(root)
    try:
        if question == "read_link":
            found = resolve(tree, path, follow_last=False)
            return None if found is None or found[1].kind != LINK else found[1].target
        found = resolve(tree, path)
        if question == "exists":
            return found is not None
        if question == "is_dir":
            return found is not None and found[1].kind == DIR
        if found is None:
            return None
        if question == "list_dir":
            return sorted(tree.children(found[0])) if found[1].kind == DIR else None
        if found[1].kind != FILE:
            return "error"
        return tree.read(found[0], 1 << 20)
    except SourceReadError:
        return False if question in ("exists", "is_dir") else "error"
    finally:
        tree.close()


def source_answer(source: RootDirSource, question: str, path: str) -> Any:
    call: Callable[..., Any] = getattr(source, question)
    try:
        return call(path)
    except SourceReadError:
        return "error"


def all_paths() -> List[str]:
    paths = ["/"]
    for a in NAMES:
        paths.append(f"/{a}")
        for b in NAMES:
            paths.append(f"/{a}/{b}")
            for c in NAMES:
                paths.append(f"/{a}/{b}/{c}")
    return paths + ["/a/../b", "/a/./b", "//a", "/a/", "/a/b/..", "/a/.", "/c/../../a", "/a/b\x00", "/\x00",
                    "/a/" + "b" * 5000, "a/b"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=entries, order=st.randoms(use_true_random=False))
def test_every_question_in_any_order_gets_the_plain_walks_answer(spec: Dict[str, Tuple[str, str]],
                                                                  order: Any) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "root"
        root.mkdir()
        build(root, spec)
        questions = [(q, p) for q in QUESTIONS for p in all_paths()]
        order.shuffle(questions)
        source = RootDirSource(root)
        try:
            for question, path in questions + questions[:20]:  # some asked twice: remembered answers too
                assert source_answer(source, question, path) == plain_answer(root, question, path), (
                    question, path, spec)
        finally:
            source.close()


def test_a_remembered_link_folder_still_counts_its_links_towards_the_limit(tmp_path: Path) -> None:
    """``/c1`` leads to ``/d`` through 20 links.  ``/A -> c1/f`` costs 21 links; ``/E/B -> /c1/f``, asked
    after it, costs 1 (E) + 20 + 1 (B) + 20 = 42, over the limit of 40, although the walk of ``c1`` from
    the root was done (and may be remembered) before."""
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f").write_text("data\n")
    for index in range(1, 21):
        os.symlink(f"c{index + 1}" if index < 20 else "d", root / f"c{index}")
    os.symlink("c1/f", root / "A")
    os.symlink("c1", root / "E")
    os.symlink("/c1/f", root / "d" / "B")
    source = RootDirSource(root)
    try:
        assert source.read_text("/A") == "data\n"
        for question in ("read_bytes", "exists"):
            assert source_answer(source, question, "/E/B") == plain_answer(root, question, "/E/B")
        assert plain_answer(root, "read_bytes", "/E/B") == "error"
    finally:
        source.close()
