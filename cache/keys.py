"""Cache keys: what makes two video generation requests the same request.

The exact key covers every parameter plus the normalised prompt; the bucket key covers
everything except the prompt. Semantic lookup only compares prompts inside one bucket, so a
near-duplicate prompt can never return a video of another size, length, model, input image
or tenant.

Defaults are NOT applied here: the caller fills in model "sora-2", seconds "4" and size
"720x1280" when the client omits them (OpenAI's defaults), so a request that spells out the
defaults and one that omits them share a key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

from cache.normalize import has_single_quotes, normalize_prompt

DEFAULT_MODEL = "sora-2"
DEFAULT_SECONDS = "4"
DEFAULT_SIZE = "720x1280"

# Bumped when the key layout changes, so old entries stop matching instead of colliding.
_KEY_VERSION = 1


@dataclass(frozen=True)
class RequestFingerprint:
    """Everything about a create request that decides which video comes back.

    `input_reference` is a digest of the reference image bytes or URL ("" when absent);
    `params` holds every other body parameter as sorted (name, canonical JSON) pairs.
    """

    scope: str
    namespace: str
    model: str
    seconds: str
    size: str
    input_reference: str
    params: tuple[tuple[str, str], ...]
    prompt: str


def canonical_json(value: object) -> str:
    """Canonical JSON for a parameter value: sorted keys, no whitespace."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def canonical_params(params: dict[str, object]) -> tuple[tuple[str, str], ...]:
    """Turn the "every other parameter" dict into the sorted tuple RequestFingerprint holds."""
    return tuple(sorted((name, canonical_json(value)) for name, value in params.items()))


def _bucket_fields(fp: RequestFingerprint) -> dict[str, object]:
    return {
        "v": _KEY_VERSION,
        "scope": fp.scope,
        "namespace": fp.namespace,
        "model": fp.model,
        "seconds": fp.seconds,
        "size": fp.size,
        "input_reference": fp.input_reference,
        "params": [list(pair) for pair in sorted(fp.params)],
    }


def _digest(fields: dict[str, object]) -> str:
    return hashlib.sha256(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)).hexdigest()


def exact_key(fp: RequestFingerprint) -> str:
    """sha256 hex of canonical JSON of every field, with the prompt normalised."""
    fields = _bucket_fields(fp)
    prompt = normalize_prompt(fp.prompt)
    fields["prompt"] = prompt
    fields["kind"] = "exact"
    if '"' in prompt or "“" in prompt:
        # Quoted text keeps its case since 2026-11-24; entries keyed before that folded it
        # ("OPEN" under "open"), so prompts with quotes get keys of their own.
        fields["quoted"] = "case-kept"
    if has_single_quotes(prompt):
        # The same for single quotes ('OPEN'), which kept their case from later that day.
        fields["single_quoted"] = "case-kept"
    return _digest(fields)


def bucket_key(fp: RequestFingerprint) -> str:
    """sha256 hex of every field except the prompt: entries in one bucket differ by prompt only."""
    fields = _bucket_fields(fp)
    fields["kind"] = "bucket"
    return _digest(fields)
