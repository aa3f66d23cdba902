"""Notebook 07's MLM adaptation: every dataloader worker must draw its own masks.

`DataCollatorForLanguageModeling(..., seed=s)` creates its random generator at its first call
(transformers 5.23, `data/data_collator.py`, `torch_call` -> `create_rng`): in the main process from `s`, in a
dataloader worker from `s + worker id`. If the collator is called once in the main process (to show an example)
before training, the workers forked afterwards inherit that generator, skip their own seeding, and all draw the
same masks. On CUDA the course trains with `dataloader_num_workers=4` at quick/full; here two workers show it.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import torch
from datasets import Dataset
from transformers import AutoConfig, AutoModelForMaskedLM, AutoTokenizer, DataCollatorForLanguageModeling

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "07_domain_adaptation.ipynb"
MLM_CELL, TRAIN_CELL = "55bfdcdf", "324d97f0"


def _masks(collator, dataset, workers: int) -> list[torch.Tensor]:
    """The `labels != -100` pattern of each batch (one row per batch) as the dataloader's workers make them."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, num_workers=workers, collate_fn=collator)
    return [batch["labels"][0] != -100 for batch in loader]


def test_each_worker_draws_its_own_masks(sample_profile):
    import helpers

    cells = {c.get("id"): c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells}
    assert "data_collator=collator" in cells[TRAIN_CELL], "the trainer is given the collator built in the MLM cell"
    scale = sample_profile.scale
    sentence = "the quick brown fox jumps over the lazy dog while the cat sleeps on a warm mat by the door"
    ns = {
        "AutoConfig": AutoConfig, "AutoModelForMaskedLM": AutoModelForMaskedLM, "AutoTokenizer": AutoTokenizer,
        "Dataset": Dataset, "DataCollatorForLanguageModeling": DataCollatorForLanguageModeling,
        "helpers": helpers, "profile": sample_profile, "scale": scale, "device": "cpu",
        "base_path": helpers.model_location(scale.base_model),
        "domain_sentences": [sentence] * 8,  # identical rows: identical masks can only come from identical draws
    }
    exec(compile(cells[MLM_CELL], "07 MLM cell", "exec"), ns)
    masks = _masks(ns["collator"], ns["mlm_dataset"], workers=2)  # worker 0 makes batches 0, 2, ...; worker 1 the rest
    assert len(masks) == 8 and all(m.any() for m in masks)
    same = [bool(torch.equal(masks[i], masks[i + 1])) for i in (0, 2, 4, 6)]
    assert not all(same), "both workers drew the same masks for the same rows: they share one random generator"
    # And a rerun gives the same masks (the seed still makes the run reproducible).
    def fresh() -> DataCollatorForLanguageModeling:
        return DataCollatorForLanguageModeling(tokenizer=ns["mlm_tokenizer"], mlm_probability=0.15,
                                               seed=sample_profile.seed)

    first, second = _masks(fresh(), ns["mlm_dataset"], workers=2), _masks(fresh(), ns["mlm_dataset"], workers=2)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
