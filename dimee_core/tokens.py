"""Per-sample token counts for caches built before the npz held ``lengths``.

New caches store the counts the model actually processed. For old ones the counts are
recomputed from ``texts.json`` with the packaged model's tokenizer (the one the cache was
built with) and the build's ``max_length``; without texts or tokenizer, the stated
constant ``profiles.FALLBACK_TOKENS`` stands in, with a warning.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .cache import Cache
from .profiles import FALLBACK_TOKENS
from .splits import Split

PAIR_SEP = "\n[SEP] "  # how data.TextDataset.text joins a sentence pair


def count_tokens(texts: tuple[str, ...], tokenizer, max_length: int) -> np.ndarray:
    """Tokens the model would process per text ([CLS]/[SEP] included, truncated)."""
    pairs = [t.split(PAIR_SEP, 1) for t in texts]
    a = [p[0] for p in pairs]
    b = [p[1] if len(p) > 1 else None for p in pairs]
    if any(x is not None for x in b):
        enc = tokenizer(a, [x or "" for x in b], truncation=True, max_length=max_length)
    else:
        enc = tokenizer(a, truncation=True, max_length=max_length)
    return np.array([len(ids) for ids in enc["input_ids"]], dtype=np.int32)


def _tokenizer(cache: Cache):
    """The packaged backbone's tokenizer, or None (other model or package missing)."""
    from .model import MINILM_ALIASES, ModelError, find_minilm

    if cache.meta.get("model_id") not in MINILM_ALIASES:
        return None
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(find_minilm()))
    except (ModelError, OSError, ImportError, ValueError):
        return None


def with_lengths(cache: Cache) -> tuple[Cache, str | None]:
    """``cache`` with token counts on both splits, and a note saying where they came
    from when they were not stored (None when both splits held them)."""
    splits = (cache.calibration, cache.test)
    if all(s.lengths is not None for s in splits):
        return cache, None
    max_length = int((cache.meta.get("build_config") or {}).get("max_length") or 512)
    tok = _tokenizer(cache) if all(len(s.texts) == s.n for s in splits) else None

    def fill(s: Split) -> Split:
        if s.lengths is not None:
            return s
        counts = (count_tokens(s.texts, tok, max_length) if tok is not None
                  else np.full(s.n, FALLBACK_TOKENS, dtype=np.int32))
        return replace(s, lengths=counts)

    note = (f"token counts recomputed from the texts with the model's tokenizer "
            f"(max_length {max_length})" if tok is not None else
            f"no token counts stored and no tokenizer or texts to recompute them: every "
            f"sample is assumed to have {FALLBACK_TOKENS} tokens")
    return replace(cache, calibration=fill(cache.calibration), test=fill(cache.test)), note
