"""Save and load model objects in a folder, in the safest format that fits the model.

A *flavor* is the format a model is stored in, picked from the model's type:

===========  ==========================================================  ====================
flavor       models                                                      files
===========  ==========================================================  ====================
lightgbm     ``lightgbm.Booster``: native text model                     ``model.txt``
             ``LGBMClassifier`` / ``LGBMRegressor`` / ``LGBMRanker``:     ``model.skops``,
             skops (the wrapper with its fitted attributes) plus the      ``booster.txt``
             native booster text, readable without the wrapper
xgboost      ``xgboost.Booster`` and ``XGBClassifier`` / ``XGBRegressor``  ``model.json``
             / ...: native JSON ``save_model``, reloaded into the class
sklearn      any scikit-learn estimator or pipeline: ``skops.io.dump``    ``model.skops``
pickle       anything else, with cloudpickle (plain pickle if absent)     ``model.pkl``
===========  ==========================================================  ====================

Native and skops formats hold data, not code. On load, the types a skops file names are
checked against an allow-list: classes from ``sklearn``, ``numpy``, ``scipy``, ``lightgbm``
and ``xgboost`` (and ``collections.OrderedDict`` / ``defaultdict``) are accepted; any other
type or function (a custom transformer, ``builtins.print``, ``posix.system``) needs
``trusted=True``. Pickle runs arbitrary code on load, so it always needs ``trusted=True``.

Example::

    info = save_model(model, Path("out"))
    same = load_model(Path("out"), info)
"""

from __future__ import annotations

import importlib
import pickle
import platform
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from assay.errors import (
    ArtifactStoreError,
    InvalidInputError,
    NotFoundError,
    UnsafePathError,
    UntrustedModelError,
)

__all__ = [
    "FLAVORS",
    "TRUSTED_MODULE_PREFIXES",
    "TRUSTED_TYPE_NAMES",
    "FlavorInfo",
    "flavor_of",
    "load_model",
    "save_model",
]

FLAVORS: tuple[str, ...] = ("lightgbm", "xgboost", "sklearn", "pickle")
TRUSTED_MODULE_PREFIXES: tuple[str, ...] = ("sklearn.", "numpy.", "scipy.", "lightgbm.", "xgboost.")
TRUSTED_TYPE_NAMES: frozenset[str] = frozenset(
    {"collections.OrderedDict", "collections.defaultdict", "functools.partial"}
)

_DIST_NAMES = {"sklearn": "scikit-learn"}


@dataclass(frozen=True)
class FlavorInfo:
    """How a model was stored: flavor, files (relative to the model folder), class and versions.

    Example::

        FlavorInfo.from_dict(info.to_dict()) == info  # True
    """

    flavor: str
    files: tuple[str, ...]
    model_class: str
    library_versions: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.flavor not in FLAVORS:
            raise InvalidInputError(f"The 'flavor' must be one of {list(FLAVORS)}. Got {self.flavor!r}.")
        object.__setattr__(self, "files", tuple(self.files))
        object.__setattr__(self, "library_versions", dict(self.library_versions))
        object.__setattr__(self, "extra", dict(self.extra))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form; :meth:`from_dict` reads it back."""
        return {
            "flavor": self.flavor,
            "files": list(self.files),
            "model_class": self.model_class,
            "library_versions": dict(self.library_versions),
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FlavorInfo:
        """Rebuild from :meth:`to_dict` output."""
        try:
            return cls(
                flavor=data["flavor"],
                files=tuple(data["files"]),
                model_class=data["model_class"],
                library_versions=dict(data.get("library_versions") or {}),
                extra=dict(data.get("extra") or {}),
            )
        except (KeyError, TypeError) as exc:
            raise InvalidInputError(
                f"A flavor dict needs 'flavor', 'files' and 'model_class' keys. Got {data!r}."
            ) from exc

    def summary(self) -> str:
        """One line: class, flavor, files and library versions."""
        versions = ", ".join(f"{k} {v}" for k, v in sorted(self.library_versions.items()))
        return f"{self.model_class} stored as {self.flavor} ({', '.join(self.files)}; {versions})"


def flavor_of(model: object) -> str:
    """The flavor :func:`save_model` would use for ``model``.

    Example::

        flavor_of(LogisticRegression())  # 'sklearn'
    """
    lgb = sys.modules.get("lightgbm")  # a lightgbm object implies lightgbm is imported: no import cost
    if lgb is not None and isinstance(model, lgb.Booster | lgb.LGBMModel):
        return "lightgbm"
    xgb = sys.modules.get("xgboost")
    if xgb is not None and isinstance(model, xgb.Booster | xgb.XGBModel):
        return "xgboost"
    sklearn_base = sys.modules.get("sklearn.base")
    if sklearn_base is not None and isinstance(model, sklearn_base.BaseEstimator):
        return "sklearn"
    return "pickle"


def save_model(model: object, directory: Path) -> FlavorInfo:
    """Write ``model`` into ``directory`` (created if needed) in its flavor's format.

    Example::

        info = save_model(LogisticRegression().fit(X, y), Path("model"))
        info.flavor, info.files  # ('sklearn', ('model.skops',))
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    flavor = flavor_of(model)
    files, extra, libraries = _SAVERS[flavor](model, directory)
    return FlavorInfo(
        flavor=flavor,
        files=files,
        model_class=_qualname(type(model)),
        library_versions=_versions(("numpy", *libraries)),
        extra=extra,
    )


def load_model(directory: Path, info: FlavorInfo, *, trusted: bool = False) -> object:
    """Read back a model written by :func:`save_model`.

    ``trusted=True`` allows formats or types that can run code from the file (pickle, or a
    skops file naming types outside the allow-list); pass it only for models you trust.

    Raises :class:`~assay.errors.UntrustedModelError` when trust is needed,
    :class:`~assay.errors.NotFoundError` for a missing file and
    :class:`~assay.errors.ArtifactStoreError` for content that cannot be read.

    Example::

        model = load_model(Path("model"), info)
    """
    if not isinstance(info, FlavorInfo):
        raise InvalidInputError(f"'info' must be a FlavorInfo; got {type(info).__name__}.")
    directory = Path(directory)
    for name in info.files:
        _check_file(directory, name)
    loader = _LOADERS[info.flavor]
    try:
        return loader(directory, info, trusted)
    except (UntrustedModelError, InvalidInputError, NotFoundError, ArtifactStoreError):
        raise
    except Exception as exc:  # any library failure becomes one typed, explained error
        raise _load_failed(directory, info, exc) from exc


# -- savers --------------------------------------------------------------------------------------

_Saved = tuple[tuple[str, ...], dict[str, Any], tuple[str, ...]]


def _save_lightgbm(model: Any, directory: Path) -> _Saved:
    import lightgbm as lgb

    if isinstance(model, lgb.Booster):
        model.save_model(str(directory / "model.txt"))
        return ("model.txt",), {"kind": "booster"}, ("lightgbm",)
    files, _, libraries = _save_sklearn(model, directory)
    try:
        booster = model.booster_
    except (AttributeError, ValueError):  # not fitted: nothing native to write
        return files, {"kind": "sklearn-wrapper"}, ("lightgbm", *libraries)
    booster.save_model(str(directory / "booster.txt"))
    return (*files, "booster.txt"), {"kind": "sklearn-wrapper"}, ("lightgbm", *libraries)


def _save_xgboost(model: Any, directory: Path) -> _Saved:
    import xgboost as xgb

    kind = "booster" if isinstance(model, xgb.Booster) else "sklearn-wrapper"
    try:
        model.save_model(str(directory / "model.json"))
    except (ValueError, AttributeError) as exc:  # sklearn NotFittedError is a ValueError
        raise InvalidInputError(f"Cannot save the xgboost model: {exc}. Fit it before saving.") from exc
    return ("model.json",), {"kind": kind}, ("xgboost",)


def _save_sklearn(model: Any, directory: Path) -> _Saved:
    import skops.io as sio

    path = directory / "model.skops"
    sio.dump(model, path)
    extra_modules = {name.split(".")[0] for name in sio.get_untrusted_types(file=path)}
    libraries = ("scikit-learn", "scipy", "skops", *sorted(extra_modules - {"sklearn", "builtins"}))
    return ("model.skops",), {}, libraries


def _save_pickle(model: Any, directory: Path) -> _Saved:
    try:
        import cloudpickle as pickler  # handles lambdas and classes defined in __main__
    except ImportError:  # pragma: no cover - cloudpickle is normally installed
        pickler = pickle
    with open(directory / "model.pkl", "wb") as fh:
        pickler.dump(model, fh, protocol=pickle.DEFAULT_PROTOCOL)
    name = pickler.__name__
    return ("model.pkl",), {"pickler": name}, (name,) if name == "cloudpickle" else ()


_SAVERS: dict[str, Callable[[Any, Path], _Saved]] = {
    "lightgbm": _save_lightgbm,
    "xgboost": _save_xgboost,
    "sklearn": _save_sklearn,
    "pickle": _save_pickle,
}


# -- loaders -------------------------------------------------------------------------------------


def _load_lightgbm(directory: Path, info: FlavorInfo, trusted: bool) -> object:
    if info.extra.get("kind") == "booster" or "model.txt" in info.files:
        import lightgbm as lgb

        return lgb.Booster(model_file=str(directory / "model.txt"))
    return _load_sklearn(directory, info, trusted)


def _load_xgboost(directory: Path, info: FlavorInfo, trusted: bool) -> object:
    import xgboost as xgb

    path = str(directory / "model.json")
    if info.extra.get("kind") == "booster":
        booster = xgb.Booster()
        booster.load_model(path)
        return booster
    module, _, name = info.model_class.rpartition(".")
    if not (module == "xgboost" or module.startswith("xgboost.")) and not trusted:
        raise UntrustedModelError(
            f"The xgboost model is of class '{info.model_class}', defined outside xgboost; importing it "
            "runs that module's code. Pass trusted=True if you trust where the model came from."
        )
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, xgb.XGBModel)):
        raise ArtifactStoreError(f"'{info.model_class}' is not an xgboost model class; the metadata is corrupt.")
    model = cls()
    model.load_model(path)
    return model


def _load_sklearn(directory: Path, info: FlavorInfo, trusted: bool) -> object:
    import skops.io as sio

    path = directory / "model.skops"
    found = sio.get_untrusted_types(file=path)
    rejected = sorted(name for name in found if not _auto_trusted(name))
    if rejected and not trusted:
        raise UntrustedModelError(
            f"The model file {path} refers to types outside the allow-list {rejected}; loading them can "
            "run their code. Check these are yours, then load with trusted=True."
        )
    return sio.load(path, trusted=found)


def _load_pickle(directory: Path, info: FlavorInfo, trusted: bool) -> object:
    if not trusted:
        raise UntrustedModelError(
            f"The model ({info.model_class}) was stored with pickle, and unpickling runs arbitrary code "
            "from the file. Load it with trusted=True only if you trust who logged it; save models as "
            "scikit-learn, LightGBM or XGBoost objects to get a safe format."
        )
    with open(directory / "model.pkl", "rb") as fh:
        return pickle.load(fh)  # gated by trusted=True above


_LOADERS: dict[str, Callable[[Path, FlavorInfo, bool], object]] = {
    "lightgbm": _load_lightgbm,
    "xgboost": _load_xgboost,
    "sklearn": _load_sklearn,
    "pickle": _load_pickle,
}


# -- helpers -------------------------------------------------------------------------------------


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _versions(libraries: tuple[str, ...]) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for dist in dict.fromkeys(libraries):
        module_name = next((m for m, d in _DIST_NAMES.items() if d == dist), dist)
        module = sys.modules.get(module_name)
        version = getattr(module, "__version__", None) if module is not None else None
        if isinstance(version, str):
            versions[dist] = version
    return versions


def _auto_trusted(name: str) -> bool:
    """True for allow-listed names: exact names, *classes* under a trusted package, numpy ufuncs,
    and scikit-learn's own functions (estimators keep references such as ``check_array``).

    Functions elsewhere (``numpy.load``, ``builtins.print``, ``posix.system``) still need ``trusted=True``.
    """
    if name in TRUSTED_TYPE_NAMES:
        return True
    if not name.startswith(TRUSTED_MODULE_PREFIXES):
        return False
    module, _, attr = name.rpartition(".")
    try:  # importing a module of an allow-listed package is safe
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return False
    if isinstance(obj, type):
        return True
    import numpy as np

    if isinstance(obj, np.ufunc):
        return True
    return name.startswith("sklearn.") and callable(obj) and getattr(obj, "__module__", "").startswith("sklearn.")


def _check_file(directory: Path, name: str) -> None:
    pure = PurePosixPath(name)
    if (
        not name
        or pure.is_absolute()
        or PureWindowsPath(name).is_absolute()
        or len(pure.parts) != 1
        or name in {".", ".."}
        or "\\" in name
    ):
        raise UnsafePathError(f"Model file name {name!r} must be a plain file name inside the model folder.")
    if not (directory / name).is_file():
        raise NotFoundError(
            f"Model file '{name}' is missing from {directory}; the model artifact is incomplete "
            "(was the upload interrupted, or the folder moved?)."
        )


def _load_failed(directory: Path, info: FlavorInfo, exc: Exception) -> ArtifactStoreError:
    saved = ", ".join(f"{k} {v}" for k, v in sorted(info.library_versions.items())) or "unknown versions"
    if isinstance(exc, ImportError):
        cause = f"it needs code that cannot be imported here ({exc}); install the package that defines it"
    else:
        cause = (
            f"{type(exc).__name__}: {exc}. The file may be corrupt, or written by an incompatible "
            f"library version (saved with {saved})"
        )
    return ArtifactStoreError(f"Could not load the {info.flavor} model {info.model_class} from {directory}: {cause}.")
