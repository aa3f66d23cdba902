"""Every kind of sentence model the course saves loads through `helpers.load_sentence_model`, the way notebook 08
loads them from `helpers.results.course_models`, with the course's `max_seq_length` where the model takes one.

Notebook 10 saves a `StaticEmbedding` model (model2vec), whose `max_seq_length` is a read-only property; setting it
crashed notebook 08 once 10 had run (`property 'max_seq_length' of 'StaticEmbedding' object has no setter`).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import helpers
from helpers.models import load_sentence_model, model_location, takes_max_seq_length
from helpers.results import course_models

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def _static(tokenizer_path: Path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path / "tokenizer.json"))
    return SentenceTransformer(modules=[StaticEmbedding(tokenizer, embedding_dim=16)], device="cpu")


@pytest.fixture
def saved_kinds(sample_profile) -> dict[str, Path]:
    """One saved folder per kind of model the course writes, named `<notebook>-<method>` like the notebooks'."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense

    models = helpers.out("models", "x").parent
    kinds = {
        "06-tsdae": helpers.build_encoder(MINILM, "cls", device="cpu"),  # CLS pooling, no Normalize
        "09-matryoshka": helpers.load_sentence_model(MINILM, device="cpu"),  # with its Normalize module
        "10-static-minilm": _static(Path(model_location(MINILM))),
    }
    dense = helpers.build_encoder(MINILM, "mean", device="cpu")
    kinds["04-dense-head"] = SentenceTransformer(
        modules=[*dense, Dense(dense.get_embedding_dimension(), 32)], device="cpu"
    )
    for name, model in kinds.items():
        model.save_pretrained(str(models / name))
    return {name: models / name for name in kinds}


def test_every_saved_kind_loads_with_the_course_length_where_it_applies(saved_kinds):
    found = {m.name: m for m in course_models(["*"])}
    assert set(found) == set(saved_kinds)
    for name, folder in saved_kinds.items():
        model = load_sentence_model(str(folder), max_seq_length=24, device="cpu")
        assert model.encode(["a short sentence", "another one"]).shape[0] == 2
        if name == "10-static-minilm":
            assert not takes_max_seq_length(model) and math.isinf(model.max_seq_length)
        else:
            assert takes_max_seq_length(model) and model.max_seq_length == 24


def test_the_static_model_raises_without_the_check(saved_kinds):
    """The failure the check prevents: the library's setter writes into a read-only property."""
    from sentence_transformers import SentenceTransformer

    static = SentenceTransformer(str(saved_kinds["10-static-minilm"]), device="cpu")
    with pytest.raises(AttributeError, match="no setter"):
        static.max_seq_length = 24
