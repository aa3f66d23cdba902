"""Evaluation with stable result keys, whatever the evaluator's name or the library version calls them."""

from __future__ import annotations

import os
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from helpers.data import load_data, require_columns
from helpers.profiles import CourseError, out
from helpers.session import current_profile

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.abstask import AbsTask
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.evaluation import (
        EmbeddingSimilarityEvaluator,
        InformationRetrievalEvaluator,
    )

    from helpers.profiles import Profile


def sts_evaluator(dataset: Dataset, name: str = "sts-dev", batch_size: int = 64) -> EmbeddingSimilarityEvaluator:
    """Cosine-similarity STS evaluator over (sentence1, sentence2, score) rows."""
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    require_columns(dataset, ["sentence1", "sentence2", "score"], "STS evaluation")
    return EmbeddingSimilarityEvaluator(
        sentences1=list(dataset["sentence1"]),
        sentences2=list(dataset["sentence2"]),
        scores=[float(s) for s in dataset["score"]],
        main_similarity="cosine",
        similarity_fn_names=["cosine"],
        name=name,
        batch_size=batch_size,
        write_csv=False,
    )


def sts_scores(raw: dict[str, float]) -> dict[str, float]:
    """`{"spearman": .., "pearson": ..}` from an EmbeddingSimilarityEvaluator result dict."""
    picked: dict[str, float] = {}
    for key, value in raw.items():
        for metric in ("spearman", "pearson"):
            if key.endswith(f"{metric}_cosine"):
                picked[metric] = float(value)
    if set(picked) != {"spearman", "pearson"}:
        raise KeyError(f"no cosine spearman/pearson in evaluator output {sorted(raw)}")
    return picked


def evaluate_sts(model: SentenceTransformer, data: Dataset | EmbeddingSimilarityEvaluator) -> dict[str, float]:
    """Spearman and Pearson correlation (cosine similarity vs gold score) of `model` on STS pairs."""
    evaluator = sts_evaluator(data) if hasattr(data, "column_names") else data
    return sts_scores(evaluator(model))


# -------- Retrieval: BEIR-style data and the IR evaluator -----------------------------------------------------
# Retrieval data in BEIR format (corpus, queries, relevance judgements) and an nDCG evaluator for it.
#
# BEIR datasets come as three tables: a corpus (`_id`, `title`, `text`), queries (`_id`, `text`) and qrels
# (`query-id`, `corpus-id`, `score`). Ids are compared as strings: the hub stores some of them as integers.

@dataclass(frozen=True)
class RetrievalData:
    """A retrieval benchmark: every judged query, its relevant documents, and a corpus holding them all."""

    corpus: dict[str, str]  # document id -> "title text"
    queries: dict[str, str]  # query id -> query text (judged queries only)
    relevant: dict[str, set[str]]  # query id -> ids of its relevant documents

    def __str__(self) -> str:
        judged = {doc for docs in self.relevant.values() for doc in docs}
        return f"{len(self.corpus)} documents ({len(judged)} judged relevant), {len(self.queries)} queries"


def doc_text(title: str | None, text: str | None) -> str:
    """A document as one string: its title, a space, its body (BEIR's convention)."""
    return " ".join(part.strip() for part in (title, text) if part and part.strip())


def relevant_docs(qrels: Dataset) -> dict[str, set[str]]:
    """query id -> relevant document ids, from qrels rows with a positive score."""
    require_columns(qrels, ["query-id", "corpus-id", "score"], "reading relevance judgements")
    relevant: dict[str, set[str]] = {}
    for qid, cid, score in zip(qrels["query-id"], qrels["corpus-id"], qrels["score"]):
        if score and float(score) > 0:
            relevant.setdefault(str(qid), set()).add(str(cid))
    return relevant


def subset_corpus(corpus: dict[str, str], keep: set[str], n: int, seed: int = 42) -> dict[str, str]:
    """`n` documents: every id in `keep` (judged documents), filled up with a seeded random draw of the rest.

    With n = 0 (or n >= len(corpus)) the whole corpus is returned. If `keep` alone is larger than `n`, all of
    `keep` is returned: dropping a relevant document would make it unfindable and nDCG meaningless.
    """
    missing = keep - corpus.keys()
    if missing:
        raise CourseError(f"{len(missing)} judged documents are not in the corpus, e.g. {sorted(missing)[:3]}")
    if n <= 0 or n >= len(corpus):
        return dict(corpus)
    others = sorted(corpus.keys() - keep)
    random.Random(seed).shuffle(others)
    chosen = keep | set(others[: max(0, n - len(keep))])
    return {doc_id: text for doc_id, text in corpus.items() if doc_id in chosen}


def load_beir(
    hub_id: str = "BeIR/scifact",
    qrels_id: str | None = None,
    split: str = "test",
    n_corpus: int = 0,
    n_queries: int = 0,
    profile: Profile | None = None,
) -> RetrievalData:
    """Corpus, queries and `split` qrels of a BEIR dataset through `helpers.load_data`.

    Only judged queries are kept (at most `n_queries`, seeded; 0 = all). The corpus is cut to `n_corpus`
    documents (0 = all) while keeping every document judged relevant for a kept query.
    """
    profile = profile or current_profile()
    qrels_id = qrels_id or f"{hub_id}-qrels"
    corpus_ds = load_data(hub_id, "corpus", "corpus", profile)
    queries_ds = load_data(hub_id, "queries", "queries", profile)
    qrels = load_data(qrels_id, None, split, profile)
    require_columns(corpus_ds, ["_id", "title", "text"], "reading a BEIR corpus")
    require_columns(queries_ds, ["_id", "text"], "reading BEIR queries")

    relevant = relevant_docs(qrels)
    all_queries = {str(qid): text for qid, text in zip(queries_ds["_id"], queries_ds["text"]) if str(qid) in relevant}
    query_ids = sorted(all_queries)
    if 0 < n_queries < len(query_ids):
        query_ids = sorted(random.Random(profile.seed).sample(query_ids, n_queries))
    queries = {qid: all_queries[qid] for qid in query_ids}
    relevant = {qid: relevant[qid] for qid in query_ids}

    corpus = {str(i): doc_text(t, x) for i, t, x in zip(corpus_ds["_id"], corpus_ds["title"], corpus_ds["text"])}
    judged = {doc for docs in relevant.values() for doc in docs}
    return RetrievalData(subset_corpus(corpus, judged, n_corpus, profile.seed), queries, relevant)


def ir_evaluator(
    data: RetrievalData, name: str = "ir", batch_size: int = 32, k: int = 10
) -> InformationRetrievalEvaluator:
    """An InformationRetrievalEvaluator ranking by cosine similarity, reporting nDCG@k (and MRR, recall)."""
    from sentence_transformers import util
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    return InformationRetrievalEvaluator(
        queries=data.queries,
        corpus=data.corpus,
        relevant_docs=data.relevant,
        mrr_at_k=[k],
        ndcg_at_k=[k],
        accuracy_at_k=[1, k],
        precision_recall_at_k=[k],
        map_at_k=[100],
        score_functions={"cosine": util.cos_sim},
        main_score_function="cosine",
        name=name,
        batch_size=batch_size,
        show_progress_bar=False,
        write_csv=False,
    )


def ir_scores(raw: dict[str, float], k: int = 10) -> dict[str, float]:
    """`{"ndcg@k", "mrr@k", "recall@k"}` from an InformationRetrievalEvaluator result dict."""
    picked: dict[str, float] = {}
    for metric in (f"ndcg@{k}", f"mrr@{k}", f"recall@{k}"):
        keys = [key for key in raw if key.endswith(f"cosine_{metric}")]
        if len(keys) != 1:
            raise KeyError(f"no single cosine {metric} in evaluator output {sorted(raw)}")
        picked[metric] = float(raw[keys[0]])
    return picked


def evaluate_ir(model: SentenceTransformer, evaluator: InformationRetrievalEvaluator, k: int = 10) -> dict[str, float]:
    """nDCG@k, MRR@k and recall@k (cosine) of `model` on `evaluator`'s queries and corpus."""
    return ir_scores(evaluator(model), k)


# -------- MTEB tasks, with the course's data injected offline -------------------------------------------------
# MTEB tasks with their data: downloaded by mteb from the hub, or injected from the local mirror or the samples.
#
# Offline, mteb cannot download a task's dataset. `load_task` then reads the same rows with `helpers.load_data` and
# sets them on the task in the task's own layout (a `DatasetDict` of its splits, in its own columns, for the
# "default" subset), `task.dataset = ...; task.data_loaded = True`, which is how mteb 2 accepts preloaded data.
# The evaluation split is cut to the profile's `n_eval` rows (0 = all), stratified by label for classification.

@dataclass(frozen=True)
class SplitSource:
    """Where one split of a task comes from offline: a course dataset split, with columns renamed to the task's."""

    hub_id: str
    config: str | None
    split: str
    rename: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TaskSource:
    """The offline data of one mteb task: its splits, the columns it reads, and its label column (if any)."""

    splits: dict[str, SplitSource]
    columns: tuple[str, ...]
    label: str | None = None


# The v1 tasks, on purpose: the mirror holds the original releases (10,003/3,080 Banking77 rows and 1,379 STS-B
# test pairs, the row counts mteb lists for these v1 tasks; the .v2 tasks drop corrected or duplicated rows),
# and the MTEB(eng, v2) leaderboard benchmark itself runs these v1 tasks.
TASK_SOURCES: dict[str, TaskSource] = {
    # mteb/stsbenchmark-sts has 0..5 scores (the task sets max_score=5); sentence-transformers/stsb is 0..1,
    # so the English stsb_multi_mt split (the same pairs, gold 0..5) is the source.
    "STSBenchmark": TaskSource(
        splits={"test": SplitSource("PhilipMay/stsb_multi_mt", "en", "test", (("similarity_score", "score"),))},
        columns=("sentence1", "sentence2", "score"),
    ),
    "Banking77Classification": TaskSource(
        splits={s: SplitSource("mteb/banking77", None, s) for s in ("train", "test")},
        columns=("text", "label"),
        label="label",
    ),
}


def use_course_cache() -> None:
    """Point mteb's result cache into the course outputs (mteb creates `~/.cache/mteb` when it is imported)."""
    os.environ.setdefault("MTEB_CACHE", str(out("mteb")))


def stratified_indices(labels: Sequence[object], n: int, seed: int = 42) -> list[int]:
    """`n` row indices whose label mix matches the whole (seeded); all rows, in order, when n is 0 or too large.

    Rows are shuffled, numbered within their label, and taken by how far into its label each one is, so every
    label keeps its share: 6 of each of 10 equal labels for n=60.
    """
    if n <= 0 or n >= len(labels):
        return list(range(len(labels)))
    order = list(range(len(labels)))
    random.Random(seed).shuffle(order)
    counts: dict[object, int] = defaultdict(int)
    for label in labels:
        counts[label] += 1
    seen: dict[object, int] = defaultdict(int)
    ranked = []
    for position, index in enumerate(order):
        label = labels[index]
        ranked.append(((seen[label] + 0.5) / counts[label], position, index))
        seen[label] += 1
    return sorted(index for _, _, index in sorted(ranked)[:n])


def _offline_dataset(name: str, source: TaskSource, profile: Profile) -> DatasetDict:
    from datasets import DatasetDict

    splits = {}
    for split, where in source.splits.items():
        ds = load_data(where.hub_id, where.config, where.split, profile)
        for old, new in where.rename:
            ds = ds.rename_column(old, new)
        require_columns(ds, source.columns, f"the mteb task {name}")
        splits[split] = ds.select_columns(list(source.columns))
    return DatasetDict(splits)


def _check_scores(task: AbsTask, data: Dataset) -> None:
    """STS gold scores must be on the task's own scale (mteb normalises them with min_score/max_score)."""
    low, high = getattr(task, "min_score", None), getattr(task, "max_score", None)
    if low is None or high is None or "score" not in data.column_names:
        return
    scores = [float(s) for s in data["score"]]
    if min(scores) < low or max(scores) > high:
        span = f"{min(scores)}..{max(scores)}"
        raise CourseError(f"{task.metadata.name}: gold scores span {span}, outside the task's {low}..{high}.")
    if high > 1 and max(scores) <= 1:
        raise CourseError(
            f"{task.metadata.name} expects scores on a {low}..{high} scale, but these are all <= 1: "
            "that looks like sentence-transformers/stsb (gold / 5). Fix: use the 0..5 source, or multiply by 5."
        )


def load_task(name: str, profile: Profile | None = None, n_eval: int | None = None) -> AbsTask:
    """The mteb task `name` with its data loaded: by mteb from the hub online, injected offline.

    `n_eval` rows of each evaluation split are kept (default: the profile's `n_eval`; 0 = all), stratified by
    label for classification tasks. Training splits are kept whole.
    """
    profile = profile or current_profile()
    if name not in TASK_SOURCES:
        raise CourseError(f"No data mapping for mteb task {name!r}. Known: {', '.join(TASK_SOURCES)}.")
    source = TASK_SOURCES[name]
    use_course_cache()
    import mteb

    task = mteb.get_task(name)
    if profile.source == "hub":
        task.load_data()  # mteb downloads the dataset revision the task pins
        dataset = task.dataset
    else:
        dataset = _offline_dataset(name, source, profile)
    n = profile.scale.n_eval if n_eval is None else n_eval
    for split in task.eval_splits:
        data = dataset[split]
        labels = list(data[source.label]) if source.label else [0] * len(data)
        dataset[split] = data.select(stratified_indices(labels, n, profile.seed))
        _check_scores(task, dataset[split])
    task.dataset = dataset
    task.data_loaded = True
    return task
