"""CLIP's byte-level BPE tokenizer, reading the official vocabulary file format (bpe_simple_vocab_16e6.txt.gz).

Written from the published algorithm. The official pattern uses the `regex` module's \\p{L} / \\p{N}; Debian's
Python has no `regex`, so letters and numbers use `re`'s Unicode classes instead, which agree on the ASCII prompts
the exporter tokenizes. ftfy's text repair is likewise unnecessary for those fixed prompts.
"""
from __future__ import annotations

import gzip
import html
import re
from functools import lru_cache

from .errors import ExportError

# The official loader keeps lines [1, 49152-256-2+1) of the file as merges.
MAX_MERGES = 49152 - 256 - 2
SOT = "<|startoftext|>"
EOT = "<|endoftext|>"
_PATTERN = re.compile(
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|(?:[^\s\w]|_)+", re.IGNORECASE
)


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes)))


def read_merges(path: str) -> list[tuple[str, str]]:
    try:
        with gzip.open(path) as fh:
            text = fh.read().decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise ExportError(path, f"not a gzip'd UTF-8 BPE vocabulary ({err.__class__.__name__})",
                          "pass CLIP's bpe_simple_vocab_16e6.txt.gz") from None
    lines = text.split("\n")
    if not lines[0].startswith("#version"):
        raise ExportError(path, "first line is not a '#version' header, so this is not a CLIP BPE vocabulary",
                          "pass CLIP's bpe_simple_vocab_16e6.txt.gz")
    merges = []
    for number, line in enumerate(lines[1:MAX_MERGES + 1], start=2):
        parts = tuple(line.split())
        if len(parts) != 2:
            raise ExportError(path, f"line {number} is not a merge of two symbols", "pass CLIP's bpe_simple_vocab_16e6.txt.gz")
        merges.append(parts)
    if not merges:
        raise ExportError(path, "holds no merges", "pass CLIP's bpe_simple_vocab_16e6.txt.gz")
    return merges  # type: ignore[return-value]


def write_vocab(path: str, merges: list[tuple[str, str]]) -> None:
    """Writes merges in the official format: gzip, '#version' header, one merge per line, no trailing newline
    (the official reader would turn a trailing newline into an extra empty token)."""
    body = "\n".join(["#version: 0.2"] + [f"{a} {b}" for a, b in merges]).encode("utf-8")
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as fh:
        fh.write(body)


def _pairs(word: tuple[str, ...]) -> set[tuple[str, str]]:
    return {(word[i], word[i + 1]) for i in range(len(word) - 1)}


class Tokenizer:
    def __init__(self, vocab_path: str):
        self.path = vocab_path
        merges = read_merges(vocab_path)
        symbols = list(bytes_to_unicode().values())
        vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [SOT, EOT]
        self.encoder = {token: index for index, token in enumerate(vocab)}
        self.vocab_size = len(vocab)
        self.ranks = {merge: rank for rank, merge in enumerate(merges)}
        self.byte_encoder = bytes_to_unicode()

    def bpe(self, token: str) -> list[str]:
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            best = min(_pairs(word), key=lambda pair: self.ranks.get(pair, float("inf")))
            if best not in self.ranks:
                break
            first, second = best
            merged: list[str] = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = tuple(merged)
        return list(word)

    def encode(self, text: str) -> list[int]:
        text = html.unescape(html.unescape(text)).strip()
        text = re.sub(r"\s+", " ", text).strip().lower()
        ids: list[int] = []
        for piece in _PATTERN.findall(text):
            unicode_piece = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(unicode_piece))
        return ids

    def tokenize(self, texts: list[str], context_length: int) -> list[list[int]]:
        """SOT + tokens + EOT, zero-padded to context_length, as CLIP's tokenize() does."""
        rows = []
        for text in texts:
            ids = [self.encoder[SOT]] + self.encode(text) + [self.encoder[EOT]]
            if len(ids) > context_length:
                raise ExportError(self.path, f'prompt "{text}" needs {len(ids)} tokens, more than the context length {context_length}',
                                  "use the official vocabulary")
            rows.append(ids + [0] * (context_length - len(ids)))
        return rows


def learn_merges(words: list[str], count: int) -> list[tuple[str, str]]:
    """A small deterministic BPE training run over `words`, for tiny test vocabularies."""
    byte_encoder = bytes_to_unicode()
    corpus: dict[tuple[str, ...], int] = {}
    for word in words:
        symbols = [byte_encoder[b] for b in word.encode("utf-8")]
        key = tuple(symbols[:-1]) + (symbols[-1] + "</w>",)
        corpus[key] = corpus.get(key, 0) + 1
    merges: list[tuple[str, str]] = []
    while len(merges) < count:
        counts: dict[tuple[str, str], int] = {}
        for word, freq in corpus.items():
            for i in range(len(word) - 1):
                pair = (word[i], word[i + 1])
                counts[pair] = counts.get(pair, 0) + freq
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        merges.append(best)
        updated: dict[tuple[str, ...], int] = {}
        for word, freq in corpus.items():
            out: list[str] = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            updated[tuple(out)] = updated.get(tuple(out), 0) + freq
        corpus = updated
    return merges
