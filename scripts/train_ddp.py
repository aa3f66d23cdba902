"""Scaling out: the course's MNRL recipe as a script that runs on one process or on N (DistributedDataParallel).

The recipe is the one the notebooks teach: the base encoder `scale.base_model` with mean pooling, trained on
NLI entailment pairs (anchor, positive) with MultipleNegativesRankingLoss and the NO_DUPLICATES batch sampler,
through `SentenceTransformerTrainer`; the trained model is evaluated on STS-B validation (Spearman, cosine),
with the untrained model's score as the baseline. The script itself contains no distributed code: the trainer
reads the launcher's environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT), starts one process group
(NCCL on GPUs, gloo on CPUs) and wraps the model in DistributedDataParallel. Only the bookkeeping asks "am I
rank 0?": rank 0 measures the baseline, evaluates, saves and records; every rank writes a small log.

Launch (from the repository root; add `--scale`, `--source` or set COURSE_SCALE / COURSE_SOURCE):

    # one process (no DDP): the notebooks' setting
    python scripts/train_ddp.py --scale tiny --source sample

    # N processes on one machine (N GPUs; on a CPU-only machine N processes with the gloo backend)
    torchrun --nproc_per_node 2 scripts/train_ddp.py --scale tiny --source sample

    # a machine with ONE GPU: NCCL needs a GPU per process, so check the script on the CPU (gloo) instead
    COURSE_DEVICE=cpu torchrun --nproc_per_node 2 scripts/train_ddp.py --scale tiny --source sample

    # the same through Accelerate. On GPUs `--num_processes N` is enough. On a CPU-only machine add
    # `--multi_gpu` (it only selects Accelerate's torchrun launcher; the script then picks gloo on CPU), and do
    # NOT pass `--cpu`: `accelerate launch --cpu` runs a single process unless you launch through MPI.
    accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \
        --dynamo_backend no scripts/train_ddp.py --scale tiny --source sample

What changes with N processes:
- Each process gets a different shard of every epoch's batches (Accelerate's BatchSamplerShard), so one optimizer
  step sees N x `--batch-size` pairs: the effective batch is N x the per-device batch, and an epoch has about
  1/N of the steps. Gradients are averaged across processes after every step, so all copies stay identical.
  The learning rate stays the course's whatever N is (change it with --learning-rate).
- MultipleNegativesRankingLoss gathers the embeddings of all processes before scoring
  (`gather_across_devices=True`), so every anchor is ranked against N x `--batch-size` candidates instead of
  `--batch-size`: more in-batch negatives for the same memory per device. The gather keeps
  gradients (torch.distributed.nn.all_gather): on NCCL the backward is a reduce-scatter, on gloo an all-to-all.
- Batches must be full and equally sized on every process for that gather, so the last incomplete batch of each
  epoch is dropped (`dataloader_drop_last=True`): use at least N x `--batch-size` training pairs.
- The logged training loss is the mean over the processes. With more candidates per anchor the task is harder,
  so losses logged with different N are not comparable with each other; compare the STS-B scores.
- Threads: torchrun sets OMP_NUM_THREADS=1 per process when N > 1 (and prints a notice saying so). On a CPU the N
  processes share the same cores: DDP on CPU is for checking a multi-GPU script before paying for GPUs, not for speed.

Outputs (under COURSE_OUTPUT_DIR, default `outputs/`): the model in `models/<run-name>` (or `--output`), one result
row (notebook "ddp") in the results store, and `runs/<run-name>/rank-<r>.json` per process (steps taken, logged
losses, this process's own loss values). Bad input (an unknown scale, fp16 without a GPU, too little data for N
processes) prints one message to stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

try:
    import helpers
except ImportError:  # running from a checkout without `pip install -e .`: the package sits next to scripts/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import helpers

from helpers.profiles import CourseError

RUN_NAME = "ddp-mnrl"
EXIT_BAD_INPUT = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train the course's MNRL recipe on one or N processes (see the module docstring for launch).",
    )
    parser.add_argument("--scale", choices=sorted(helpers.SCALES), default=None,
                        help="run size (default: COURSE_SCALE, else what the source implies)")
    parser.add_argument("--source", choices=("hub", "local", "sample"), default=None,
                        help="where data and models come from (default: COURSE_SOURCE, else what is reachable)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs over the pairs (default: scale.epochs)")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="stop after this many optimizer steps (overrides --epochs)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="pairs per process and step (default: scale.batch_size); effective batch = N x this")
    parser.add_argument("--n-train", type=int, default=None, help="training pairs (default: scale.n_train; 0 = all)")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="peak learning rate (default: the course's 2e-5, warmed up over the first 10%% of steps)")
    parser.add_argument("--precision", choices=("fp32", "fp16", "bf16"), default=None,
                        help="mixed precision; asked for explicitly, it fails where the hardware lacks it "
                        "(default: scale.precision where supported, else fp32)")
    parser.add_argument("--run-name", default=RUN_NAME,
                        help=f"names the model, log and checkpoint folders (default: {RUN_NAME})")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to save the model (default: <COURSE_OUTPUT_DIR>/models/<run-name>)")
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args(argv)


def launcher_rank() -> int:
    """This process's rank as the launcher set it (0 for a plain `python` run); read before the group exists."""
    return int(os.environ.get("RANK", "0"))


def launched_world_size() -> int:
    """How many processes the launcher started (1 for a plain `python` run)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def explicit_precision(flag: str | None) -> str | None:
    """The precision the learner asked for: `--precision`, else `accelerate launch --mixed_precision`."""
    if flag is not None:
        return flag
    launched = os.environ.get("ACCELERATE_MIXED_PRECISION", "no").lower()
    return launched if launched in ("fp16", "bf16") else None


def quiet_known_library_warnings() -> None:
    """Two FutureWarnings raised inside the libraries' own DDP code (not by anything this script does), silenced
    narrowly by message and by the module that raises them; every other warning still shows."""
    # sentence-transformers' training arguments set ddp_broadcast_buffers=False (BERT buffers modified in place
    # break DDP otherwise); accelerate 1.15 passes it on to DistributedDataParallel and warns that the name is
    # deprecated. Nothing to change on our side: the replacement does not yet offer the same behaviour.
    warnings.filterwarnings(
        "ignore", message=r"`broadcast_buffers` is deprecated", category=FutureWarning,
        module=r"accelerate\.accelerator",
    )
    # MNRL's gather_across_devices uses torch.distributed.nn.all_gather (gradient-carrying), which torch 2.13 marks
    # as deprecated; it still works (all-gather forward, reduce-scatter or all-to-all backward).
    warnings.filterwarnings(
        "ignore", message=r"torch\.distributed\.nn\.functional\.all_gather is deprecated", category=FutureWarning,
        module=r"sentence_transformers\.util\.distributed",
    )


def check_positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise CourseError(f"{name} must be at least 1, got {value}.")


class RankLog:
    """Per-process record of training: the logged (all-process mean) losses and this process's own losses."""

    def __init__(self) -> None:
        self.history = helpers.LossHistory()  # a TrainerCallback: every rank receives the logged loss
        self.local_losses: list[float] = []  # one value per forward of the loss on this process

    def watch(self, loss: Any) -> None:
        loss.register_forward_hook(lambda _module, _inputs, output: self.local_losses.append(float(output.detach())))

    def write(self, path: Path, **info: Any) -> None:
        losses = self.history.losses
        payload = {
            **info,
            "logged_steps": self.history.steps,
            "logged_losses": losses,
            "first_loss": losses[0] if losses else None,
            "last_loss": losses[-1] if losses else None,
            "local_losses": self.local_losses,
        }
        path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def train(cli: argparse.Namespace) -> int:
    for name in ("epochs", "max_steps", "batch_size"):
        check_positive(f"--{name.replace('_', '-')}", getattr(cli, name))
    if cli.n_train is not None and cli.n_train < 0:
        raise CourseError(f"--n-train must be 0 (all) or positive, got {cli.n_train}.")
    if helpers.profiles.resolve_profile(cli.scale, cli.source).quiet:
        # No progress bars at tiny. tqdm reads TQDM_DISABLE once, when it is first imported, and helpers.setup()
        # imports datasets/transformers (and so tqdm) before it sets the variable: set it here, before any import.
        os.environ.setdefault("TQDM_DISABLE", "1")
    profile = helpers.setup(cli.scale, cli.source, seed=cli.seed, show=launcher_rank() == 0)
    device = helpers.device()  # "cuda", "mps" or "cpu" (COURSE_DEVICE=cpu overrides): the course's one device rule

    import torch
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    from helpers.loss_runs import LEARNING_RATE, WARMUP

    quiet_known_library_warnings()
    scale = profile.scale
    batch_size = cli.batch_size or scale.batch_size
    n_train = scale.n_train if cli.n_train is None else cli.n_train

    runtime = helpers.runtime_args(profile, cli.run_name)  # output dir, seeds, report_to, use_cpu, quiet, precision
    wanted = explicit_precision(cli.precision)
    if wanted is not None:  # asked for by the learner: fail loudly where the hardware cannot do it
        runtime = {k: v for k, v in runtime.items() if k not in ("fp16", "bf16")}
        try:
            runtime.update(helpers.precision_args(wanted, strict=True))
        except CourseError as err:
            raise CourseError(
                f"{err} Here: leave out --precision (and accelerate launch's --mixed_precision), "
                "or pass --precision fp32."
            ) from err
    if device == "cpu" and launched_world_size() > 1:
        # runtime_args sets use_cpu=True when the course runs on the CPU (no GPU, or COURSE_DEVICE=cpu on a machine
        # with one). That does not prevent DDP: with use_cpu and the launcher's RANK/WORLD_SIZE, Accelerate starts a
        # multi-CPU process group, whose backend is gloo (MPI when torch has it): name gloo so it is explicit. Only
        # when launched on several processes: on a single process, ddp_backend="gloo" makes Accelerate look for a
        # process group that nobody started (ValueError); and without use_cpu, a CPU-only machine rejects gloo
        # ("Your assigned backend gloo is not available"). On GPUs the trainer picks NCCL, which needs one GPU per
        # process: N processes on one GPU fail there, so run a one-GPU machine's check with COURSE_DEVICE=cpu.
        runtime["ddp_backend"] = "gloo"
    args = SentenceTransformerTrainingArguments(
        num_train_epochs=cli.epochs or scale.epochs,
        max_steps=cli.max_steps or -1,
        per_device_train_batch_size=batch_size,  # per process: the effective batch is world_size x this
        learning_rate=cli.learning_rate or LEARNING_RATE,
        warmup_steps=WARMUP,
        batch_sampler=BatchSamplers.NO_DUPLICATES,  # no duplicate sentence inside a batch: no false negatives
        dataloader_drop_last=True,  # equal, full batches on every process (the cross-process gather needs them)
        logging_steps=scale.logging_steps,
        **runtime,
    )
    # Creating the arguments started the process group (when launched by torchrun / accelerate launch).
    rank, world_size = args.process_index, args.world_size
    main = rank == 0
    logs = helpers.out("runs", cli.run_name, "x").parent
    if main:  # logs of an earlier run (maybe with more processes); the other ranks write only after training
        for stale in logs.glob("rank-*.json"):
            stale.unlink()

    with args.main_process_first(desc="loading the training pairs"):  # rank 0 fills the datasets cache first
        nli = helpers.load_data("nyu-mll/glue", "mnli", "train")
        pairs = helpers.subset(helpers.mapping.entailment_pairs(nli), n_train, profile.seed)
    per_step = world_size * batch_size
    if len(pairs) < per_step:
        raise CourseError(
            f"{len(pairs)} training pairs cannot fill one step of {world_size} process(es) x {batch_size} pairs "
            f"= {per_step} (incomplete batches are dropped). Fix: lower --batch-size or the number of processes, "
            "or raise --n-train / the scale."
        )

    transformer = Transformer(helpers.model_location(scale.base_model), max_seq_length=scale.max_seq_length)
    # args.device is this process's own device: cuda:<LOCAL_RANK> under torchrun on GPUs, else the course's device.
    model = SentenceTransformer(
        modules=[transformer, Pooling(transformer.get_embedding_dimension(), "mean")], device=str(args.device)
    )
    sts = helpers.load_sts("validation") if main else None
    baseline = helpers.evaluate_sts(model, sts)["spearman"] if main else None  # before training, always

    # With one process there is nothing to gather (and asking for it only earns a warning).
    loss = MultipleNegativesRankingLoss(model, gather_across_devices=world_size > 1)
    log = RankLog()
    log.watch(loss)
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=pairs, loss=loss, callbacks=[log.history]
    )
    if main:
        print(f"[train_ddp] on {device}: {world_size} process(es) x {batch_size} pairs = effective batch {per_step}; "
              f"{len(pairs)} pairs; MNRL candidates per anchor: {per_step if world_size > 1 else batch_size}")
    with helpers.measure() as m:
        trainer.train()
    steps = trainer.state.global_step

    log.write(
        logs / f"rank-{rank}.json", rank=rank, world_size=world_size, steps=steps,
        per_device_batch_size=batch_size, pairs_seen=steps * batch_size, train_seconds=round(m.seconds, 2),
    )

    if main:
        score = helpers.evaluate_sts(model, sts)["spearman"]
        model_path = cli.output or helpers.out("models", cli.run_name)
        model.save_pretrained(str(model_path))
        processes = f"{world_size} process{'es' if world_size > 1 else ''}"
        helpers.record(
            "ddp", f"MNRL (DDP, {processes})", score, model=scale.base_model, baseline=baseline,
            train_seconds=m.seconds, world_size=world_size, per_device_batch_size=batch_size,
            effective_batch_size=per_step, n_train=len(pairs), steps=steps,
            samples_per_second=round(steps * per_step / max(m.seconds, 1e-9), 2),
            peak_memory_mb=round(m.peak_mb, 1), memory_kind=m.memory_kind,  # rank 0's: CUDA memory or host RSS
        )
        print(f"[train_ddp] STS-B validation Spearman: {baseline:.4f} before, {score:.4f} after "
              f"({steps} steps in {m.seconds:.1f} s; rank 0 {m.memory_label} {m.peak_mb:.0f} MB). "
              f"Model: {model_path}. Rank logs: {logs}")

    if torch.distributed.is_initialized():
        torch.distributed.barrier()  # the other ranks wait until rank 0 has saved and recorded
        torch.distributed.destroy_process_group()
    return 0


def main(argv: list[str] | None = None) -> int:
    cli = parse_args(argv)
    try:
        return train(cli)
    except CourseError as err:
        where = f"[rank {launcher_rank()}] " if launched_world_size() > 1 else ""
        print(f"[train_ddp] {where}error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
