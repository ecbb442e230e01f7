"""Several processes logging to one store at once, and a process killed mid-logging."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import text

from assay.tracking.client import Client

WORKER = textwrap.dedent(
    """
    import sys
    from assay.tracking.client import Client

    store, artifacts, worker, points = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    client = Client(store_url=store, artifacts_url=artifacts)
    with client.start_run(project="load", name=f"worker-{worker}", tags={"worker": worker}) as run:
        run.log_params({"worker": worker, "points": points})
        for step in range(points):
            run.log_metric("loss", worker + step / points, step=step)
            run.log_metric("acc", step / points, step=step)
            if step % 500 == 0:
                run.flush()
        run.set_tags({"done": "yes"})
    client.close()
    print("ok", run.id)
    """
)

KILLED = textwrap.dedent(
    """
    import sys, time
    from assay.tracking.client import Client

    client = Client(store_url=sys.argv[1], artifacts_url=sys.argv[2])
    run = client.start_run(project="crash", name="doomed")
    print("run", run.id, flush=True)
    step = 0
    while True:
        for _ in range(1000):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
            step += 1
        run.flush()
        print("flushed", step, flush=True)
    """
)


def _spawn(script: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, str(script), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


@pytest.mark.slow
def test_eight_processes_log_concurrently(store_url: str, tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    artifacts = str(tmp_path / "artifacts")
    points = 3000
    procs = [_spawn(script, store_url, artifacts, str(w), str(points)) for w in range(8)]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err.lower(), err
        assert out.startswith("ok")
    client = Client(store_url=store_url, artifacts_url=artifacts, home=tmp_path / "home")
    runs = client.search_runs(project="load", order_by=["params.worker"])
    assert len(runs) == 8
    assert set(runs["status"]) == {"finished"}
    assert set(runs["tags.done"]) == {"yes"}
    for run_id in runs["run_id"]:
        for key in ("loss", "acc"):
            hist = client.get_run(run_id).metric_history(key)
            assert list(hist["step"]) == list(range(points)), f"{run_id} {key} lost points"
    client.close()


@pytest.mark.slow
def test_sigkill_mid_logging_leaves_readable_store(store_url: str, tmp_path: Path) -> None:
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    proc = _spawn(script, store_url, str(tmp_path / "artifacts"))
    assert proc.stdout is not None
    run_id = proc.stdout.readline().split()[1]
    flushed = 0
    while flushed < 5000:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "worker died"
        flushed = int(line.split()[1])
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    if proc.stderr:
        proc.stderr.close()

    client = Client(store_url=store_url, artifacts_url=str(tmp_path / "artifacts"), home=tmp_path / "home")
    if client.db.dialect == "sqlite":
        with client.db.read() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    run = client.get_run(run_id)
    assert run.status == "running"  # nobody could mark it; the next step does
    hist = run.metric_history("loss")
    assert len(hist) >= flushed
    assert list(hist["step"]) == list(range(len(hist))), "what was flushed is intact and in order"
    client.set_terminated(run_id, "failed")
    assert client.get_run(run_id).status == "failed"
    client.close()
