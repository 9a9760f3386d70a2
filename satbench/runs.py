"""RunSpec: one method, with its params, trained in one TrainingContext. The unit of the store.

A run's key hashes the context's and the params' non-default fields, the method's name, and the
version of every plugin object the run uses (its method, its splitter; a built-in's once bumped
past "1"). So:
- adding a field with a default keeps every stored key;
- adding a method to a finished sweep trains that method alone;
- editing a plugin or a built-in and bumping its version retrains the runs that use it;
- a new seeding scheme (satbench.specs.SEEDING) retrains everything: no row drawn from other
  random numbers is reused.
Every method of one context shares its `run_key` (TrainingContext.key), which reports pair on.
"""

import dataclasses
from dataclasses import dataclass

from satbench.errors import SatbenchError
from satbench.fingerprint import sha256_of
from satbench.methods import METHODS, Method, get_method
from satbench.specs import SEEDING, TrainingContext, check_fields, from_dict, non_default


@dataclass(frozen=True)
class RunSpec:
    context: TrainingContext
    method: str
    params: object = None  # an instance of the method's params class; None: its defaults

    def __post_init__(self):
        if not isinstance(self.context, TrainingContext):
            raise SatbenchError(f"context: expected a TrainingContext, got "
                                f"{type(self.context).__name__}")
        method = get_method(self.method)
        params = self.params if self.params is not None else method.params()
        if isinstance(params, dict):
            params = from_dict(method.params, params)
        if not isinstance(params, method.params):
            raise SatbenchError(f"params: {self.method} takes {method.params.__name__}, got "
                                f"{type(params).__name__}")
        check_fields(params)
        method.check(params, self.context)
        object.__setattr__(self, "params", params)

    @property
    def trainer(self) -> Method:
        return get_method(self.method)

    def plugin_versions(self) -> dict[str, str]:
        """The keyed version (Registry.keyed_version) of each plugin object this run uses, by
        "kind:name"."""
        used = {METHODS: self.method}
        for field in dataclasses.fields(self.params):
            if field.metadata.get("registry") is not None:
                used[field.metadata["registry"]] = getattr(self.params, field.name)
        versions = {}
        for registry, name in used.items():
            version = registry.keyed_version(name)
            if version is not None:
                versions[f"{registry.kind}:{name}"] = version
        return versions

    def key_under(self, seeding: int) -> str:
        """The key this run had, or has, under seeding scheme `seeding` (satbench.rng): scheme 1's
        keys are those satbench wrote before the scheme entered them."""
        document = {"kind": "RunSpec", "context": non_default(self.context),
                    "method": self.method, "params": non_default(self.params)}
        versions = self.plugin_versions()
        if versions:
            document["versions"] = versions
        if seeding != 1:
            document["seeding"] = seeding
        return sha256_of(document)

    @property
    def key(self) -> str:
        return self.key_under(SEEDING)

    @property
    def run_key(self) -> str:
        return self.context.key

    def to_dict(self) -> dict:
        return {"context": self.context.to_dict(), "method": self.method,
                "params": dataclasses.asdict(self.params),
                "versions": self.plugin_versions()}

    @classmethod
    def from_dict(cls, data: dict) -> "RunSpec":
        return cls(TrainingContext.from_dict(data["context"]), data["method"],
                   dict(data.get("params") or {}))

    def describe(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(self.params).items())
        return self.method + (f"({params})" if params else "")


def runs_for(context: TrainingContext, methods, **params) -> list[RunSpec]:
    """One run per method in `context`, each given the `params` its params spec takes (others
    keep their defaults). A param that no method takes is a one-line error."""
    runs, used = [], set()
    for name in methods:
        fields = {f.name for f in dataclasses.fields(get_method(name).params)}
        used |= fields & set(params)
        runs.append(RunSpec(context, name, {k: v for k, v in params.items() if k in fields}))
    unused = sorted(set(params) - used)
    if unused:
        raise SatbenchError(f"{', '.join(unused)}: none of the methods {', '.join(methods)} "
                            f"takes it")
    return runs
