"""CLIP's text tokenisation (byte-level BPE) and its vocabulary file, written for this project.

What has to agree with CLIP, because its text encoder was trained on these ids:
- Text is HTML-unescaped twice, whitespace runs become one space, ends are trimmed, everything is lower-cased.
- It is cut into pieces: the two marker strings, the contractions 's 't 're 've 'm 'll 'd, runs of letters, single
  digits (any Unicode number), runs of anything else that is not a space. Each piece's UTF-8 bytes are spelled with
  one character per byte, "</w>" is appended to the last one, and BPE joins adjacent symbols, earliest-listed merge
  first.
- Ids: the 256 byte characters, then the same with "</w>", then one token per merge in file order, then
  <|startoftext|> and <|endoftext|>. Every row is SOT, the pieces' ids, EOT, zeros up to the context length.
- The file (bpe_simple_vocab_16e6.txt.gz) is gzip'd UTF-8; its first line is a header that CLIP never reads, then
  one "left right" merge per line. Only the first 48894 merges count (49408 tokens = 512 + 48894 + 2).
Not reproduced: ftfy's mojibake repair (not packaged in Debian). The exporter only tokenizes its fixed ASCII
prompts, which that repair leaves alone.
"""
from __future__ import annotations

import gzip
import html
import os
import unicodedata
import zlib

from .errors import ExportError

END_OF_WORD = "</w>"
SOT = "<|startoftext|>"
EOT = "<|endoftext|>"
MAX_MERGES = 49408 - 2 * 256 - 2
UNLISTED = MAX_MERGES  # rank of a pair that is no merge: after every real one
# The header of the genuine file, byte for byte; write_vocab puts it on the tiny vocabularies too.
HEADER = '"bpe_simple_vocab_16e6.txt#version: 0.2'
CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")
VOCAB_FIX = "pass CLIP's bpe_simple_vocab_16e6.txt.gz as shipped"


def _stands_for_itself(byte: int) -> bool:
    # Bytes that are visible Latin-1 characters keep their own character. Space, the controls, DEL..NBSP and the
    # soft hyphen (0xAD) borrow characters from U+0100 on, so that no symbol is blank or invisible: the file
    # separates symbols with spaces and merges with newlines.
    return 0x21 <= byte <= 0x7E or (0xA1 <= byte <= 0xFF and byte != 0xAD)


def _byte_characters() -> tuple[str, ...]:
    table, borrowed = [], 0x100
    for byte in range(256):
        if _stands_for_itself(byte):
            table.append(chr(byte))
        else:
            table.append(chr(borrowed))
            borrowed += 1
    return tuple(table)


BYTE_CHAR = _byte_characters()  # BYTE_CHAR[b]: the one-character symbol of byte b
# Their ids follow code-point order: the kept Latin-1 characters (all below U+0100) come first, in byte order, then
# the borrowed ones, also in byte order.
BASE_SYMBOLS = sorted(BYTE_CHAR)


def spell(piece: str) -> list[str]:
    """A piece as BPE starts it: one symbol per UTF-8 byte, the last one marked as the end of the word."""
    symbols = [BYTE_CHAR[b] for b in piece.encode("utf-8")]
    symbols[-1] += END_OF_WORD
    return symbols


def _starts_with(text: str, at: int, literal: str) -> bool:
    # CLIP's pattern matches its literals ignoring case, so compare case-folded, one character at a time.
    window = text[at:at + len(literal)]
    return len(window) == len(literal) and all(a.casefold() == b for a, b in zip(window, literal))


def _char_class(ch: str) -> str:
    if ch.isspace():
        return " "
    major = unicodedata.category(ch)[0]
    return major if major in "LN" else "?"  # letter, number, anything else


def split_words(text: str) -> list[str]:
    """The pieces of already cleaned text, left to right. At each position the first rule that applies wins:
    a marker, a contraction, a letter run, one number character, a run of other non-space characters; spaces only
    separate."""
    pieces: list[str] = []
    at = 0
    while at < len(text):
        literal = next((w for w in (SOT, EOT) + CONTRACTIONS if _starts_with(text, at, w)), None)
        if literal:
            pieces.append(text[at:at + len(literal)])
            at += len(literal)
            continue
        kind = _char_class(text[at])
        end = at + 1
        if kind in "L?":  # runs; a number always stands alone
            while end < len(text) and _char_class(text[end]) == kind:
                end += 1
        if kind != " ":
            pieces.append(text[at:end])
        at = end
    return pieces


def clean(text: str) -> str:
    text = html.unescape(html.unescape(text))  # twice, as CLIP does
    return " ".join(text.split()).lower()


def read_merges(path: str) -> list[tuple[str, str]]:
    """The merge list of a vocabulary file, refusing anything that is not one (ExportError)."""
    if not os.path.isfile(path):
        raise ExportError(path, "no such vocabulary file", "check the path given for --vocab")
    try:
        with gzip.open(path, "rb") as fh:
            text = fh.read().decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as err:
        raise ExportError(path, f"not a gzip'd UTF-8 BPE vocabulary ({err.__class__.__name__})", VOCAB_FIX) from None
    lines = text.split("\n")
    # Every token a merge may use: the byte symbols (also as word ends) and what earlier merges made. A merge list
    # always builds on itself this way, so the check refuses text files and truncated or shuffled lists; it is
    # also what lets Tokenizer.bpe join one pair at a time.
    made: dict[str, int] = {s: 0 for s in BASE_SYMBOLS} | {s + END_OF_WORD: 0 for s in BASE_SYMBOLS}
    merges: list[tuple[str, str]] = []
    for number, line in enumerate(lines[1:1 + MAX_MERGES], start=2):  # line 1 is the header
        parts = line.split()
        if len(parts) != 2:
            problem = "is empty" if not parts else f"holds {len(parts)} fields"
            raise ExportError(path, f"line {number} {problem}, not a merge of two symbols, so this is not a BPE merge list", VOCAB_FIX)
        for part in parts:
            if part not in made:
                raise ExportError(path, f"line {number} merges {part!r}, which no earlier line made, so this is not a BPE merge list", VOCAB_FIX)
        token = parts[0] + parts[1]
        if token in made:
            earlier = f"line {made[token]}" if made[token] else "the byte symbols"
            raise ExportError(path, f"line {number} makes {token!r} again (already made by {earlier})", VOCAB_FIX)
        made[token] = number
        merges.append((parts[0], parts[1]))
    if not merges:
        raise ExportError(path, "holds no merges after its header line", VOCAB_FIX)
    return merges


def write_vocab(path: str, merges: list[tuple[str, str]]) -> None:
    """A vocabulary file in the genuine format (gzip, the same header line, one merge per line), reproducibly
    (no name or time in the gzip header). No newline after the last merge: the genuine file's final newline lies past
    the 48894 merges CLIP reads, in a short file it would be read as an empty merge."""
    body = "\n".join([HEADER] + [f"{left} {right}" for left, right in merges]).encode("utf-8")
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as fh:
        fh.write(body)


class Tokenizer:
    def __init__(self, vocab_path: str):
        self.path = vocab_path
        self.merges = read_merges(vocab_path)
        self._rank = {pair: rank for rank, pair in enumerate(self.merges)}
        tokens = BASE_SYMBOLS + [s + END_OF_WORD for s in BASE_SYMBOLS] + [a + b for a, b in self.merges] + [SOT, EOT]
        self._ids = {token: index for index, token in enumerate(tokens)}
        self.vocab_size = len(tokens)

    def bpe(self, piece: str) -> list[str]:
        """A piece's tokens. Each step joins the single adjacent pair listed earliest (the leftmost of equals).
        That equals joining every occurrence of that pair in one left-to-right sweep: what a join creates can only
        take part in merges listed later (read_merges checks it), so the next steps pick the same pair further
        right until none is left."""
        symbols = spell(piece)
        while len(symbols) > 1:
            rank, at = min((self._rank.get(pair, UNLISTED), at) for at, pair in enumerate(zip(symbols, symbols[1:])))
            if rank == UNLISTED:
                break
            symbols[at:at + 2] = [symbols[at] + symbols[at + 1]]
        return symbols

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for piece in split_words(clean(text)):
            if piece in (SOT, EOT):  # a marker written in the text is the marker itself
                ids.append(self._ids[piece])
            else:
                ids.extend(self._ids[token] for token in self.bpe(piece))
        return ids

    def tokenize(self, texts: list[str], context_length: int) -> list[list[int]]:
        """One row per text: SOT, its ids, EOT, zeros up to context_length."""
        rows = []
        for text in texts:
            row = [self._ids[SOT], *self.encode(text), self._ids[EOT]]
            if len(row) > context_length:
                raise ExportError(self.path, f'prompt "{text}" needs {len(row)} tokens, more than the context length {context_length}',
                                  "use the official vocabulary")
            rows.append(row + [0] * (context_length - len(row)))
        return rows


def learn_merges(words: list[str], count: int) -> list[tuple[str, str]]:
    """A small deterministic BPE training run over `words`, for tiny test vocabularies: repeatedly merge the most
    frequent adjacent pair (ties: the smallest pair)."""
    corpus: dict[tuple[str, ...], int] = {}
    for word in words:
        key = tuple(spell(word))
        corpus[key] = corpus.get(key, 0) + 1
    merges: list[tuple[str, str]] = []
    while len(merges) < count:
        counts: dict[tuple[str, str], int] = {}
        for word, freq in corpus.items():
            for pair in zip(word, word[1:]):
                counts[pair] = counts.get(pair, 0) + freq
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        merges.append(best)
        joined: dict[tuple[str, ...], int] = {}
        for word, freq in corpus.items():
            key = _join_all(word, best)
            joined[key] = joined.get(key, 0) + freq
        corpus = joined
    return merges


def _join_all(word: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    """Every occurrence of pair joined, left to right (in "a a a" only the first two a join)."""
    out: list[str] = []
    at = 0
    while at < len(word):
        if word[at:at + 2] == pair:
            out.append(pair[0] + pair[1])
            at += 2
        else:
            out.append(word[at])
            at += 1
    return tuple(out)
