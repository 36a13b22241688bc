"""Grammar-constrained decoding in the transformers writer, on a tiny random model with a byte-level BPE tokenizer.

A randomly initialised model writes garbage. Under the grammar built from reply_schema(request) the same garbage
comes out as JSON that validates against that schema; without the grammar it is not JSON at all. That contrast is
what these tests check, for two seeds each.
"""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from storymode.errors import BackendError, MissingDependency, UsageError
from storymode.writers.llm import constrain
from storymode.writers.base import WriteRequest
from storymode.safety.rules import AUDIENCE_RULES
from storymode.writers.llm.common import COMPACT_SCHEMA, SYSTEM, messages, reply_schema

HAVE_HF = all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "tokenizers"))
HAVE_LLG = constrain.available()
needs_hf = pytest.mark.skipif(not HAVE_HF, reason="needs torch and transformers (pip install 'storymode[hub]')")
needs_llg = pytest.mark.skipif(not (HAVE_HF and HAVE_LLG), reason="needs torch, transformers and llguidance")

REQ = WriteRequest(prompt="a shy fox who learns to fly", scenes=3)
SEEDS = (1, 5)  # each seed's constrained reply closes well within BUDGET tokens (most seeds do: about 600-2700)
BUDGET = 4000


def build_tiny_model(folder: Path, vocab_size: int = 512, tokenizer_file: Path | None = None) -> Path:
    """A randomly initialised 1-layer Llama saved with a byte-level BPE tokenizer (trained here, offline)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from storymode.writers.planner.writer import PlannerWriter

    if tokenizer_file is None:
        corpus = [SYSTEM.format(schema=COMPACT_SCHEMA, rule=" ".join(AUDIENCE_RULES.values()))]
        for prompt in ("a shy fox who learns to fly", "a robot who wants to paint", "a sleepy bear"):
            story = PlannerWriter().write(WriteRequest(prompt=prompt, scenes=3))
            corpus += [story.to_json(), json.dumps(json.loads(story.to_json()))]
        tk = Tokenizer(models.BPE())
        tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tk.decoder = decoders.ByteLevel()
        tk.train_from_iterator(corpus, trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>", "<pad>"], show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
        tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                      pad_token="<pad>")
    else:  # an existing tokenizer.json, e.g. for a realistic vocabulary size in the benchmark
        tk = Tokenizer.from_file(str(tokenizer_file))
        eos = "<|endoftext|>" if tk.token_to_id("<|endoftext|>") is not None else "</s>"
        tok = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token=eos, pad_token=eos)
    tok.chat_template = ("{% for m in messages %}<s> {{ m['role'] }} : {{ m['content'] }} </s> {% endfor %}"
                         "{% if add_generation_prompt %}<s> assistant : {% endif %}")
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         num_key_value_heads=2, intermediate_size=32, max_position_embeddings=8192,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_bpe(tmp_path_factory):
    """The tiny model's folder; one torch thread while its tests run."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model gains nothing from threads, and threads spin on a busy machine
    yield build_tiny_model(tmp_path_factory.mktemp("tiny-bpe-llama"))
    torch.set_num_threads(threads)


def writer(folder: Path, **opts):
    """A TransformersWriter on folder, on the CPU, recording every raw reply in .raws."""
    from storymode.writers.llm.transformers_lm import TransformersWriter

    w = TransformersWriter(TransformersWriter.Options(model=str(folder), device="cpu", **opts))
    w.raws = []
    plain = w.generate

    def generate(msgs, schema=None):
        w.raws.append(plain(msgs, schema))
        return w.raws[-1]

    w.generate = generate
    return w


def schema_errors(raw: str, schema: dict) -> list[str]:
    """Why raw is not a JSON document valid against schema (empty when it is)."""
    jsonschema = pytest.importorskip("jsonschema")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        return [f"not JSON: {err}"]
    return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(data)]


# ---- without a model ---------------------------------------------------------------------------------------------

def test_grammar_schema_keeps_the_reply_schema_and_drops_only_unsupported_keywords():
    schema = reply_schema(REQ)
    assert constrain.grammar_schema(schema) == schema  # reply_schema uses only keywords llguidance implements
    odd = {"type": "object", "description": "x", "uniqueItems": True,
           "properties": {"description": {"type": "array", "uniqueItems": True, "items": {"type": "string"}},
                          "title": {"enum": ["a", "b"], "examples": ["a"]}}}
    assert constrain.grammar_schema(odd) == {
        "type": "object", "properties": {"description": {"type": "array", "items": {"type": "string"}},
                                         "title": {"enum": ["a", "b"]}}}


def test_module_imports_nothing_heavy():
    import subprocess
    import sys

    code = "import sys, storymode.writers.llm.constrain as c; print(any(m in sys.modules for m in " \
           "('torch', 'transformers', 'llguidance', 'numpy')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@needs_hf
def test_on_without_llguidance_names_the_package_and_auto_falls_back(tiny_bpe, monkeypatch):
    monkeypatch.setattr(constrain, "available", lambda: False)
    with pytest.raises(MissingDependency, match="llguidance"):
        writer(tiny_bpe, constrain="on", max_new_tokens=8).write(REQ)
    w = writer(tiny_bpe, constrain="auto", max_new_tokens=8, tries=1)
    with pytest.raises(BackendError, match="no valid story"):  # free text from a random model, as before
        w.write(REQ)
    assert w.usage and not any(u["constrained"] for u in w.usage)


@needs_llg
def test_tokenizer_llguidance_cannot_use(tmp_path):
    """A word-level tokenizer without a decoder (tokens joined by spaces): auto falls back, on says why."""
    import torch  # noqa: F401 - the writer needs it
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = sorted(set(re.findall(r"\w+|[^\w\s]", SYSTEM)))
    vocab = {t: i for i, t in enumerate(["<unk>", "<s>", "</s>", "<pad>"] + words)}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(r"\w+|[^\w\s]", behavior="isolated")
    PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                            pad_token="<pad>").save_pretrained(tmp_path)
    LlamaForCausalLM(LlamaConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                 num_key_value_heads=2, intermediate_size=32, bos_token_id=1, eos_token_id=2,
                                 pad_token_id=3)).save_pretrained(tmp_path)
    with pytest.raises(UsageError, match="cannot be constrained"):
        writer(tmp_path, constrain="on", max_new_tokens=8).write(REQ)
    w = writer(tmp_path, constrain="auto", max_new_tokens=8, tries=1)
    with pytest.raises(BackendError, match="no valid story"):  # unconstrained garbage
        w.write(REQ)
    assert w.usage and not w.usage[0]["constrained"]


# ---- the processor on a small schema -----------------------------------------------------------------------------

@needs_llg
@pytest.mark.parametrize("seed", SEEDS)
def test_processor_keeps_a_random_model_to_a_small_schema(tiny_bpe, seed):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_bpe)
    model = AutoModelForCausalLM.from_pretrained(tiny_bpe).eval()
    schema = {"type": "object", "properties": {
        "mood": {"type": "string", "enum": ["calm", "glad", "sleepy"]},
        "props": {"type": "array", "items": {"type": "string", "maxLength": 12}, "minItems": 1, "maxItems": 3}},
        "required": ["mood", "props"], "additionalProperties": False}
    inputs = tok("<s> a picture :", return_tensors="pt")
    proc = constrain.json_processor(tok, model, schema)
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=200, do_sample=True, logits_processor=[proc],
                             pad_token_id=tok.pad_token_id)
    ids = out[0, inputs["input_ids"].shape[1]:].tolist()
    raw = tok.decode(ids, skip_special_tokens=True)
    assert ids[-1] == tok.eos_token_id and proc.accepting() and not proc.errors  # closed, then stopped
    assert schema_errors(raw, schema) == [], raw
    assert raw.startswith('{"mood": "') and ', "props": [' in raw  # the one-line json.dumps style


@needs_llg
def test_processor_stops_a_row_whose_token_the_grammar_rejects(tiny_bpe):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_bpe)
    model = AutoModelForCausalLM.from_pretrained(tiny_bpe)
    proc = constrain.json_processor(tok, model, {"type": "object"}, prefix="{")
    scores = torch.zeros(1, model.config.vocab_size)
    first = proc(torch.tensor([[5]]), scores)
    allowed = torch.isfinite(first[0]).nonzero().flatten().tolist()
    assert tok.convert_tokens_to_ids("}") in allowed and tok.eos_token_id not in allowed
    bad = tok.convert_tokens_to_ids("{")  # '{{' is never JSON
    after = proc(torch.tensor([[5, bad]]), scores)
    assert torch.isfinite(after[0]).nonzero().flatten().tolist() == [tok.eos_token_id] and proc.errors


# ---- the writer, end to end --------------------------------------------------------------------------------------

@needs_llg
@pytest.mark.parametrize("seed", SEEDS)
def test_constrained_random_model_replies_with_schema_valid_json(tiny_bpe, seed):
    req = WriteRequest(prompt=REQ.prompt, scenes=3, seed=seed)
    w = writer(tiny_bpe, constrain="on", max_new_tokens=BUDGET, tries=1)
    story = w.write(req)  # garbage words, but a story: the one try is kept despite its quality problems
    assert 1 <= len(story.scenes) <= 3
    raw = w.raws[0]
    assert w.usage[0]["constrained"] and w.usage[0]["completion_tokens"] < BUDGET  # it closed the object
    assert schema_errors(raw, reply_schema(req)) == [], raw[:300]
    data = json.loads(raw)
    assert 1 <= len(data["scenes"]) <= 3 and all(s["lines"] for s in data["scenes"])
    assert all(s["brief"]["time_of_day"] in ("dawn", "day", "dusk", "night") for s in data["scenes"])


@needs_llg
@pytest.mark.parametrize("seed", SEEDS)
def test_same_random_model_without_constraint_is_not_json(tiny_bpe, seed):
    req = WriteRequest(prompt=REQ.prompt, scenes=3, seed=seed)
    w = writer(tiny_bpe, constrain="off", max_new_tokens=300, tries=1)
    with pytest.raises(BackendError, match="no valid story"):
        w.write(req)
    assert not w.usage[0]["constrained"]
    assert schema_errors(w.raws[0], reply_schema(req))  # the grammar, nothing else, made the difference above


@needs_llg
def test_briefs_for_text_are_not_constrained(tiny_bpe):
    w = writer(tiny_bpe, constrain="on", max_new_tokens=16)
    story = w.segment("Pip lived by the river.\n\nOne night Pip swam.", WriteRequest(prompt="pip", scenes=2))
    assert len(story.scenes) == 2 and w.usage and not w.usage[0]["constrained"]


def test_prompt_is_the_one_the_schema_describes():
    text = messages(REQ)[0]["content"]
    for key in reply_schema(REQ)["properties"]["scenes"]["items"]["properties"]["brief"]["properties"]:
        assert f'"{key}"' in text
