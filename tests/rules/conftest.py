"""Fixtures for the rule-pack tests: the real plugin registry, the built-in rules, a runner."""
from __future__ import annotations

from typing import Callable, Dict, List, Sequence

import pytest

from sriovcheck.engine import run
from sriovcheck.model import HostFacts
from sriovcheck.plugins import Registry, load_plugins
from sriovcheck.results import Result
from sriovcheck.ruleset import Profile, Rule, load_profiles, load_rules, select_rules

Runner = Callable[..., List[Result]]


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_plugins(entry_points=False)


@pytest.fixture(scope="session")
def builtin_rules(registry: Registry) -> List[Rule]:
    return load_rules(registry)


@pytest.fixture(scope="session")
def profiles(registry: Registry) -> Dict[str, Profile]:
    return load_profiles(registry)


@pytest.fixture(scope="session")
def run_rules(registry: Registry, builtin_rules: List[Rule], profiles: Dict[str, Profile]) -> Runner:
    """Run rules (ids or names; all of the profile when none) through the real engine."""

    def _run(facts: HostFacts, *selectors: str, profile: str = "default") -> List[Result]:
        chosen: Sequence[Rule] = select_rules(builtin_rules, registry, profiles[profile], list(selectors))
        return list(run(facts, chosen, registry, profile=profile).results)

    return _run
