"""Run profiles: the *scale* a notebook runs at and the *source* its data and models come from.

Every number a notebook uses for size (rows, batch size, epochs, sequence length, evaluation size)
lives in the SCALES table below, so a notebook never hides a literal that changes with the scale."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

SCALE_ENV = "COURSE_SCALE"
QUIET_ENV = "COURSE_QUIET"  # 1: no progress bars at any scale (test runs: nbval fails a cell that writes stderr)
SOURCE_ENV = "COURSE_SOURCE"
DATA_DIR_ENV = "COURSE_DATA_DIR"
SEEDS_ENV = "COURSE_SEEDS"  # e.g. "42" in a workshop: ranked comparisons run once (and say they cannot rank)

SOURCES = ("hub", "local", "sample")


@dataclass(frozen=True)
class Scale:
    """How big one run is. One row of the table a learner can read and change in one place."""

    name: str
    n_train: int  # training rows (pairs, triplets or sentences)
    n_eval: int  # evaluation rows (e.g. STS-B pairs); 0 means the whole split
    batch_size: int
    epochs: int
    max_seq_length: int
    eval_steps: int  # evaluate during training every N steps
    logging_steps: int
    n_corpus: int  # sentences for corpus-level work (search, TSDAE, cost curves); 0 = all
    base_model: str  # a raw transformer (no sentence training): what the "from scratch" notebooks start from
    sentence_model: str  # a trained sentence-embedding model
    cross_encoder_base: str  # what a cross-encoder is fine-tuned from
    precision: str | None  # "fp16" / "bf16" asked for; used only where the hardware supports it
    dataloader_workers: int  # on CUDA only: processes that tokenise batches while the GPU trains
    seeds: tuple[int, ...]  # where a notebook ranks methods, each run is repeated with these seeds
    static_vocabulary: str  # notebook 10: "full" distils every token of the teacher, "data" only the data's tokens
    # notebook 11 (retrieve and re-rank): every re-ranker pass costs one cross-encoder forward per (query, document)
    rerank_train_queries: int  # SciFact train queries a re-ranker trains on (0 = all single-positive ones)
    rerank_negatives: int  # hard negatives mined per training query (each query: 1 positive + these)
    rerank_queries: int  # SciFact test queries the re-ranking pipelines are measured on (0 = all 300)
    rerank_ks: tuple[int, ...]  # candidates re-ranked per query: the quality/latency curve
    rerank_k: int  # the k at which every trained re-ranker is compared (one of rerank_ks)
    # notebook 12 (sparse and multi-vector): a SPLADE forward scores every token against the whole vocabulary
    mlm_model: str  # a masked-language model with its MLM head: what SPLADE is trained from
    type_train_pairs: int  # notebook 12: SciFact (claim, abstract) training pairs per model type (0 = all 919)
    description: str


SENTENCE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

# Precision and dataloader workers at `full` come from measurements on an H200 (docs/benchmark.md, "On a CUDA
# GPU"): with the trainer's dynamic padding, fp16/bf16 ran 3-4x slower than fp32 at batch 32 in the main process
# (a new sequence length each step costs autocast more than it saves), and 4 dataloader workers made fp32 1.4x
# faster. The book ran fp16 on a T4; pass `precision="fp16"` to `helpers.precision_args` to compare on yours.
SCALES: dict[str, Scale] = {
    "tiny": Scale(
        name="tiny", n_train=64, n_eval=60, batch_size=16, epochs=1, max_seq_length=64,
        eval_steps=2, logging_steps=1, n_corpus=80,
        base_model="nreimers/MiniLM-L6-H384-uncased", sentence_model=SENTENCE_MODEL,
        cross_encoder_base="nreimers/MiniLM-L6-H384-uncased", precision=None, dataloader_workers=0, seeds=(42,),
        static_vocabulary="data", rerank_train_queries=8, rerank_negatives=3, rerank_queries=8,
        rerank_ks=(5, 10, 20), rerank_k=10, mlm_model="distilbert/distilbert-base-uncased",
        type_train_pairs=16, description="seconds per notebook: what the tests and CI run",
    ),
    "quick": Scale(
        name="quick", n_train=2000, n_eval=0, batch_size=16, epochs=1, max_seq_length=128,
        eval_steps=50, logging_steps=10, n_corpus=2000,
        base_model="nreimers/MiniLM-L6-H384-uncased", sentence_model=SENTENCE_MODEL,
        cross_encoder_base="nreimers/MiniLM-L6-H384-uncased", precision=None, dataloader_workers=4, seeds=(42, 43, 44),
        static_vocabulary="full", rerank_train_queries=48, rerank_negatives=3, rerank_queries=40,
        rerank_ks=(5, 10, 20), rerank_k=10, mlm_model="distilbert/distilbert-base-uncased",
        type_train_pairs=256, description="minutes on a laptop CPU: real models, real data subsets",
    ),
    "full": Scale(
        name="full", n_train=50_000, n_eval=0, batch_size=32, epochs=1, max_seq_length=128,
        eval_steps=250, logging_steps=50, n_corpus=0,
        base_model="bert-base-uncased", sentence_model=SENTENCE_MODEL,
        cross_encoder_base="bert-base-uncased", precision=None, dataloader_workers=4, seeds=(42, 43, 44),
        static_vocabulary="full", rerank_train_queries=0, rerank_negatives=7, rerank_queries=0,
        rerank_ks=(10, 20, 50, 100), rerank_k=20, mlm_model="bert-base-uncased", type_train_pairs=0,
        description="the book's scale (50k MNLI pairs, bert-base-uncased): meant for a GPU",
    ),
}


@dataclass(frozen=True)
class Profile:
    """The scale and source one notebook runs with, and why they were chosen."""

    scale: Scale
    source: str
    data_dir: Path | None  # the local mirror (source "local") or the shipped samples (source "sample")
    hub_online: bool
    reason: str  # one sentence: why this source was chosen
    seed: int = 42
    notes: list[str] = field(default_factory=list)

    @property
    def quiet(self) -> bool:
        """No progress bars at `tiny` (learners see seconds-long runs) or when COURSE_QUIET=1 (`make test` sets
        it: the tests fail a cell that writes to stderr, and a bar is stderr at `quick` and `full` too)."""
        return self.scale.name == "tiny" or os.environ.get(QUIET_ENV, "").strip().lower() in {"1", "true", "yes"}

    def with_scale(self, **changes: object) -> Profile:
        """A copy with some scale numbers changed, e.g. `profile.with_scale(batch_size=64)`."""
        return replace(self, scale=replace(self.scale, **changes))


def sample_dir() -> Path:
    return Path(__file__).resolve().parent / "sample_data"


def _pick(value: str | None, env: str, allowed: tuple[str, ...], what: str) -> str | None:
    value = value if value is not None else os.environ.get(env) or None
    if value is None:
        return None
    value = value.strip().lower()
    if value not in allowed:
        raise CourseError(
            f"Unknown {what} {value!r}. Choose one of {', '.join(allowed)} "
            f"(set {env}=... before starting Jupyter, or pass {what}=... to helpers.setup())."
        )
    return value


def _seeds_override() -> tuple[int, ...] | None:
    """COURSE_SEEDS=42,43 -> (42, 43); unset -> None (the scale's own seeds)."""
    raw = os.environ.get(SEEDS_ENV, "").strip()
    if not raw:
        return None
    try:
        seeds = tuple(int(part) for part in raw.replace(" ", "").split(","))
    except ValueError:
        seeds = ()
    if not seeds or len(set(seeds)) != len(seeds):
        raise CourseError(f"{SEEDS_ENV}={raw!r} is not a list of distinct whole numbers. "
                          f"Fix: e.g. {SEEDS_ENV}=42 (one run per method) or {SEEDS_ENV}=42,43,44, or unset it.")
    return seeds


def resolve_profile(scale: str | None = None, source: str | None = None, seed: int = 42) -> Profile:
    """Choose scale and source from the arguments, then the environment, then what is reachable.

    Defaults: `hub` when the hub answers; else `local` when COURSE_DATA_DIR is set; else `sample` at `tiny`.
    """
    scale_name = _pick(scale, SCALE_ENV, tuple(SCALES), "scale")
    source_name = _pick(source, SOURCE_ENV, SOURCES, "source")
    data_dir_env = os.environ.get(DATA_DIR_ENV) or None
    status = hub_status()

    if source_name is None:
        if status.online:
            source_name, reason = "hub", "the Hugging Face Hub answered"
        elif data_dir_env:
            source_name, reason = "local", f"the hub is not reachable ({status.why}) and {DATA_DIR_ENV} is set"
        else:
            source_name = "sample"
            reason = f"the hub is not reachable ({status.why}) and {DATA_DIR_ENV} is not set"
    else:
        reason = f"asked for ({'argument' if source else SOURCE_ENV})"

    if scale_name is None:
        scale_name = "tiny" if source_name == "sample" else "quick"

    data_dir: Path | None = None
    if source_name == "hub" and not status.online:
        raise CourseError(
            f"COURSE_SOURCE=hub was asked for, but the Hugging Face Hub cannot be reached ({status.why}). "
            f"Fix: connect to the internet, or use COURSE_SOURCE=local with {DATA_DIR_ENV}=<mirror> "
            "(made with `python -m helpers download --to DIR`), or COURSE_SOURCE=sample."
        )
    if source_name == "local":
        if not data_dir_env:
            raise CourseError(
                f"COURSE_SOURCE=local needs {DATA_DIR_ENV}=<directory of a local mirror> "
                "(laid out <hub dataset id>[/<config>]/<split>.jsonl; make one with "
                "`python -m helpers download --to DIR` on a connected machine)."
            )
        data_dir = Path(data_dir_env).expanduser().resolve()
        if not data_dir.is_dir():
            raise CourseError(f"{DATA_DIR_ENV}={data_dir_env} is not a directory. Point it at a local mirror.")
    elif source_name == "sample":
        data_dir = sample_dir()

    seeds = _seeds_override()
    chosen = SCALES[scale_name] if seeds is None else replace(SCALES[scale_name], seeds=seeds)
    return Profile(
        scale=chosen, source=source_name, data_dir=data_dir,
        hub_online=status.online, reason=reason, seed=seed,
    )


# -------- Errors and notes for the learner --------------------------------------------------------------------
# What the course tells the learner: one exception type for every mistake a learner can fix (its message says
# how), and notes printed once per process (on stdout: a notebook cell that writes to stderr fails the tests).

class CourseError(RuntimeError):
    """A problem with the course set-up or input: the message names the fix."""


_said: set[str] = set()


def say_once(message: str) -> None:
    """Print `[course] message` the first time this process sees `message`."""
    if message not in _said:
        _said.add(message)
        print(f"[course] {message}")


# -------- Is the hub reachable? -------------------------------------------------------------------------------
# Is the Hugging Face Hub reachable? Asked once per process, answered in at most a few seconds.
#
# "Reachable" means an answer only the hub gives: the model API's JSON for all-MiniLM-L6-v2, with that model's id,
# from the endpoint's own host. A 4xx/5xx, a redirect to another host (a captive portal's login page), an HTML page
# or JSON about something else all count as offline, and the reason says which.

OFFLINE_ENVS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
PROBE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_MAX_BYTES = 2_000_000  # the model API's answer is a few kB; a portal page is not read to the end


@dataclass(frozen=True)
class HubStatus:
    online: bool
    why: str


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


@lru_cache(maxsize=1)
def hub_status(timeout: float = 3.0) -> HubStatus:
    """Check the hub with one small request, unless the environment says we are offline."""
    for env in OFFLINE_ENVS:
        if _truthy(os.environ.get(env)):
            return HubStatus(False, f"{env}=1")
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    return probe(endpoint, timeout)


def probe(endpoint: str, timeout: float = 3.0) -> HubStatus:
    """GET the model API of PROBE_MODEL at `endpoint` and accept only the hub's own answer (see the module doc).

    Bounded in time: `timeout` per network operation, and at most about 2 x `timeout` for reading the body."""
    url = f"{endpoint}/api/models/{PROBE_MODEL}"
    host = urlsplit(url).hostname
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    deadline = time.monotonic() + 2 * timeout
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            final_host = urlsplit(response.geturl()).hostname
            if final_host != host:
                return HubStatus(False, f"{host} redirected to {final_host} (a captive portal or a proxy login?)")
            body = b""
            while len(body) <= _MAX_BYTES:
                chunk = response.read(65536)
                if not chunk:
                    break
                body += chunk
                if time.monotonic() > deadline:
                    return HubStatus(False, f"{host} answered too slowly (over {2 * timeout:g} s)")
    except urllib.error.HTTPError as err:
        return HubStatus(False, f"{host} answered HTTP {err.code}, not the hub's model API")
    except (urllib.error.URLError, OSError, ValueError) as err:  # refused, DNS, timeout, malformed URL
        reason = getattr(err, "reason", err)
        return HubStatus(False, f"no connection to {host}: {reason}")
    try:
        data = json.loads(body)
    except ValueError:
        return HubStatus(False, f"{host} answered, but not with the hub's JSON (a captive portal or a proxy page?)")
    if not isinstance(data, dict) or PROBE_MODEL not in (data.get("id"), data.get("modelId")):
        return HubStatus(False, f"{host} answered JSON that is not the hub's entry for {PROBE_MODEL}")
    return HubStatus(True, f"{host} answered as the hub")


def go_offline() -> None:
    """Tell huggingface_hub, transformers and datasets not to try the network (saves their timeouts)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import huggingface_hub.constants as constants

        constants.HF_HUB_OFFLINE = True
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        pass


# -------- Where the course writes -----------------------------------------------------------------------------
# Everything the course writes goes under one folder (ignored by git): models, results, figures, runs.

OUTPUT_ENV = "COURSE_OUTPUT_DIR"


def repo_root() -> Path | None:
    """The course checkout this package lives in (None when installed from a wheel, e.g. on Colab)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def output_dir() -> Path:
    """`COURSE_OUTPUT_DIR`, else `<repo>/outputs`, else `./course-outputs`."""
    env = os.environ.get(OUTPUT_ENV)
    if env:
        path = Path(env).expanduser()
    else:
        root = repo_root()
        path = root / "outputs" if root else Path.cwd() / "course-outputs"
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def out(*parts: str) -> Path:
    """A path under the output folder; its parent folder exists. E.g. `out("models", "01-mean")`."""
    path = output_dir().joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
