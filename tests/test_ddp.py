"""scripts/train_ddp.py under `torchrun --nproc_per_node 2` on CPU (gloo), at tiny scale on the sample data.

The run is pinned to the CPU with COURSE_DEVICE=cpu (helpers.runtime_args then sets use_cpu=True and the script
picks gloo), also on a machine with a GPU: two processes on one CUDA device would fail in NCCL, and a CPU-only CI
machine and a one-GPU workstation then run the same test.

One real two-process run (about a minute and a half on a busy 2-core machine) checks that both ranks trained,
that the loss went down, that only rank 0 saved a model and recorded a result, and that nothing but the
launcher's banner reached stderr. A second, fast test checks that bad input exits non-zero with a message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "train_ddp.py"
WORLD_SIZE = 2
BATCH_SIZE = 8  # per process: 64 tiny pairs / (2 x 8) = 4 steps per epoch
EPOCHS = 2
TIMEOUT_SECONDS = 600  # generous: the machine running the tests may be shared; a healthy run takes ~1.5 min

# torchrun's own notice when it sets OMP_NUM_THREADS for its workers (the test sets it, so it should not appear).
TORCHRUN_BANNER = (
    "*****************************************",
    "Setting OMP_NUM_THREADS environment variable for each process",
)


def course_env(output_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "ACCELERATE_"))}
    env.update(
        HF_HUB_OFFLINE="1", COURSE_OUTPUT_DIR=str(output_dir), COURSE_SCALE="tiny", COURSE_SOURCE="sample",
        COURSE_DEVICE="cpu",  # gloo on the CPU, also where there is one GPU (NCCL needs a GPU per process)
        OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", PYTHONHASHSEED="0",
    )
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)  # the launcher under test sets these
    return env


def real_stderr(text: str) -> list[str]:
    """stderr lines that are not torchrun's banner."""
    return [line for line in text.splitlines() if line.strip() and not line.startswith(TORCHRUN_BANNER)]


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    output_dir = tmp_path_factory.mktemp("ddp") / "outputs"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(WORLD_SIZE),
        "--standalone",  # one machine, rendezvous on a free local port: parallel test runs do not clash
        str(SCRIPT), "--batch-size", str(BATCH_SIZE), "--epochs", str(EPOCHS),
    ]
    try:
        result = subprocess.run(
            command, cwd=ROOT, env=course_env(output_dir), capture_output=True, text=True, timeout=TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"torchrun did not finish in {TIMEOUT_SECONDS} s:\n{err.stdout}\n{err.stderr}")
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
    )
    return result, output_dir


def rank_log(output_dir: Path, rank: int) -> dict:
    path = output_dir / "runs" / "ddp-mnrl" / f"rank-{rank}.json"
    assert path.is_file(), f"rank {rank} wrote no log at {path}"
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_rank_trained(ddp_run):
    _, output_dir = ddp_run
    logs = [rank_log(output_dir, rank) for rank in range(WORLD_SIZE)]
    assert sorted(log["rank"] for log in logs) == list(range(WORLD_SIZE))
    for log in logs:
        assert log["world_size"] == WORLD_SIZE
        assert log["steps"] > 0
        assert log["steps"] == logs[0]["steps"], "DDP ranks step together"
        assert len(log["local_losses"]) == log["steps"], "one forward of the loss per step on every rank"
    # Each rank trained on its own shard of every batch: its own loss values differ from the other rank's.
    assert logs[0]["local_losses"] != logs[1]["local_losses"]
    # The logged loss is the mean over the ranks: the mean of the ranks' own losses, step by step.
    for step, logged in enumerate(logs[0]["logged_losses"]):
        mean = sum(log["local_losses"][step] for log in logs) / WORLD_SIZE
        assert logged == pytest.approx(mean, rel=1e-4, abs=1e-7)


def test_loss_went_down(ddp_run):
    """Mean logged loss of the last epoch below that of the first. Every epoch covers the same pairs, so an epoch's
    mean is a fair, whole-training-set number; single steps are too noisy (MiniLM starts near zero loss)."""
    _, output_dir = ddp_run
    log = rank_log(output_dir, 0)
    losses = log["logged_losses"]
    per_epoch = len(losses) // EPOCHS
    assert per_epoch >= 2 and len(losses) == per_epoch * EPOCHS, f"unexpected logging: {losses}"
    first = sum(losses[:per_epoch]) / per_epoch
    last = sum(losses[-per_epoch:]) / per_epoch
    assert last < first, f"mean loss first epoch {first:.4f}, last epoch {last:.4f}: {losses}"


def test_only_rank_zero_saved_and_recorded(ddp_run):
    _, output_dir = ddp_run
    models = [p for p in (output_dir / "models").iterdir() if p.is_dir()]
    assert [p.name for p in models] == ["ddp-mnrl"]
    assert (models[0] / "modules.json").is_file() and (models[0] / "model.safetensors").is_file()
    rows = [
        json.loads(line)
        for path in (output_dir / "results").glob("*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["notebook"] == "ddp" and row["method"] == f"MNRL (DDP, {WORLD_SIZE} processes)"
    assert (row["scale"], row["source"], row["metric"]) == ("tiny", "sample", "spearman")
    assert row["world_size"] == WORLD_SIZE and row["effective_batch_size"] == WORLD_SIZE * BATCH_SIZE
    assert -1.0 <= row["value"] <= 1.0 and -1.0 <= row["baseline"] <= 1.0
    assert row["train_seconds"] > 0
    # The memory figure says what it measured: on the CPU, rank 0's peak host RSS (a MiniLM-sized process > 100 MB).
    assert row["memory_kind"] == "rss" and row["peak_memory_mb"] > 100, row
    assert "peak_rss_mb_rank0" not in row


def test_stderr_is_clean(ddp_run):
    result, _ = ddp_run
    noise = real_stderr(result.stderr)
    assert not noise, "stderr:\n" + "\n".join(noise)


def test_bad_input_exits_with_a_message(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--batch-size", "0"],
        cwd=ROOT, env=course_env(tmp_path), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "--batch-size must be at least 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_device_is_stated(ddp_run):
    result, _ = ddp_run
    assert "[train_ddp] on cpu: 2 process(es)" in result.stdout, result.stdout[-2000:]
