"""A tiny 5x7 bitmap font (upper case, digits, common punctuation), so text
overlays need no font files. Lower case is drawn as upper case; unknown
characters as '?'."""

from __future__ import annotations

import numpy as np

GLYPH_H, GLYPH_W = 7, 5
"""Glyph cell size in font pixels; characters are spaced one column apart."""

# each glyph: 7 rows top to bottom, 5 bits per row (bit 4 = leftmost column)
_GLYPHS = {
    "A": "0E 11 11 11 1F 11 11", "B": "1E 11 11 1E 11 11 1E", "C": "0E 11 10 10 10 11 0E",
    "D": "1C 12 11 11 11 12 1C", "E": "1F 10 10 1E 10 10 1F", "F": "1F 10 10 1E 10 10 10",
    "G": "0E 11 10 17 11 11 0F", "H": "11 11 11 1F 11 11 11", "I": "0E 04 04 04 04 04 0E",
    "J": "07 02 02 02 02 12 0C", "K": "11 12 14 18 14 12 11", "L": "10 10 10 10 10 10 1F",
    "M": "11 1B 15 15 11 11 11", "N": "11 11 19 15 13 11 11", "O": "0E 11 11 11 11 11 0E",
    "P": "1E 11 11 1E 10 10 10", "Q": "0E 11 11 11 15 12 0D", "R": "1E 11 11 1E 14 12 11",
    "S": "0F 10 10 0E 01 01 1E", "T": "1F 04 04 04 04 04 04", "U": "11 11 11 11 11 11 0E",
    "V": "11 11 11 11 11 0A 04", "W": "11 11 11 15 15 15 0A", "X": "11 11 0A 04 0A 11 11",
    "Y": "11 11 11 0A 04 04 04", "Z": "1F 01 02 04 08 10 1F",
    "0": "0E 11 13 15 19 11 0E", "1": "04 0C 04 04 04 04 0E", "2": "0E 11 01 02 04 08 1F",
    "3": "1F 02 04 02 01 11 0E", "4": "02 06 0A 12 1F 02 02", "5": "1F 10 1E 01 01 11 0E",
    "6": "06 08 10 1E 11 11 0E", "7": "1F 01 02 04 08 08 08", "8": "0E 11 11 0E 11 11 0E",
    "9": "0E 11 11 0F 01 02 0C",
    " ": "00 00 00 00 00 00 00", "!": "04 04 04 04 04 00 04", "?": "0E 11 01 02 04 00 04",
    ".": "00 00 00 00 00 0C 0C", ",": "00 00 00 00 0C 04 08", ":": "00 0C 0C 00 0C 0C 00",
    ";": "00 0C 0C 00 0C 04 08", "-": "00 00 00 1F 00 00 00", "+": "00 04 04 1F 04 04 00",
    "=": "00 00 1F 00 1F 00 00", "_": "00 00 00 00 00 00 1F", "/": "00 01 02 04 08 10 00",
    "(": "02 04 08 08 08 04 02", ")": "08 04 02 02 02 04 08", "'": "0C 04 08 00 00 00 00",
    '"': "0A 0A 0A 00 00 00 00", "#": "0A 0A 1F 0A 1F 0A 0A", "@": "0E 11 01 0D 15 15 0E",
    "&": "0C 12 14 08 15 12 0D", "%": "18 19 02 04 08 13 03", "*": "00 04 15 0E 15 04 00",
    "$": "04 0F 14 0E 05 1E 04",
}

CHARSET = "".join(sorted(_GLYPHS))
"""Every character the font can draw (besides lower case)."""

_INDEX = {ch: i for i, ch in enumerate(CHARSET)}
_BITS = np.array(
    [[[(int(row, 16) >> (GLYPH_W - 1 - c)) & 1 for c in range(GLYPH_W)] for row in _GLYPHS[ch].split()]
     for ch in CHARSET],
    dtype=bool,
)  # [n_glyphs, 7, 5]


def text_mask(text: str, scale: int = 1) -> np.ndarray:
    """bool [7 * scale, (6 * len(text) - 1) * scale] mask of `text` drawn in
    one line with each font pixel as a scale x scale block."""
    if not text:
        return np.zeros((GLYPH_H * scale, 0), dtype=bool)
    ids = [_INDEX.get(ch, _INDEX["?"]) for ch in text.upper()]
    cells = np.zeros((len(ids), GLYPH_H, GLYPH_W + 1), dtype=bool)
    cells[:, :, :GLYPH_W] = _BITS[ids]
    line = cells.transpose(1, 0, 2).reshape(GLYPH_H, -1)[:, :-1]
    return np.repeat(np.repeat(line, scale, axis=0), scale, axis=1)
