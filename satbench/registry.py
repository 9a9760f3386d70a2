"""Named registries of pluggable objects (splitters, methods), and where each object came from.

Built-in objects and a user's plugins register the same way. Every object declares a `version`
string: a plugin's version is part of the key of every run that uses it (satbench.runs), so a user
who edits a plugin and bumps its version retrains, while satbench's own objects are versioned by
the code itself (`satbench verify` catches a change in them).
"""

from contextlib import contextmanager

from satbench.errors import SatbenchError

BUILT_IN = "built-in"
_origin = [None]  # set while a plugin module is imported (satbench.plugins)


@contextmanager
def registering_from(origin: str):
    """Attribute every registration inside the block to `origin` (a plugin's description)."""
    previous, _origin[0] = _origin[0], origin
    try:
        yield
    finally:
        _origin[0] = previous


class Registry:
    """Objects of one kind by name, each with its origin."""

    def __init__(self, kind: str, *, field: str, required: tuple[str, ...] = ()):
        self.kind, self.field, self.required = kind, field, required
        self._items: dict[str, object] = {}
        self._origins: dict[str, str] = {}

    def register(self, item, *, replace: bool = False):
        """Register an instance (or a class, instantiated without arguments) under its name.

        Returns its argument, so it also works as a class decorator.
        """
        instance = item() if isinstance(item, type) else item
        name = getattr(instance, "name", None)
        if not isinstance(name, str) or not name:
            raise SatbenchError(f"{self.kind}: expected a non-empty string name, got {name!r}")
        missing = [a for a in ("version", *self.required) if not hasattr(instance, a)]
        if missing or not isinstance(instance.version, str):
            raise SatbenchError(f"{self.kind} {name!r}: needs {', '.join(missing or ['version'])}"
                                f" (version: a string)")
        if name in self._items and not replace:
            raise SatbenchError(f"{self.kind} {name!r} is already registered (from "
                                f"{self._origins[name]}); pass replace=True")
        module = type(instance).__module__
        self._items[name] = instance
        self._origins[name] = _origin[0] or (BUILT_IN if module.split(".")[0] == "satbench"
                                             else f"module {module}")
        return item

    def unregister(self, name: str) -> None:
        self._items.pop(name, None)
        self._origins.pop(name, None)

    def names(self) -> list[str]:
        return list(self._items)

    def get(self, name: str):
        try:
            return self._items[name]
        except KeyError:
            raise SatbenchError(f"{self.field}: unknown {self.kind} {name!r}; known {self.kind}s: "
                                f"{', '.join(sorted(self._items))}") from None

    def origin(self, name: str) -> str:
        self.get(name)
        return self._origins[name]

    def keyed_version(self, name: str) -> str | None:
        """The version that enters the key of a run using `name`: a plugin's always, satbench's
        own once bumped past "1" (so the keys of built-ins that never changed stay as stored)."""
        version = self.get(name).version
        return None if self.origin(name) == BUILT_IN and version == "1" else version
