"""Experiments: design (power, MDE), assignment, metric definitions and rigorous A/B analysis.

``assay.experiments.stats`` is the pure statistics core (numpy/scipy only, no I/O)::

    from assay.experiments import stats
    r = stats.ttest(stats.MeanStats(3407, 1396.87, 52377.9767), stats.MeanStats(3461, 2422.7, 134698.29))
    print(r.summary())

Warehouse-native analysis: metrics defined once in a :class:`MetricCatalog`, an :class:`Experiment`
naming its exposures and metrics, :func:`analyze` computing sufficient statistics in SQL where the data
lives, and a :class:`Readout` with the decision::

    from assay.experiments import Experiment, MetricCatalog, Readout, analyze
    catalog = MetricCatalog.from_yaml("metrics.yaml")
    result = analyze(Experiment.from_yaml("checkout.yaml", catalog=catalog),
                     sources={"exposures": "exposures.parquet", "events": "events/"})
    print(Readout.from_result(result).summary())

Results are kept in the metadata store with :func:`save_result` (a variant may point at a registered model
version, linking the model to its measured impact) and read back with :func:`load_experiment`,
:func:`list_experiments` and :func:`experiments_for_model`.
"""

from assay.experiments import assign, stats
from assay.experiments.analysis import analyze, evaluate
from assay.experiments.compile import CompiledExperiment, compile_experiment
from assay.experiments.definition import Cuped, Experiment, Exposures
from assay.experiments.metrics import Metric, MetricCatalog, Window
from assay.experiments.persist import experiments_for_model, list_experiments, load_experiment, save_result
from assay.experiments.readout import Readout
from assay.experiments.results import DataQualityIssue, ExperimentResult, MetricResult

__all__ = [
    "CompiledExperiment",
    "Cuped",
    "DataQualityIssue",
    "Experiment",
    "ExperimentResult",
    "Exposures",
    "Metric",
    "MetricCatalog",
    "MetricResult",
    "Readout",
    "Window",
    "analyze",
    "assign",
    "compile_experiment",
    "evaluate",
    "experiments_for_model",
    "list_experiments",
    "load_experiment",
    "save_result",
    "stats",
]
