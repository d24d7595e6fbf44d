"""The one registration helper behind the method families (features, keyframe selectors, index backends)."""

from __future__ import annotations

from typing import Callable


def registrar(table: dict) -> Callable[[str], Callable[[type], type]]:
    """Make a ``register(name)`` class decorator that stores the class in
    `table` under `name` and sets its ``name`` attribute."""

    def register(name: str) -> Callable[[type], type]:
        def deco(cls: type) -> type:
            table[name] = cls
            cls.name = name
            return cls

        return deco

    return register
