"""Build a tiny, randomly initialised faster-whisper model on disk.

It transcribes gibberish; what it proves is that model loading, decoding, VAD,
word timestamps and the pipeline around them work without any download.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

D_MODEL = 64
HEADS = 2
FFN = 128
N_MELS = 80
TEXT_TOKENS = 50257  # ids 0..50256; Whisper's specials start at 50257
LANGUAGES = [
    "en",
    "zh",
    "de",
    "es",
    "ru",
    "ko",
    "fr",
    "ja",
    "pt",
    "tr",
    "pl",
    "ca",
    "nl",
    "ar",
    "sv",
    "it",
    "id",
    "hi",
    "fi",
    "vi",
    "he",
    "uk",
    "el",
    "ms",
    "cs",
    "ro",
    "da",
    "hu",
    "ta",
    "no",
    "th",
    "ur",
    "hr",
    "bg",
    "lt",
    "la",
    "mi",
    "ml",
    "cy",
    "sk",
    "te",
    "fa",
    "lv",
    "bn",
    "sr",
    "az",
    "sl",
    "kn",
    "et",
    "mk",
    "br",
    "eu",
    "is",
    "hy",
    "ne",
    "mn",
    "bs",
    "kk",
    "sq",
    "sw",
    "gl",
    "mr",
    "pa",
    "si",
    "km",
    "sn",
    "yo",
    "so",
    "af",
    "oc",
    "ka",
    "be",
    "tg",
    "sd",
    "gu",
    "am",
    "yi",
    "lo",
    "uz",
    "fo",
    "ht",
    "ps",
    "tk",
    "nn",
    "mt",
    "sa",
    "lb",
    "my",
    "bo",
    "tl",
    "mg",
    "as",
    "tt",
    "haw",
    "ln",
    "ha",
    "ba",
    "jw",
    "su",
]
SYLLABLES = ["ba", "ko", "ri", "ne", "sa", "tu", "lo", "mi", "de", "va", "po", "ga"]


def _byte_alphabet() -> list[str]:
    """GPT-2's byte-to-unicode table, so the tokenizer is byte-level like Whisper's."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def vocabulary() -> list[str]:
    tokens = _byte_alphabet()
    words = (a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES)
    tokens += ["Ġ" + w for w in words]
    i = 0
    while len(tokens) < TEXT_TOKENS - 1:
        tokens.append(f"Ġw{i}")
        i += 1
    tokens.append("")  # id 50256: ctranslate2 reads its presence as "multilingual"
    specials = ["<|endoftext|>", "<|startoftranscript|>"]
    specials += [f"<|{lang}|>" for lang in LANGUAGES]
    specials += [
        "<|translate|>",
        "<|transcribe|>",
        "<|startoflm|>",
        "<|startofprev|>",
        "<|nocaptions|>",
        "<|notimestamps|>",
    ]
    timestamps = [f"<|{i * 0.02:.2f}|>" for i in range(1501)]
    return tokens + specials + timestamps


def _tokenizer_json(tokens: list[str]) -> dict[str, object]:
    text = {tok: i for i, tok in enumerate(tokens[: TEXT_TOKENS - 1])}
    added = [
        {
            "id": i,
            "content": tok,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for i, tok in enumerate(tokens)
        if i >= TEXT_TOKENS
    ]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": True,
            "use_regex": True,
        },
        "post_processor": None,
        "decoder": {
            "type": "ByteLevel",
            "add_prefix_space": True,
            "trim_offsets": True,
            "use_regex": True,
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "vocab": text,
            "merges": [],
        },
    }


def _linear(spec: object, rng: np.random.Generator, out: int, inp: int, bias: bool = True) -> None:
    spec.weight = (rng.standard_normal((out, inp)) * 0.2).astype(np.float32)  # type: ignore[attr-defined]
    if bias:
        spec.bias = np.zeros(out, dtype=np.float32)  # type: ignore[attr-defined]


def _norm(spec: object) -> None:
    spec.gamma = np.ones(D_MODEL, dtype=np.float32)  # type: ignore[attr-defined]
    spec.beta = np.zeros(D_MODEL, dtype=np.float32)  # type: ignore[attr-defined]


def _ffn(spec: object, rng: np.random.Generator) -> None:
    _norm(spec.layer_norm)  # type: ignore[attr-defined]
    _linear(spec.linear_0, rng, FFN, D_MODEL)  # type: ignore[attr-defined]
    _linear(spec.linear_1, rng, D_MODEL, FFN)  # type: ignore[attr-defined]


def build(directory: Path, seed: int = 0) -> Path:
    """Write model.bin, config.json, vocabulary.json and tokenizer.json into directory."""
    from ctranslate2.specs import whisper_spec

    rng = np.random.default_rng(seed)
    tokens = vocabulary()
    spec = whisper_spec.WhisperSpec(1, HEADS, 1, HEADS)
    enc = spec.encoder
    enc.conv1.weight = (rng.standard_normal((D_MODEL, N_MELS, 3)) * 0.1).astype(np.float32)
    enc.conv1.bias = np.zeros(D_MODEL, dtype=np.float32)
    enc.conv2.weight = (rng.standard_normal((D_MODEL, D_MODEL, 3)) * 0.1).astype(np.float32)
    enc.conv2.bias = np.zeros(D_MODEL, dtype=np.float32)
    enc.position_encodings.encodings = (rng.standard_normal((1500, D_MODEL)) * 0.1).astype(
        np.float32
    )
    _norm(enc.layer_norm)
    for layer in enc.layer:
        _norm(layer.self_attention.layer_norm)
        _linear(layer.self_attention.linear[0], rng, 3 * D_MODEL, D_MODEL)
        _linear(layer.self_attention.linear[1], rng, D_MODEL, D_MODEL)
        _ffn(layer.ffn, rng)
    dec = spec.decoder
    dec.embeddings.weight = (rng.standard_normal((len(tokens), D_MODEL)) * 0.2).astype(np.float32)
    dec.position_encodings.encodings = (rng.standard_normal((448, D_MODEL)) * 0.1).astype(
        np.float32
    )
    _norm(dec.layer_norm)
    for layer in dec.layer:
        _norm(layer.self_attention.layer_norm)
        _linear(layer.self_attention.linear[0], rng, 3 * D_MODEL, D_MODEL)
        _linear(layer.self_attention.linear[1], rng, D_MODEL, D_MODEL)
        _norm(layer.attention.layer_norm)
        _linear(layer.attention.linear[0], rng, D_MODEL, D_MODEL)
        _linear(layer.attention.linear[1], rng, 2 * D_MODEL, D_MODEL)
        _linear(layer.attention.linear[2], rng, D_MODEL, D_MODEL)
        _ffn(layer.ffn, rng)
    _linear(dec.projection, rng, len(tokens), D_MODEL, bias=False)
    lang_ids = [TEXT_TOKENS + 2 + i for i in range(len(LANGUAGES))]
    spec.config.suppress_ids = []
    spec.config.suppress_ids_begin = [220, TEXT_TOKENS]
    spec.config.lang_ids = lang_ids
    spec.config.alignment_heads = [(0, h) for h in range(HEADS)]
    spec.register_vocabulary(tokens)
    spec.validate()
    spec.optimize(quantization="float32")
    directory.mkdir(parents=True, exist_ok=True)
    spec.save(str(directory))
    (directory / "tokenizer.json").write_text(json.dumps(_tokenizer_json(tokens)))
    (directory / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "feature_size": N_MELS,
                "sampling_rate": 16000,
                "hop_length": 160,
                "chunk_length": 30,
                "n_fft": 400,
            }
        )
    )
    return directory
