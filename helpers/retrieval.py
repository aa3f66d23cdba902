"""Retrieval data in BEIR format (corpus, queries, relevance judgements) and an nDCG evaluator for it.

BEIR datasets come as three tables: a corpus (`_id`, `title`, `text`), queries (`_id`, `text`) and qrels
(`query-id`, `corpus-id`, `score`). Ids are compared as strings: the hub stores some of them as integers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from helpers.data import load_data, require_columns
from helpers.errors import CourseError
from helpers.session import current_profile

if TYPE_CHECKING:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    from helpers.profiles import Profile


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
