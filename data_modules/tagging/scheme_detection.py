"""Which chunk scheme a corpus' tags follow: the tags that contradict each scheme, and the one the fewest contradict.

Only data modules detect schemes (models meet tags whose scheme is known), so this lives beside the readers, not in
the `tag_schemes` leaf that models share.
"""

from __future__ import annotations

from collections.abc import Iterable

from data_modules.tag_schemes import LETTERS, SCHEMES, split_tag

_DETECTED = ("iob2", "bioes", "iob1", "ioe2", "ioe1")  # in this order on ties; IO is never detected


def contradictions(tag_sequences: Iterable[list[str]]) -> dict[str, dict[str, int]]:
    """Per scheme (SCHEMES), the tags that break its rules, with counts.

    iob2: an I- that starts a chunk, any E-/S-. iob1: a B- that does not follow a chunk of its type, any E-/S-.
    bioes: an I-/E- that starts a chunk, a B-/I- not followed by I-/E- of its type; bilou, bmes the same with their
    letters (L-/U-, M-).
    ioe2: an I- not followed by I-/E- of its type, any B-/S-. ioe1: an E- not followed by a chunk of its type,
    any B-/S-. io: any B-/E-/S- (an I- prefix is allowed: "I-PER" is PER).
    """
    found: dict[str, dict[str, int]] = {s: {} for s in SCHEMES}

    def note(scheme: str, tag: str) -> None:
        found[scheme][tag] = found[scheme].get(tag, 0) + 1

    def note_bioes(tag: str) -> None:
        for scheme in LETTERS:
            note(scheme, tag)

    for tags in tag_sequences:
        parsed = [split_tag(t) for t in tags]
        for i, (tag, (prefix, type_)) in enumerate(zip(tags, parsed, strict=True)):
            if prefix == "O":
                continue
            prev = parsed[i - 1] if i else ("O", "")
            nxt = parsed[i + 1] if i + 1 < len(parsed) else ("O", "")
            continues = prev[0] != "O" and prev[1] == type_
            followed = nxt[0] in ("I", "E") and nxt[1] == type_
            if prefix in ("E", "S"):
                note("iob2", tag)
                note("iob1", tag)
            if prefix in ("B", "S"):
                note("ioe2", tag)
                note("ioe1", tag)
            if prefix != "I":
                note("io", tag)
            if prefix == "I" and not followed:
                note("ioe2", tag)
            if prefix == "E" and not followed:
                note("ioe1", tag)
            if prefix == "I" and not continues:
                note("iob2", tag)
            if prefix == "B" and not continues:
                note("iob1", tag)
            if prefix in ("I", "E") and not (prev[0] in ("B", "I") and prev[1] == type_):
                note_bioes(tag)
            if prefix in ("B", "I") and not followed:
                note_bioes(tag)
    return found


def detect_scheme(tag_sequences: Iterable[list[str]]) -> str:
    """The scheme most tags support: the one the fewest tags contradict (ties: iob2, bioes, iob1, ioe2, ioe1),
    so a stray S- in IOB2 data does not make the corpus BIOES; bilou or bmes for BIOES written with L-/U- or M-;
    "none" when no tag has a B-/I-/E-/S-/L-/U-/M- prefix (IO without prefixes is never detected)."""
    return scheme_evidence(tag_sequences)[0]


def scheme_evidence(tag_sequences: Iterable[list[str]]) -> tuple[str, dict[str, int], int]:
    """(scheme, the tags that contradict it with counts, number of chunk tags) for a corpus' tags."""
    seqs = [list(t) for t in tag_sequences]
    chunk_tags = sum(1 for tags in seqs for t in tags if split_tag(t)[0] != "O")
    parsed = {t: split_tag(t) for tags in seqs for t in tags}
    bare = any(prefix != "O" and not type_ for prefix, type_ in parsed.values())
    if bare and any(t != "O" and prefix == "O" for t, (prefix, _) in parsed.items()):
        chunk_tags = (
            0  # a bare letter beside POS-like tags ("S" beside "NN") is one of them, not an untyped chunk
        )
    if chunk_tags == 0:
        return "none", {}, 0
    found = contradictions(seqs)
    best = min(_DETECTED, key=lambda s: sum(found[s].values()))
    if best == "bioes":  # which letters: most end/single tags are L-/U- (bilou), most inside tags M- (bmes)
        ends = [t[0] for tags in seqs for t in tags if split_tag(t)[0] in ("E", "S")]
        insides = [t[0] for tags in seqs for t in tags if split_tag(t)[0] == "I"]
        if sum(x in "LU" for x in ends) > len(ends) / 2:
            best = "bilou"
        elif sum(x == "M" for x in insides) > len(insides) / 2:
            best = "bmes"
    return best, found[best], chunk_tags
