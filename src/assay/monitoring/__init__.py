"""Monitoring: data drift, performance with delayed labels, label-free estimates, monitors, alerts, incidents.

Example::

    from assay import monitoring
    rep = monitoring.drift(reference_df, current_df)     # rep.columns[i].statistic/.p_value/.drifted, rep.share_drifted
    perf = monitoring.performance("predictions.parquet", "labels.parquet", window="1d")
    est = monitoring.estimate_performance("predictions.parquet", reference="validation.parquet")
    monitoring.create_monitor("churn-monitor.yaml")
    monitoring.run_monitor("churn-prod")                 # one window, idempotent; alerts, incidents, retraining
"""

from assay.monitoring import incidents
from assay.monitoring.alerts import Retrain, Rule
from assay.monitoring.definition import MonitorSpec
from assay.monitoring.drift import ColumnDrift, DriftReport, drift, prediction_drift, target_drift
from assay.monitoring.estimate import EstimatedWindow, PerformanceEstimate, estimate_performance
from assay.monitoring.monitors import (
    MonitorRunResult,
    create_monitor,
    get_monitor,
    list_monitors,
    monitor_runs,
    run_monitor,
)
from assay.monitoring.performance import (
    CalibrationBin,
    MetricValue,
    PerformanceReport,
    WindowPerformance,
    performance,
)

__all__ = [
    "CalibrationBin",
    "ColumnDrift",
    "DriftReport",
    "EstimatedWindow",
    "MetricValue",
    "MonitorRunResult",
    "MonitorSpec",
    "PerformanceEstimate",
    "PerformanceReport",
    "Retrain",
    "Rule",
    "WindowPerformance",
    "create_monitor",
    "drift",
    "estimate_performance",
    "get_monitor",
    "incidents",
    "list_monitors",
    "monitor_runs",
    "performance",
    "prediction_drift",
    "run_monitor",
    "target_drift",
]
