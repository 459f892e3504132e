"""Build a tiny, randomly initialised faster-whisper (CTranslate2 Whisper) model for tests.

usage: python scripts/build_test_model.py OUT_DIR

The weights are random, so the model decodes gibberish, but everything around the weights is
real: mel features, VAD, language detection, forced languages, timestamp rules and word
timestamps all run through faster-whisper and CTranslate2 as they do for a real model. The
output is the committed fixture tests/fixtures/models/tiny-random/.

Build-only dependencies (torch, transformers, tokenizers) are kept out of the project's
virtualenv; use a separate one:

    python3 -m venv /tmp/modelvenv
    /tmp/modelvenv/bin/pip install torch==2.13.0 transformers tokenizers ctranslate2
    /tmp/modelvenv/bin/python scripts/build_test_model.py tests/fixtures/models/tiny-random

(torch 2.13.0 is the version whose CPU wheel is available here; other versions pull CUDA.)
The output is deterministic: a fixed seed, a fixed vocabulary and no timestamps in any file.
The committed fixture was built with torch 2.13.0, transformers 5.23.0, tokenizers 0.23.3
and ctranslate2 4.8.5; other versions may initialise the random weights differently.

Vocabulary (1866 ids, Whisper's layout): 256 byte-level BPE symbols (no merges) and an empty
token (ids 0-256), <|endoftext|> 257, <|startoftranscript|> 258, 100 language tokens
<|en|> .. <|yue|> (259-358), <|translate|> <|transcribe|> <|startoflm|> <|startofprev|>
<|nocaptions|> <|notimestamps|> (359-364), then 1501 timestamps <|0.00|> .. <|30.00|>.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

# What the converter writes, plus preprocessor_config.json: the only files OUT_DIR may hold
# before it is replaced (so a mistyped OUT_DIR is never wiped).
OUTPUT_FILES = {
    "config.json",
    "model.bin",
    "preprocessor_config.json",
    "tokenizer.json",
    "vocabulary.json",
}

SEED = 20240501
TIMESTAMP_TOKENS = 1501  # <|0.00|> .. <|30.00|>, added by the converter after the tokenizer

# faster_whisper.tokenizer._LANGUAGE_CODES, in Whisper's token order (large-v3 adds "yue"
# last). Every code faster-whisper accepts needs a token, or forcing it would fail.
_LANGUAGE_LIST = """
    en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no
    th ur hr bg lt la mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw
    gl mr pa si km sn yo so af oc ka be tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl
    mg as tt haw ln ha ba jw su yue
"""
LANGUAGES = tuple(_LANGUAGE_LIST.split())

# Whisper's layout: text tokens, <|endoftext|>, <|startoftranscript|>, the languages, then the
# task tokens up to <|notimestamps|>; timestamp tokens follow. CTranslate2 relies on this
# order (the prompt is everything from <|startoftranscript|> to <|notimestamps|>).
SPECIAL_BEFORE_LANGUAGES = ("<|endoftext|>", "<|startoftranscript|>")
SPECIAL_AFTER_LANGUAGES = (
    "<|translate|>",
    "<|transcribe|>",
    "<|startoflm|>",
    "<|startofprev|>",
    "<|nocaptions|>",
    "<|notimestamps|>",
)

PREPROCESSOR_CONFIG = {
    "chunk_length": 30,
    "feature_extractor_type": "WhisperFeatureExtractor",
    "feature_size": 80,
    "hop_length": 160,
    "n_fft": 400,
    "n_samples": 480000,
    "nb_max_frames": 3000,
    "padding_side": "right",
    "padding_value": 0.0,
    "processor_class": "WhisperProcessor",
    "return_attention_mask": False,
    "sampling_rate": 16000,
}


def byte_symbols() -> list[str]:
    """GPT-2's printable stand-ins for the 256 byte values, in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def text_tokens() -> list[str]:
    """The 256 byte symbols, then an empty token, as multilingual Whisper's last text token
    is. CTranslate2 4.8 tells a multilingual model (language detection, any forced
    language) from an English-only one by that token; versions before it required at least
    51865 vocabulary entries instead, which this tiny model does not have.
    """
    return [*byte_symbols(), ""]


def special_tokens() -> list[str]:
    return [
        *SPECIAL_BEFORE_LANGUAGES,
        *(f"<|{code}|>" for code in LANGUAGES),
        *SPECIAL_AFTER_LANGUAGES,
    ]


def build_tokenizer(out: Path) -> Any:  # a transformers.PreTrainedTokenizerFast
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(text_tokens())}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(special_tokens())
    eot = SPECIAL_BEFORE_LANGUAGES[0]  # Whisper's bos, eos, unk and pad alike
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=eot, eos_token=eot, unk_token=eot, pad_token=eot
    )
    fast.save_pretrained(out)
    return fast


def build_model(out: Path, tokenizer: Any) -> None:
    import torch
    from transformers import GenerationConfig, WhisperConfig, WhisperForConditionalGeneration

    def tid(token: str) -> int:
        return tokenizer.convert_tokens_to_ids(token)

    eot, sot = tid("<|endoftext|>"), tid("<|startoftranscript|>")
    config = WhisperConfig(
        vocab_size=len(tokenizer) + TIMESTAMP_TOKENS,
        num_mel_bins=80,
        d_model=64,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_source_positions=1500,
        max_target_positions=448,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        decoder_start_token_id=sot,
        # Like Whisper: never start a transcript with a blank or with end-of-text.
        begin_suppress_tokens=[tokenizer.encode(" ", add_special_tokens=False)[0], eot],
        suppress_tokens=[],
    )
    torch.manual_seed(SEED)
    model = WhisperForConditionalGeneration(config).eval()
    # A fresh generation config (one derived from the model config drops extra fields on
    # load); CTranslate2's converter reads lang_to_id to know the languages for detection.
    model.generation_config = GenerationConfig(
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        decoder_start_token_id=sot,
        lang_to_id={f"<|{code}|>": tid(f"<|{code}|>") for code in LANGUAGES},
        suppress_tokens=[],
        begin_suppress_tokens=config.begin_suppress_tokens,
    )
    model.save_pretrained(out)


def build(out_dir: Path) -> None:
    import ctranslate2

    if out_dir.exists():
        unexpected = sorted(p.name for p in out_dir.iterdir() if p.name not in OUTPUT_FILES)
        if unexpected:
            raise SystemExit(f"{out_dir} holds other files ({', '.join(unexpected)}); not replaced")
    with tempfile.TemporaryDirectory() as tmp:
        hf_dir = Path(tmp) / "hf"
        tokenizer = build_tokenizer(hf_dir)
        build_model(hf_dir, tokenizer)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        converter = ctranslate2.converters.TransformersConverter(
            str(hf_dir), copy_files=["tokenizer.json"]
        )
        converter.convert(str(out_dir), quantization=None, force=True)
    (out_dir / "preprocessor_config.json").write_text(
        json.dumps(PREPROCESSOR_CONFIG, indent=2, sort_keys=True) + "\n"
    )


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    build(Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
