"""Grammar-constrained decoding for the transformers writer: the model can only emit JSON that fits a schema.

llguidance (MIT, one wheel with no dependencies) compiles the JSON schema into a grammar and, before every new
token, computes which tokens keep the text a valid prefix of a matching document; ``JsonSchemaProcessor`` (a
transformers logits processor) sets every other token's score to -inf, and allows only end-of-sequence once the
object is complete. Transformers applies it before temperature, top-k and top-p, so sampling only ever chooses
among allowed tokens.

The grammar fixes the shape, not the content: a reply cut off by max_new_tokens is still cut off, and strings
may still hold meta-talk. Callers keep parsing, repairing and validating the reply as before.

Nothing heavy is imported here until a processor is built.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import weakref
from typing import Any

log = logging.getLogger(__name__)

MODULE = "llguidance"
INSTALL = 'pip install llguidance (or pip install "storymode[hub]")'

# The JSON schema keywords llguidance turns into grammar (its docs/json_schema.md). Others are dropped by
# grammar_schema: validating the reply afterwards still checks what the grammar could not.
SUPPORTED = {"type", "properties", "required", "additionalProperties", "items", "prefixItems", "minItems",
             "maxItems", "enum", "const", "anyOf", "allOf", "$ref", "$defs", "definitions", "minLength",
             "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
# Keywords that only annotate: dropped too, silently (they never constrain anything).
ANNOTATIONS = {"title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated",
               "readOnly", "writeOnly"}
# One line of json.dumps-style JSON: ", " and ": " between items, no other whitespace. Flexible whitespace would
# let a model emit spaces or newlines without end; this keeps every token on the document.
JSON_STYLE = {"item_separator": ", ", "key_separator": ": ", "whitespace_flexible": False}

SAMPLE = '{"title": "Pip and the Moon", "scenes": [{"lines": [{"speaker": "narrator", "text": "Hi, Pip."}]}]}'
_TOKENIZERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # HF tokenizer -> {n_vocab: LLTokenizer}


class ConstraintUnavailable(Exception):
    """The constraint cannot be used with this model or schema; the message says why."""


def available() -> bool:
    """Whether llguidance is installed (without importing it)."""
    return importlib.util.find_spec(MODULE) is not None


def grammar_schema(schema: Any) -> Any:
    """A copy of schema without the keywords llguidance does not implement (the reply is validated anyway).

    Property names under ``properties``/``$defs`` are kept whatever they are; only keywords are filtered. The
    story's reply_schema uses only supported keywords today, so for it this returns an equal copy.
    """
    if isinstance(schema, list):
        return [grammar_schema(x) for x in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict = {}
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {name: grammar_schema(sub) for name, sub in value.items()}
        elif key in SUPPORTED:
            out[key] = grammar_schema(value) if key not in ("enum", "const", "required") else value
        elif key not in ANNOTATIONS:
            log.debug("the grammar ignores the schema keyword %r (the reply is still validated)", key)
    return out


def ll_tokenizer(tok: Any, n_vocab: int, eos_ids: list[int]) -> Any:
    """llguidance's view of a Hugging Face fast tokenizer (about a second for a large vocabulary; cached).

    ConstraintUnavailable (also cached) for slow tokenizers, ones llguidance cannot read, and ones whose tokens it
    reads as other text than the tokenizer decodes (checked on a JSON sample).
    """
    import llguidance.hf
    from transformers import PreTrainedTokenizerFast

    if not isinstance(tok, PreTrainedTokenizerFast):
        raise ConstraintUnavailable(f"the tokenizer ({type(tok).__name__}) is not a fast tokenizer")
    try:
        per_tok = _TOKENIZERS.setdefault(tok, {})
    except TypeError:  # not weak-referenceable: build it every time
        per_tok = {}
    key = (n_vocab, tuple(eos_ids))
    if key not in per_tok:
        try:
            lltok = llguidance.hf.from_tokenizer(tok, n_vocab=n_vocab, eos_token=eos_ids or None)
            ids = tok.encode(SAMPLE, add_special_tokens=False)
            mine, theirs = lltok.decode_str(ids).strip(), tok.decode(ids, skip_special_tokens=True).strip()
            if mine != theirs:  # the grammar would check other text than the reply holds
                raise ConstraintUnavailable(f"llguidance reads {SAMPLE!r} as {mine[:60]!r}, the tokenizer decodes "
                                            f"it as {theirs[:60]!r}")
            per_tok[key] = lltok
        except ConstraintUnavailable as err:
            per_tok[key] = err
        except Exception as err:  # noqa: BLE001 - tokenizers llguidance cannot read
            per_tok[key] = ConstraintUnavailable(f"llguidance cannot read this tokenizer: {err}")
    if isinstance(per_tok[key], ConstraintUnavailable):
        raise per_tok[key]
    return per_tok[key]


class JsonSchemaProcessor:
    """A transformers logits processor allowing only tokens that continue a JSON document matching a schema."""

    def __init__(self, tok: Any, schema: dict, *, n_vocab: int, eos_ids: list[int], prefix: str = "") -> None:
        import llguidance

        self.lltok = ll_tokenizer(tok, n_vocab, eos_ids)
        grammar = llguidance.LLMatcher.grammar_from_json_schema(json.dumps(grammar_schema(schema)),
                                                               overrides=JSON_STYLE)
        self._template = llguidance.LLMatcher(self.lltok, grammar, log_level=0)
        if self._template.is_error():
            raise ConstraintUnavailable(f"llguidance rejected the schema: {self._template.get_error()}")
        # text the prompt already holds (the opening '{'): the grammar starts after it. Greedy over the bytes, so
        # that no tokenizer adds a leading space the grammar would refuse.
        ids = self.lltok.greedy_tokenize(prefix) if prefix else []
        if ids and self.lltok.decode_bytes(ids) != prefix.encode():
            raise ConstraintUnavailable(f"no tokens spell the prompt's {prefix!r}")
        if ids and not self._template.consume_tokens(ids):
            raise ConstraintUnavailable(f"the grammar rejects the prompt's {prefix!r}: {self._template.get_error()}")
        self.n_vocab = n_vocab
        self.eos = eos_ids[0] if eos_ids else self.lltok.eos_token
        self.matchers: list[Any] = []
        self.errors: list[str] = []  # a matcher that errs stops its row with EOS; said here and logged
        self.mask_seconds = 0.0
        self._words = (n_vocab + 31) // 32

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        """scores with every token the grammar forbids after input_ids set to -inf."""
        import time

        import numpy as np
        import torch
        from llguidance.numpy import fill_next_token_bitmask

        t0 = time.perf_counter()
        batch = input_ids.shape[0]
        if not self.matchers:  # the first step: nothing generated yet
            self.matchers = [self._template.deep_copy() for _ in range(batch)]
        else:
            for row, matcher in enumerate(self.matchers):
                if not matcher.is_stopped() and not matcher.consume_token(int(input_ids[row, -1])):
                    self._error(matcher)
        bits = np.zeros((batch, self._words), dtype=np.int32)
        for row, matcher in enumerate(self.matchers):
            if matcher.is_error():
                bits.view(np.uint32)[row, self.eos // 32] = 1 << (self.eos % 32)  # only end-of-sequence
            else:
                fill_next_token_bitmask(matcher, bits, row)
        forbid = np.unpackbits(~bits.view(np.uint8), axis=1, bitorder="little")  # bit i of word w: token 32w+i
        vocab = scores.shape[-1]
        if forbid.shape[1] < vocab:  # logits wider than the tokenizer's vocabulary: the extra ids are never text
            forbid = np.pad(forbid, ((0, 0), (0, vocab - forbid.shape[1])), constant_values=1)
        forbid = torch.from_numpy(np.ascontiguousarray(forbid[:, :vocab]).view(np.bool_))
        out = scores.masked_fill(forbid.to(scores.device), float("-inf"))
        self.mask_seconds += time.perf_counter() - t0
        return out

    def _error(self, matcher: Any) -> None:
        msg = matcher.get_error() or "the grammar rejected a token"
        if msg not in self.errors:
            self.errors.append(msg)
            log.warning("constrained decoding stopped a reply: %s", msg)

    def accepting(self, row: int = 0) -> bool:
        """Whether row's text so far is a complete document of the schema."""
        return bool(self.matchers) and self.matchers[row].is_accepting()


def json_processor(tok: Any, model: Any, schema: dict, *, prefix: str = "") -> JsonSchemaProcessor:
    """A JsonSchemaProcessor for model's logits (ConstraintUnavailable when this model cannot use one)."""
    emb = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    n_vocab = int(emb.weight.shape[0]) if emb is not None and hasattr(emb, "weight") else 0
    n_vocab = max(n_vocab, int(getattr(model.config, "vocab_size", 0) or 0), len(tok))
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
    if tok.eos_token_id is not None and tok.eos_token_id not in eos_ids:
        eos_ids.append(tok.eos_token_id)
    if not eos_ids:
        raise ConstraintUnavailable("the model has no end-of-sequence token to stop on")
    return JsonSchemaProcessor(tok, schema, n_vocab=n_vocab, eos_ids=eos_ids, prefix=prefix)
