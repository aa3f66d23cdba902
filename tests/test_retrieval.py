from __future__ import annotations

import pytest
from datasets import Dataset

from helpers import evaluation
from helpers.profiles import CourseError


def test_doc_text_joins_title_and_body():
    assert evaluation.doc_text("A title", "Some text.") == "A title Some text."
    assert evaluation.doc_text("", "Only text.") == "Only text."
    assert evaluation.doc_text(None, " spaced ") == "spaced"


def test_relevant_docs_keeps_positive_scores_and_stringifies_ids():
    qrels = Dataset.from_dict({"query-id": [1, 1, 2, 3], "corpus-id": [10, 11, 12, 13], "score": [1, 1, 0, 2]})
    assert evaluation.relevant_docs(qrels) == {"1": {"10", "11"}, "3": {"13"}}


def test_subset_corpus_keeps_every_judged_document():
    corpus = {str(i): f"doc {i}" for i in range(50)}
    keep = {"3", "17", "42"}
    small = evaluation.subset_corpus(corpus, keep, n=10, seed=1)
    assert len(small) == 10 and keep <= small.keys()
    assert small == evaluation.subset_corpus(corpus, keep, n=10, seed=1)  # seeded
    assert evaluation.subset_corpus(corpus, keep, n=2).keys() == keep  # never drops a judged document
    assert evaluation.subset_corpus(corpus, keep, n=0) == corpus


def test_subset_corpus_rejects_judged_documents_that_are_missing():
    with pytest.raises(CourseError, match="not in the corpus"):
        evaluation.subset_corpus({"a": "x"}, {"a", "b"}, n=1)


def test_load_beir_on_the_sample(sample_profile):
    data = evaluation.load_beir("BeIR/scifact", "BeIR/scifact-qrels", "test", n_corpus=30, profile=sample_profile)
    judged = {doc for docs in data.relevant.values() for doc in docs}
    assert data.queries and data.queries.keys() == data.relevant.keys()
    assert judged <= data.corpus.keys()
    assert len(data.corpus) == max(30, len(judged))
    assert all(isinstance(k, str) for k in data.corpus)
    assert "documents" in str(data)

    few = evaluation.load_beir("BeIR/scifact", split="test", n_queries=3, profile=sample_profile)
    assert len(few.queries) == 3 and few.relevant.keys() == few.queries.keys()


def test_ir_scores_picks_cosine_metrics():
    raw = {"ir_cosine_ndcg@10": 0.5, "ir_cosine_mrr@10": 0.4, "ir_cosine_recall@10": 0.7, "ir_cosine_map@100": 0.3}
    assert evaluation.ir_scores(raw) == {"ndcg@10": 0.5, "mrr@10": 0.4, "recall@10": 0.7}
    with pytest.raises(KeyError):
        evaluation.ir_scores({"ir_dot_ndcg@10": 0.5})


def test_ir_evaluator_ranks_the_relevant_document_first():
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["apple", "banana", "car", "engine", "fruit", "motor", "[UNK]"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    import torch

    # Two topics in orthogonal directions: fruit words on axis 0, vehicle words on axis 1.
    weights = torch.tensor([[1.0, 0], [1, 0], [0, 1], [0, 1], [1, 0], [0, 1], [0.01, 0.01]])
    model = SentenceTransformer(modules=[StaticEmbedding(tokenizer, embedding_weights=weights)])
    data = evaluation.RetrievalData(
        corpus={"d1": "apple banana", "d2": "car engine"},
        queries={"q1": "fruit", "q2": "motor"},
        relevant={"q1": {"d1"}, "q2": {"d2"}},
    )
    scores = evaluation.evaluate_ir(model, evaluation.ir_evaluator(data, name="toy"))
    assert scores["ndcg@10"] == pytest.approx(1.0)
    assert scores["recall@10"] == pytest.approx(1.0)
