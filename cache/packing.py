"""Padding-free batches for BERT-family sentence encoders: a batch runs as one packed sequence.

Why: a padded batch of 16 video prompts is about a fifth padding, and every linear layer,
GELU and LayerNorm pays for those tokens; on a 2-core CPU the linear layers already run near
the cores' peak, so padding is the largest waste left in a batch. Packing concatenates the
batch's token ids into one row (position ids restart at 0 for every prompt), so those layers
see only real tokens, and attention runs per prompt over its own slice of the row. Each
prompt's vector is what the padded forward (and ``SentenceTransformer.encode``) computes, to
float32 rounding; `packed_forward` checks that on the loaded model before it is used.

Attention is swapped through transformers' documented extension point, AttentionInterface,
under one name. Without the packing argument the function is transformers' own SDPA
attention, so a model switched to it behaves as before for every other caller. The switch
lives in the model's config, which anyone holding the model can change back: every packed
forward counts the layers whose attention honoured the packing and, if any did not, encodes
the batch padded instead of returning vectors computed across prompts. (A model switched
to the name works only in processes that import this module: not in a spawned worker pool.)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog

ATTENTION_NAME = "videocache_packed"
SEGMENTS_ARG = "videocache_segments"  # forwarded by the model to each attention call

# (unit vectors, token counts without special tokens and before truncation)
Encoded = tuple[np.ndarray, list[int]]
Forward = Callable[[list[str]], Encoded]

# Short, one-token and empty prompts side by side: what packing has to get right (positions
# restarting, segment bounds, special tokens) shows on any of them. No long prompt: a probe
# padded to hundreds of tokens leaves tens of MB of freed activations in the process's heap.
# Truncation is the tokenizer's own in both paths (tests compare them on long prompts).
PROBES = (
    "A red car driving down a highway at night",
    "x",
    "",
    "Slow dolly shot of three origami cranes on a windowsill, morning light, 35mm film.",
)


@dataclass
class Segments:
    """The packing argument: each prompt's token count, and how many attention layers
    have split their attention by them (the proof that packing was honoured)."""

    lengths: list[int]
    layers: int = 0


def token_counts(tokenizer: Any, texts: list[str]) -> list[int]:
    """Tokens per text as the model sees it (without [CLS]/[SEP]), before truncation."""
    return [
        len(ids) for ids in tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
    ]


def _packed_sdpa(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[Any, None]:
    """Attention per prompt over its slice of the packed row; plain SDPA otherwise."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    segments: Segments | None = kwargs.pop(SEGMENTS_ARG, None)
    if segments is None:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs
        )
    segments.layers += 1
    lengths = segments.lengths
    sdpa = torch.nn.functional.scaled_dot_product_attention
    parts = [
        # (batch, heads, tokens, head_dim) -> (batch, tokens, heads, head_dim), as SDPA's own
        sdpa(q, k, v, dropout_p=dropout, scale=scaling).transpose(1, 2)
        for q, k, v in zip(
            query.split(lengths, dim=2),
            key.split(lengths, dim=2),
            value.split(lengths, dim=2),
            strict=True,
        )
    ]
    # One copy into a contiguous (batch, tokens, heads * head_dim) layout: the caller's
    # reshape is then free.
    return torch.cat(parts, dim=1), None


def register_attention() -> None:
    """Make ATTENTION_NAME known to transformers (idempotent: a registry write)."""
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask

    AttentionInterface.register(ATTENTION_NAME, _packed_sdpa)
    # The fallback path gets padded batches with an attention mask, built as for SDPA.
    AttentionMaskInterface.register(ATTENTION_NAME, sdpa_mask)


def supports_packing(network: Any) -> bool:
    """A BERT encoder with absolute positions on SDPA attention: what packing was built for.

    Other architectures (relative positions, rotary embeddings, decoders) would need their
    own position handling, so they keep the padded forward.
    """
    config = getattr(network, "config", None)
    return (
        config is not None
        and getattr(config, "model_type", None) == "bert"
        and not getattr(config, "is_decoder", False)
        and getattr(config, "position_embedding_type", "absolute") == "absolute"
        # "sdpa", or already switched to ours (which is SDPA without the packing argument)
        and getattr(config, "_attn_implementation", None) in ("sdpa", ATTENTION_NAME)
        and callable(getattr(network, "set_attn_implementation", None))
    )


def packed_forward(
    tokenizer: Any, network: Any, max_length: Callable[[], int], padded: Forward
) -> Forward | None:
    """A packed version of `padded` (same inputs, same outputs), or None when the network is
    not one packing supports or its vectors differ from `padded`'s on PROBES."""
    if not supports_packing(network):
        return None
    import torch

    specials = tokenizer.num_special_tokens_to_add(pair=False)
    layers = network.config.num_hidden_layers

    def packed(texts: list[str]) -> Encoded | None:
        """None when the batch cannot be or was not packed (the caller pads instead)."""
        limit = max_length()  # read per call, as encode() does
        ids: list[list[int]] = tokenizer(texts, truncation=True, max_length=limit)["input_ids"]
        lengths = [len(row) for row in ids]
        if min(lengths) == 0:  # a tokenizer without special tokens, an empty prompt
            return None
        counts = [n - specials for n in lengths]
        cut = [i for i, n in enumerate(lengths) if n >= limit]
        if cut:  # only truncated prompts need a second look for their full length
            for i, count in zip(cut, token_counts(tokenizer, [texts[i] for i in cut]), strict=True):
                counts[i] = count
        sizes = torch.tensor(lengths)
        starts = torch.cumsum(sizes, 0) - sizes
        input_ids = torch.tensor(list(itertools.chain.from_iterable(ids))).unsqueeze(0)
        positions = torch.arange(input_ids.shape[1]) - starts.repeat_interleave(sizes)
        segments = Segments(lengths)
        with torch.inference_mode():
            hidden = network(
                input_ids=input_ids,
                token_type_ids=torch.zeros_like(input_ids),
                position_ids=positions.unsqueeze(0),
                **{SEGMENTS_ARG: segments},
            ).last_hidden_state[0]
            if segments.layers != layers:  # attention switched away: prompts saw each other
                return None
            segment = torch.arange(len(texts)).repeat_interleave(sizes)
            sums = hidden.new_zeros(len(texts), hidden.shape[1]).index_add_(0, segment, hidden)
            pooled = sums / sizes.unsqueeze(1).to(hidden.dtype)
            vectors = torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()
        return vectors, counts

    def forward(texts: list[str]) -> Encoded:
        return packed(texts) or padded(texts)

    register_attention()
    previous = network.config._attn_implementation
    network.set_attn_implementation(ATTENTION_NAME)
    log = structlog.get_logger("videocache")
    try:
        got = packed(list(PROBES))
        want_vectors, want_counts = padded(list(PROBES))
        if got is None:
            agrees = False
            log.warning("packing_refused", error="attention did not split by prompt")
        else:
            difference = float(np.abs(got[0] - want_vectors).max())
            agrees = got[1] == want_counts and difference < 1e-5
            if not agrees:
                log.warning(
                    "packing_refused", max_difference=difference, counts_equal=got[1] == want_counts
                )
    except Exception as exc:  # a surprise in this model's internals: keep the padded path
        log.warning("packing_refused", error=repr(exc))
        agrees = False
    if not agrees:
        # What it was: another embedder sharing this model may be packing with it.
        network.set_attn_implementation(previous)
        return None
    return forward
