"""Evaluation with stable result keys, whatever the evaluator's name or the library version calls them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpers.data import require_columns

if TYPE_CHECKING:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator


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
