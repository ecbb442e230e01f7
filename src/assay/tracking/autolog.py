"""Automatic logging of scikit-learn and LightGBM training: params, training metrics and the model.

:func:`autolog` wraps the ``fit`` of every public scikit-learn estimator (pipelines and search CVs
included), of LightGBM's sklearn API and ``lightgbm.train``. Each *outermost* fit is logged into the
active run (``assay.start_run``) or, when there is none, into a new run named after the estimator
class, ended ``finished`` after fit (``failed`` if fit raised; the error is re-raised). Inner fits (a
Pipeline's steps, a search's candidates, the folds of ``cross_val_score`` and its kin) are not logged:
a thread-local depth guard. Autolog's own failures (a metric undefined for an exotic target, a store
hiccup) never break a fit: they become an :class:`AutologWarning` and the fit goes on.

Limits: fits running in joblib *threads* started by an outer fit (``parallel_backend("threading")``)
are logged as runs of their own (process workers are never patched); a name imported before
``autolog()`` (``from lightgbm import train``) keeps the unpatched function.

Example::

    import assay
    from sklearn.linear_model import LogisticRegression

    assay.autolog(project="churn")
    LogisticRegression(C=0.5).fit(X_train, y_train)  # one run: params, training_* metrics, model
    assay.autolog(disable=True)                      # every original fit restored
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from assay.errors import ConflictError, InvalidInputError, StateError
from assay.tracking.training_metrics import classifier_metrics, regressor_metrics

if TYPE_CHECKING:
    from assay.tracking.run import Run

__all__ = ["AutologWarning", "autolog"]

MAX_PARAM_CHARS = 5000  # a vocabulary or a huge param grid stays readable (and the store small)
_FIT_METHODS = ("fit", "fit_transform", "fit_predict")
_LIBRARY_PREFIXES = ("sklearn.", "lightgbm.")
_QUIET_FUNCTIONS = (  # fit throw-away clones: their fits are never logged
    "cross_validate",
    "cross_val_score",
    "cross_val_predict",
    "learning_curve",
    "validation_curve",
    "permutation_test_score",
)
_LGB_ROUND_ALIASES = frozenset(
    {"num_iterations", "num_iteration", "n_iter", "num_tree", "num_trees", "num_round", "num_rounds"}
    | {"nrounds", "num_boost_round", "n_estimators", "max_iter"}
)


class AutologWarning(UserWarning):
    """Autolog could not log something (or start a run); the fit itself went on unaffected."""


@dataclass(frozen=True)
class _Settings:
    enabled: bool = False
    log_models: bool = True
    registered_model_name: str | None = None
    log_input_examples: bool = True
    project: str = "default"
    silent: bool = False
    max_metric_rows: int = 100_000


_settings = _Settings()
_patches: dict[tuple[Any, str], tuple[Callable[..., Any], Callable[..., Any]]] = {}  # (owner, name) → (orig, wrap)
_lock = threading.Lock()
_local = threading.local()


def autolog(
    *,
    disable: bool = False,
    log_models: bool = True,
    registered_model_name: str | None = None,
    log_input_examples: bool = True,
    project: str = "default",
    silent: bool = False,
    max_metric_rows: int = 100_000,
) -> None:
    """Log every scikit-learn / LightGBM training call automatically; ``disable=True`` undoes it.

    Each outermost ``fit`` (or ``lightgbm.train``) logs:

    - params: ``get_params(deep=True)`` (nested ones as ``clf__C``, estimator objects as their class
      name) or the ``params`` dict of ``lightgbm.train``; search CVs add ``best_<param>``;
    - training metrics on the training data: ``training_accuracy``, ``_precision``, ``_recall``,
      ``_f1`` (weighted when multiclass), ``_log_loss``, ``_roc_auc`` for classifiers;
      ``training_mse``, ``_rmse``, ``_mae``, ``_r2`` for regressors; on at most ``max_metric_rows``
      rows (a seeded sample beyond, noted in tag ``autolog.metrics_sample``); search CVs add
      ``best_cv_score`` and a ``cv_results.csv`` artifact; LightGBM evaluation sets give histories
      such as ``valid_0.binary_logloss`` with step = iteration;
    - the fitted model at ``runs:/<run_id>/model`` (``log_models``), with the first 5 training rows as
      input example when X is a DataFrame (``log_input_examples``), registered as the next version of
      ``registered_model_name`` when given.

    A fit inside ``with assay.start_run():`` logs into that run (a second model there goes to
    ``model-2``, ...; tag ``autolog.model_uri`` names the latest); any other fit gets a run of its own
    in ``project``, named after the estimator class. Calling ``autolog`` again only changes options.
    ``silent=True`` mutes autolog's own :class:`AutologWarning` s.

    Example::

        assay.autolog(registered_model_name="churn")
        pipeline.fit(X, y)            # run "Pipeline" and model version churn/N
        assay.autolog(disable=True)
    """
    global _settings
    with _lock:
        if disable:
            _settings = replace(_settings, enabled=False)
            _unpatch_all()
            return
        if not isinstance(project, str) or not project or len(project) > 255:
            raise InvalidInputError(
                f"The 'project' parameter of autolog must be a non-empty string of at most 255 characters. "
                f"Got {project!r}."
            )
        if isinstance(max_metric_rows, bool) or not isinstance(max_metric_rows, int) or max_metric_rows < 1:
            raise InvalidInputError(
                f"The 'max_metric_rows' parameter of autolog must be a positive integer. Got {max_metric_rows!r}."
            )
        if registered_model_name is not None:
            from assay.registry.registry import _check_name

            _check_name(registered_model_name)
        settings = _Settings(
            enabled=True,
            log_models=bool(log_models),
            registered_model_name=registered_model_name,
            log_input_examples=bool(log_input_examples),
            project=project,
            silent=bool(silent),
            max_metric_rows=max_metric_rows,
        )
        _patch_all(settings)
        _settings = settings


# -- patching --------------------------------------------------------------------------------------


@functools.cache
def _sklearn_classes() -> tuple[type, ...]:
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline

    classes: list[type] = [Pipeline, GridSearchCV, RandomizedSearchCV]
    try:
        from sklearn.model_selection import _search_successive_halving as halving

        classes += [halving.HalvingGridSearchCV, halving.HalvingRandomSearchCV]
    except ImportError:  # pragma: no cover - moved in some future release
        pass
    try:
        from sklearn.utils import all_estimators

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            classes += [cls for _, cls in all_estimators()]
    except Exception:  # pragma: no cover - an optional sklearn dependency failing to import
        pass
    return tuple(classes)


def _lightgbm() -> Any:
    try:
        import lightgbm
    except Exception:  # ImportError, or OSError when libgomp is missing
        return None
    return lightgbm


def _patch_targets() -> list[tuple[Any, str, str]]:
    """``(owner, attribute, kind)`` for every plain ``fit``-like function defined by a library class."""
    lgb = _lightgbm()
    classes = list(_sklearn_classes())
    if lgb is not None:
        classes += [lgb.LGBMClassifier, lgb.LGBMRegressor, lgb.LGBMRanker]
    targets: dict[tuple[Any, str], str] = {}
    for cls in classes:
        for klass in cls.__mro__:
            if not (getattr(klass, "__module__", "") or "").startswith(_LIBRARY_PREFIXES):
                continue
            for name in _FIT_METHODS:
                if inspect.isfunction(vars(klass).get(name)):  # not available_if descriptors / properties
                    targets[(klass, name)] = "method"
    from sklearn import model_selection
    from sklearn.model_selection import _validation

    for module in (model_selection, _validation):
        for name in _QUIET_FUNCTIONS:
            if inspect.isfunction(vars(module).get(name)):
                targets[(module, name)] = "quiet"
    if lgb is not None:
        targets[(lgb, "train")] = "lgb_train"
        targets[(lgb.engine, "train")] = "lgb_train"
    return [(owner, name, kind) for (owner, name), kind in targets.items()]


def _patch_all(settings: _Settings) -> None:
    originals: dict[int, Callable[..., Any]] = {}  # one wrapper per original (lightgbm.train == engine.train)
    for owner, name, kind in _patch_targets():
        if (owner, name) in _patches:
            continue
        original = vars(owner).get(name)
        if original is None:
            continue
        wrapper = originals.get(id(original))
        if wrapper is None:
            wrapper = {"method": _wrap_method, "lgb_train": _wrap_lgb_train, "quiet": _wrap_quiet}[kind](original)
            originals[id(original)] = wrapper
        try:
            setattr(owner, name, wrapper)
        except (AttributeError, TypeError) as exc:  # pragma: no cover - immutable type
            _warn(settings, f"cannot patch {getattr(owner, '__name__', owner)}.{name}: {exc}")
            continue
        _patches[(owner, name)] = (original, wrapper)


def _unpatch_all() -> None:
    for (owner, name), (original, wrapper) in list(_patches.items()):
        if vars(owner).get(name) is wrapper:  # someone re-wrapped it since: leave theirs; ours passes through
            setattr(owner, name, original)
    _patches.clear()


def _wrap_method(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not _settings.enabled or getattr(_local, "depth", 0):
            return original(self, *args, **kwargs)
        return _guarded(_logged_estimator_fit, original, self, args, kwargs)

    return fit


def _wrap_lgb_train(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def train(*args: Any, **kwargs: Any) -> Any:
        if not _settings.enabled or getattr(_local, "depth", 0):
            return original(*args, **kwargs)
        return _guarded(_logged_lgb_train, original, None, args, kwargs)

    return train


def _wrap_quiet(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def quiet(*args: Any, **kwargs: Any) -> Any:
        _local.depth = getattr(_local, "depth", 0) + 1
        try:
            return original(*args, **kwargs)
        finally:
            _local.depth -= 1

    return quiet


def _guarded(logged: Callable[..., Any], original: Callable[..., Any], *rest: Any) -> Any:
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        return logged(_settings, original, *rest)
    finally:
        _local.depth -= 1


# -- one logged call -------------------------------------------------------------------------------


class _Session:
    """The run one outermost fit logs into, and the guard that turns logging failures into warnings."""

    def __init__(self, run: Run, owned: bool, settings: _Settings, label: str) -> None:
        self.run = run
        self.owned = owned
        self.settings = settings
        self.label = label

    @classmethod
    def start(cls, settings: _Settings, label: str, flavor: str, target: str) -> _Session | None:
        from assay.tracking import fluent

        tags = {"autolog.flavor": flavor, "autolog.estimator": target}
        try:
            try:
                run: Run | None = fluent.active_run()
            except StateError:
                run = None
            if run is not None and run._active:
                run.set_tags(tags)
                return cls(run, False, settings, label)
            run = fluent.get_client().start_run(settings.project, label, tags)
            return cls(run, True, settings, label)
        except Exception as exc:
            _warn(settings, f"could not start a run for {label} ({type(exc).__name__}: {exc}); fit runs unlogged")
            return None

    def guard(self, what: str, fn: Callable[[], list[str] | None]) -> None:
        """Run one logging step; its failure (or the problems it returns) becomes a warning."""
        try:
            problems = fn() or []
        except Exception as exc:
            problems = [f"{type(exc).__name__}: {exc}"]
        for problem in problems:
            _warn(self.settings, f"could not log {what} of {self.label} in run {self.run.id}: {problem}")

    def log_params(self, params: dict[str, Any]) -> list[str]:
        text = {k: _param_text(v) for k, v in params.items() if isinstance(k, str) and 0 < len(k) <= 255}
        try:
            self.run.log_params(text)
        except ConflictError:  # a second estimator fitted in the same user run: keep what can be kept
            clashes = []
            for key, value in text.items():
                try:
                    self.run.log_params({key: value})
                except ConflictError:
                    clashes.append(key)
            return [f"params {clashes} were already logged in this run with other values; kept the first ones"]
        return []

    def log_history(self, evals: dict[str, dict[str, list[float]]]) -> None:
        for data_name, by_metric in evals.items():
            for metric, values in by_metric.items():
                key = f"{data_name}.{metric}"
                for step, value in enumerate(values):
                    self.run.log_metric(key, value, step=step)

    def log_model(self, model: Any, input_example: Any) -> None:
        client = self.run._client
        path = "model" if self.owned else _free_model_path(client, self.run.id)
        name = self.settings.registered_model_name
        if name is not None:
            self.run.flush()
            client.registry.log_model(self.run.id, model, name, input_example=input_example, artifact_path=path)
        else:
            client.registry.save_to_run(self.run.id, model, input_example=input_example, artifact_path=path)
        self.run.set_tags({"autolog.model_uri": f"runs:/{self.run.id}/{path}"})

    def finish(self, exc: BaseException | None = None) -> None:
        if not self.owned:
            return
        status = "finished" if exc is None else "killed" if isinstance(exc, KeyboardInterrupt) else "failed"
        try:
            self.run.end(status)
        except Exception as err:
            _warn(self.settings, f"could not end run {self.run.id} as {status}: {type(err).__name__}: {err}")


def _logged_estimator_fit(
    settings: _Settings, original: Callable[..., Any], estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    cls = type(estimator)
    flavor = "lightgbm" if cls.__module__.startswith("lightgbm") else "sklearn"
    session = _Session.start(settings, cls.__name__, flavor, f"{cls.__module__}.{cls.__qualname__}")
    if session is None:
        return original(estimator, *args, **kwargs)
    session.guard("params", lambda: session.log_params(estimator.get_params(deep=True)))
    try:
        result = original(estimator, *args, **kwargs)
    except BaseException as exc:
        session.finish(exc)
        raise
    session.guard("the fit's results", lambda: _log_fit_results(session, original, estimator, args, kwargs))
    session.finish()
    return result


def _log_fit_results(
    session: _Session, original: Callable[..., Any], estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    X, y, sample_weight = _fit_data(original, estimator, args, kwargs)
    session.guard("training metrics", lambda: _log_training_metrics(session, estimator, X, y, sample_weight))
    if isinstance(getattr(estimator, "cv_results_", None), dict):  # a search CV (RidgeCV's is an array)
        session.guard("search results", lambda: _log_search_results(session, estimator))
    evals = getattr(estimator, "evals_result_", None) if type(estimator).__module__.startswith("lightgbm") else None
    if evals:
        session.guard("evaluation history", lambda: session.log_history(evals))
    if session.settings.log_models:
        example = _input_example(session.settings, X)
        session.guard("the model", lambda: session.log_model(estimator, example))


def _logged_lgb_train(
    settings: _Settings, original: Callable[..., Any], _: None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    try:
        bound = _signature(original).bind(*args, **kwargs)
    except TypeError:
        return original(*args, **kwargs)  # let lightgbm report the bad call
    session = _Session.start(settings, "lightgbm.train", "lightgbm", "lightgbm.train")
    if session is None:
        return original(*args, **kwargs)
    arguments = bound.arguments
    evals: dict[str, dict[str, list[float]]] = {}
    example = None

    def params() -> dict[str, Any]:
        logged = dict(arguments.get("params") or {})
        if not _LGB_ROUND_ALIASES & set(logged):
            logged["num_boost_round"] = arguments.get("num_boost_round", 100)
        return logged

    def prepare() -> None:
        nonlocal example
        # the training frame is read now: lightgbm frees it while training (free_raw_data)
        example = _input_example(settings, getattr(arguments.get("train_set"), "data", None))
        arguments["callbacks"] = [*(arguments.get("callbacks") or []), _lightgbm().record_evaluation(evals)]

    session.guard("params", lambda: session.log_params(params()))
    session.guard("evaluation history", prepare)
    try:
        booster = original(*bound.args, **bound.kwargs)
    except BaseException as exc:
        session.finish(exc)
        raise
    session.guard("evaluation history", lambda: session.log_history(evals))
    best = getattr(booster, "best_iteration", 0)
    if isinstance(best, int) and best > 0:
        session.guard("best iteration", lambda: session.run.log_metric("best_iteration", best))
    if settings.log_models:
        session.guard("the model", lambda: session.log_model(booster, example))
    session.finish()
    return booster


# -- what gets logged ------------------------------------------------------------------------------


def _log_training_metrics(session: _Session, estimator: Any, X: Any, y: Any, sample_weight: Any) -> list[str]:
    from sklearn import config_context
    from sklearn.base import is_classifier, is_regressor

    classifier, regressor = is_classifier(estimator), is_regressor(estimator)
    if X is None or y is None or not (classifier or regressor) or not hasattr(estimator, "predict"):
        return []
    n = _num_rows(X)
    limit = session.settings.max_metric_rows
    if n is not None and n > limit:
        rows = np.sort(np.random.default_rng(0).choice(n, size=limit, replace=False))
        X, y = _take(X, rows), _take(y, rows)
        sample_weight = None if sample_weight is None else np.asarray(sample_weight)[rows]
        session.run.set_tags({"autolog.metrics_sample": f"{limit} of {n} training rows (seeded random sample)"})
    compute = classifier_metrics if classifier else regressor_metrics
    with config_context(skip_parameter_validation=True):  # thread-local; halves the metrics' cost
        metrics, problems = compute(estimator, X, y, sample_weight)
    if metrics:
        session.run.log_metrics(metrics)
    return problems


def _log_search_results(session: _Session, search: Any) -> list[str]:
    problems: list[str] = []
    best_params = getattr(search, "best_params_", None)
    if isinstance(best_params, dict):
        problems += session.log_params({f"best_{k}": v for k, v in best_params.items()})
    best_score = getattr(search, "best_score_", None)
    if best_score is not None:
        session.run.log_metric("best_cv_score", float(best_score))
    with tempfile.TemporaryDirectory(prefix="assay-autolog-") as tmp:
        path = Path(tmp) / "cv_results.csv"
        pd.DataFrame(search.cv_results_).to_csv(path, index=False)
        session.run.log_artifact(path, "cv_results.csv")
    return problems


def _param_text(value: Any) -> Any:
    """A param as the client stores it, with estimator objects as their class names, capped in length."""
    if value is None or isinstance(value, bool | int | float | str):
        text = value
    elif isinstance(value, np.generic):
        text = value.item()
    else:
        text = str(_plain(value))
    if isinstance(text, str) and len(text) > MAX_PARAM_CHARS:
        text = text[: MAX_PARAM_CHARS - 3] + "..."
    return text


def _plain(value: Any) -> Any:
    if hasattr(value, "get_params") and hasattr(value, "fit") and not isinstance(value, type):
        return type(value).__name__
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, type) or inspect.isroutine(value):
        return getattr(value, "__qualname__", repr(value))
    return value


# -- small helpers ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(fn)


def _fit_data(
    original: Callable[..., Any], estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, Any, Any]:
    """``(X, y, sample_weight)`` of a fit call, whatever the method names its first parameter."""
    try:
        sig = _signature(original)
        arguments = sig.bind(estimator, *args, **kwargs).arguments
    except (TypeError, ValueError):
        return None, None, None
    names = list(sig.parameters)
    X = arguments.get(names[1]) if len(names) > 1 else None
    y = arguments.get("y", arguments.get("Y"))
    return X, y, arguments.get("sample_weight")


def _input_example(settings: _Settings, X: Any) -> pd.DataFrame | None:
    return X.iloc[:5].copy() if settings.log_input_examples and isinstance(X, pd.DataFrame) else None


def _num_rows(data: Any) -> int | None:
    shape = getattr(data, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    try:
        return len(data)
    except TypeError:
        return None


def _take(data: Any, rows: np.ndarray) -> Any:
    if hasattr(data, "iloc"):
        return data.iloc[rows]
    if isinstance(data, list | tuple):
        return [data[i] for i in rows]
    if hasattr(data, "tocsr"):
        return data.tocsr()[rows]
    return data[rows]


def _free_model_path(client: Any, run_id: str) -> str:
    taken = {a["path"].split("/", 1)[0] for a in client.list_artifacts(run_id)}
    if "model" not in taken:
        return "model"
    n = 2
    while f"model-{n}" in taken:
        n += 1
    return f"model-{n}"


def _warn(settings: _Settings, message: str) -> None:
    if settings.silent:
        return
    frame, level = sys._getframe(1), 2  # point the warning at the user's fit call, outside this module
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    with contextlib.suppress(Exception):  # warnings turned into errors must still not break the user's fit
        warnings.warn(f"assay.autolog: {message}", AutologWarning, stacklevel=level)
