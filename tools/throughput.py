"""`python -m tools throughput`: steady-state training speed of the book's recipes, set beside the book's T4 figures.

The book's chapter-10 notebook (`../shared/seeds/002_…`) logged `train_samples_per_second` on a Colab T4 (fp16,
sentence-transformers 3.1.1, start-up included, 1,563 steps at batch 32 unless noted). This tool trains the same
recipes, at their shapes (model size, loss, columns, batch), through `SentenceTransformerTrainer` with the course's
run-time arguments (`helpers.runtime_args`), and times the steady state only: the clock starts after `--warmup`
optimiser steps (start-up, allocator and kernel warm-up excluded) and stops after `--steps` more. Each row reports
samples/s and the run's peak memory (`helpers.measure`: CUDA memory above what was allocated before, on a GPU).

Precisions: `fp32` (TF32 off), `tf32` (fp32 storage, TF32 tensor-core matmuls: the trainer's `tf32=True`, Ampere or
newer), `bf16` (the trainer's `bf16=True`), `fp16` on request. Where a precision is not available (TF32 on a CPU or a
pre-Ampere GPU, bf16 on a T4), the row says so and is not run. The course itself keeps its own precision setting
(`scale.precision`); this tool only measures.

At `--scale tiny` (CPU, the tests) it uses the scale's own small models, 4-row batches and a handful of steps, so that
the table cannot rot; at `quick`/`full` the bert-base recipes use an encoder of bert-base's shape with random weights
(speed depends on the shape, not the values; no download), all-MiniLM-L6-v2 its real weights.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BOOK = "the book's T4 (seed 002, fp16, start-up included)"


@dataclass(frozen=True)
class Recipe:
    key: str
    title: str
    model: str  # "bert-base" or "minilm"
    batch: int
    book_t4: float  # the book's train_samples_per_second on a T4
    pooling: str = "mean"


RECIPES = {r.key: r for r in (
    Recipe("softmax", "SoftmaxLoss, NLI pairs + 3 labels", "bert-base", 32, 661),
    Recipe("cosine", "CosineSimilarityLoss, NLI pairs + 0/1 score", "bert-base", 32, 651),
    Recipe("mnrl", "MNRL, (anchor, positive, negative) triplets", "bert-base", 32, 511),
    Recipe("augsbert", "Augmented SBERT bi-encoder: CosineSimilarityLoss, gold + silver pairs", "bert-base", 32, 648),
    Recipe("tsdae", "TSDAE: DenoisingAutoEncoderLoss (tied decoder), CLS pooling", "bert-base", 16, 280, "cls"),
    Recipe("minilm", "all-MiniLM-L6-v2 fine-tuned: MNRL on (premise, hypothesis) pairs", "minilm", 32, 1890),
)}
PRECISIONS = ("fp32", "tf32", "bf16", "fp16")


@dataclass
class Row:
    recipe: str
    model: str
    batch: int
    precision: str
    workers: int
    steps: int
    samples_per_second: float | None  # None: not run (see note)
    peak_mb: float | None
    memory: str  # "peak CUDA memory" or "peak host RSS" (helpers.measure's label)
    book_t4: float
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return None if self.samples_per_second is None else self.samples_per_second / self.book_t4


def _repeat(rows: dict[str, list[Any]], n: int) -> dict[str, list[Any]]:
    """The columns cycled to exactly n rows (a steady-state run needs more rows than a small split has)."""
    size = len(next(iter(rows.values())))
    if size == 0:
        from helpers.profiles import CourseError

        raise CourseError("throughput: the training data is empty")
    return {k: [v[i % size] for i in range(n)] for k, v in rows.items()}


def recipe_data(recipe: Recipe, n: int, seed: int) -> Any:
    """The recipe's training columns, from MNLI train as the notebooks map it, cycled to n rows."""
    from datasets import Dataset

    import helpers
    from helpers import mapping

    nli = helpers.load_data("nyu-mll/glue", "mnli", "train")
    if recipe.key == "softmax":
        data = mapping.clean_nli(nli).select_columns(["premise", "hypothesis", "label"])
    elif recipe.key in ("cosine", "augsbert"):
        data = mapping.nli_to_similarity(nli)
    elif recipe.key == "mnrl":
        data = mapping.entailment_triplets(nli, seed=seed)
    elif recipe.key == "minilm":
        data = mapping.clean_nli(nli).select_columns(["premise", "hypothesis"])  # the book's pairs, every label
    else:  # tsdae
        data = mapping.denoising_pairs(mapping.flatten_sentences(nli, ["premise", "hypothesis"]), seed=seed)
    return Dataset.from_dict(_repeat(data.to_dict(), n))


def _bert_base_shape(folder: Path, tokenizer_from: str) -> Path:
    """An encoder of bert-base-uncased's shape (BertConfig's defaults: 12 layers, 768 wide) with random weights,
    saved with a BERT uncased tokenizer (30,522 word pieces, as bert-base-uncased's)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    if not (folder / "config.json").exists():
        torch.manual_seed(0)
        BertModel(BertConfig()).save_pretrained(str(folder))
        AutoTokenizer.from_pretrained(tokenizer_from).save_pretrained(str(folder))
    return folder


def build(recipe: Recipe, scale: Any, workdir: Path) -> tuple[Any, Any, str]:
    """(model, loss, what the model is) for one recipe, on the course's device."""
    from sentence_transformers.sentence_transformer import losses

    import helpers

    tiny = scale.name == "tiny"
    if recipe.model == "minilm":
        model = helpers.load_sentence_model(scale.sentence_model, scale.max_seq_length if tiny else None)
        what = f"{scale.sentence_model}" + (" (tiny)" if tiny else "")
    else:
        path = helpers.model_location(scale.base_model)
        if tiny:
            what = f"{scale.base_model} (tiny stand-in for bert-base)"
        else:
            path = str(_bert_base_shape(workdir / "bert-base-shape", path))
            what = "bert-base shape (random weights)"
        model = helpers.build_encoder(path, recipe.pooling, max_seq_length=scale.max_seq_length if tiny else None)
    if recipe.key == "softmax":
        loss = losses.SoftmaxLoss(model, embedding_dimension=model.get_embedding_dimension(), num_labels=3)
    elif recipe.key in ("cosine", "augsbert"):
        loss = losses.CosineSimilarityLoss(model)
    elif recipe.key == "tsdae":
        # The decoder is loaded on the CPU and tied to the encoder: the trainer moves the loss (prepare_loss).
        loss = losses.DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True)
    else:
        loss = losses.MultipleNegativesRankingLoss(model)
    return model, loss, what


def available(precision: str) -> str:
    """'' when the precision can run here, else why not."""
    import torch

    from helpers.models import device

    on = device()
    if precision == "tf32":
        from transformers.utils import is_torch_tf32_available

        return "" if on == "cuda" and is_torch_tf32_available() else f"no TF32 on {on} (needs an Ampere or newer GPU)"
    if precision == "bf16":
        return "" if on == "cpu" or (on == "cuda" and torch.cuda.is_bf16_supported()) else f"no bf16 on this {on}"
    if precision == "fp16":
        return "" if on == "cuda" else f"fp16 training needs a CUDA GPU, not {on}"
    return ""


def precision_args(precision: str) -> dict[str, bool]:
    """Trainer flags for one precision. TF32 is set explicitly (on or off) wherever the hardware has it, so one
    row's setting never leaks into the next."""
    from transformers.utils import is_torch_tf32_available

    import helpers

    flags: dict[str, bool] = {"fp16": precision == "fp16", "bf16": precision == "bf16"}
    if helpers.device() == "cuda" and is_torch_tf32_available():
        flags["tf32"] = precision == "tf32"
    return flags


def run_one(recipe: Recipe, precision: str, workers: int, steps: int, warmup: int, profile: Any,
            workdir: Path) -> Row:
    """Train one recipe for warmup + steps optimiser steps and time the last `steps`."""
    import torch
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from transformers import PrinterCallback, TrainerCallback

    import helpers

    scale = profile.scale
    batch = 4 if scale.name == "tiny" else recipe.batch
    why_not = available(precision)
    memory = helpers.training.MEMORY_LABELS["cuda" if helpers.device() == "cuda" else "rss"]
    if why_not:
        return Row(recipe.key, "", batch, precision, workers, 0, None, None, memory, recipe.book_t4, why_not)
    on_cuda = helpers.device() == "cuda"

    class SteadyClock(TrainerCallback):
        def __init__(self) -> None:
            self.start = self.stop = 0.0

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step in (warmup, warmup + steps):
                if on_cuda:
                    torch.cuda.synchronize()  # GPU work is asynchronous: wait before reading the clock
                if state.global_step == warmup:
                    self.start = time.perf_counter()
                else:
                    self.stop = time.perf_counter()

    run_name = f"throughput-{recipe.key}-{precision}-w{workers}"
    data = recipe_data(recipe, batch * (warmup + steps), profile.seed)
    clock = SteadyClock()
    with helpers.measure() as m:
        model, loss, what = build(recipe, scale, workdir)
        runtime = helpers.runtime_args(profile, run_name)
        for key in ("fp16", "bf16", "tf32", "dataloader_num_workers"):
            runtime.pop(key, None)
        args = SentenceTransformerTrainingArguments(
            per_device_train_batch_size=batch, max_steps=warmup + steps, learning_rate=5e-5,
            logging_steps=10**6, dataloader_drop_last=True, dataloader_num_workers=workers,
            **precision_args(precision), **{**runtime, "disable_tqdm": True},
        )
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=loss, callbacks=[clock])
        trainer.remove_callback(PrinterCallback)  # the trainer's own end-of-run summary times the start-up too
        trainer.train()
    seconds = clock.stop - clock.start
    rate = steps * batch / seconds if seconds > 0 else None
    del trainer, model, loss
    gc.collect()
    if on_cuda:
        torch.cuda.empty_cache()
    return Row(recipe.key, what, batch, precision, workers, steps, rate, m.peak_mb, m.memory_label, recipe.book_t4)


def to_markdown(rows: list[Row], machine: str, steps: int, warmup: int) -> str:
    """The table: one row per (recipe, precision, workers), each beside the book's T4 figure."""
    lines = [
        f"Measured on: {machine}. Steady state: {steps} optimiser steps timed after {warmup} warm-up steps.",
        "",
        "| recipe | model | batch | precision | workers | samples/s | peak memory (MB) | book T4 samples/s | × T4 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.samples_per_second is None:
            speed, peak, ratio = f"not run: {r.note}", "", ""
        else:
            speed = f"{r.samples_per_second:,.0f}" if r.samples_per_second >= 10 else f"{r.samples_per_second:.2f}"
            peak = f"{r.peak_mb:,.0f} ({r.memory})" if r.peak_mb is not None else ""
            ratio = f"{r.ratio:.2f}"
        lines.append(f"| {RECIPES[r.recipe].title} | {r.model} | {r.batch} | {r.precision} | {r.workers} | {speed} | "
                     f"{peak} | {r.book_t4:,.0f} | {ratio} |")
    lines += ["", f"Book T4 figures: {BOOK}. Goals: at least 1× the T4 on any GPU, at least 3× on an H200."]
    if any("(tiny" in r.model for r in rows):
        lines.append("At tiny: small stand-in models, 4-row batches and a few steps, to check the tool, not to "
                     "measure speed.")
    return "\n".join(lines) + "\n"


def machine_line() -> str:
    import os
    import platform

    import torch

    from helpers.models import device_name

    versions = f"torch {torch.__version__}"
    try:
        from importlib import metadata

        versions += ", " + ", ".join(f"{p} {metadata.version(p)}" for p in ("sentence-transformers", "transformers"))
    except Exception:  # versions are informative only
        pass
    return f"{platform.machine()}, {os.cpu_count()} cores, device {device_name()}; {versions}"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools throughput", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    p.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=["fp32", "tf32", "bf16"])
    p.add_argument("--workers", nargs="+", type=int, default=[0, 4], help="dataloader workers (default: 0 4)")
    p.add_argument("--steps", type=int, help="timed optimiser steps (default: 1000; 3 at tiny)")
    p.add_argument("--warmup", type=int, help="untimed steps first (default: 50; 1 at tiny)")
    p.add_argument("--scale", default=None, help="tiny, quick or full (default: from the environment)")
    p.add_argument("--source", default=None, help="hub, local or sample (default: from the environment)")
    p.add_argument("--write", help="also write the table to this file")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import helpers

    args = parse(argv)
    profile = helpers.setup(args.scale, args.source)
    tiny = profile.scale.name == "tiny"
    steps = args.steps if args.steps is not None else 3 if tiny else 1000
    warmup = args.warmup if args.warmup is not None else 1 if tiny else 50
    if steps < 1 or warmup < 1:
        raise helpers.CourseError("throughput: --steps and --warmup must be at least 1")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.recipes:
            for precision in args.precisions:
                for workers in args.workers:
                    row = run_one(RECIPES[key], precision, workers, steps, warmup, profile, Path(tmp))
                    rows.append(row)
                    speed = "not run" if row.samples_per_second is None else f"{row.samples_per_second:.1f} samples/s"
                    print(f"[throughput] {key} {precision} workers {workers}: {speed} {row.note}", flush=True)
    table = to_markdown(rows, machine_line(), steps, warmup)
    print(table)
    if args.write:
        Path(args.write).write_text(table, encoding="utf-8")
    return 0
