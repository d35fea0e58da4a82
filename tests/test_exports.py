"""Each package's __all__ matches its public names."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import monitor

MODULES = sorted(
    name
    for _, name, _ in pkgutil.walk_packages(monitor.__path__, "monitor.")
    if not name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_all_lists_exactly_the_public_names(name):
    """__all__ names exist, and every public class or function defined here is listed."""
    module = importlib.import_module(name)
    exported = set(module.__all__)
    assert all(hasattr(module, n) for n in exported), exported - set(dir(module))
    defined = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and getattr(v, "__module__", None) == name and callable(v)
    }
    assert defined <= exported, defined - exported
