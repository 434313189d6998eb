"""Chunk tag schemes (IOB1, IOB2, BIOES, BILOU, BMES, IOE1, IOE2, IO): chunk extraction as conlleval does it,
conversion, and the tag transitions each scheme allows (for CRF constraints). Detecting a corpus' scheme is the
data modules' business (`tagging/scheme_detection.py`).

Pure Python and a leaf on purpose (it imports nothing of this project): models import it for the span
metric and the CRF constraints, data modules for reading and converting tags.
"""

from __future__ import annotations

from collections.abc import Iterable

Chunk = tuple[str, int, int]
"""(type, start, end exclusive)."""

SCHEMES = ("iob1", "iob2", "bioes", "bilou", "bmes", "ioe1", "ioe2", "io")
# BIOES with other letters: BILOU (spaCy's BILUO, Ratinov & Roth 2009), L(ast) = E(nd) and U(nit) = S(ingle); BMES
# (BMEOS of Chinese NER corpora: Resume, MSRA), M(iddle) = I(nside). Tags are read with BIOES letters, so every rule
# below serves all three; only `convert` writes the others' letters.
LETTERS = {"bioes": "BIES", "bilou": "BILU", "bmes": "BMES"}
"""Begin, inside, end and single letters of the BIOES family."""
SEPARATORS = "-_"
"""Between a chunk tag's prefix and type: conlleval's hyphen, or the underscore some corpora write ("B_PER")."""
_AS_BIOES = {"B": "B", "I": "I", "E": "E", "S": "S", "L": "E", "U": "S", "M": "I"}
# IOE1/IOE2 (Tjong Kim Sang & Veenstra 1999) mark chunk ends with E- instead of starts with B-; conlleval's rules
# (an E- closes its chunk, an I- after O or E- opens one) read them as they are. IO names the chunk type alone
# (Few-NERD's "person-actor", "O"): a run of one type is one chunk. It cannot be told from POS tags, so it is
# never detected (tagging/scheme_detection.py): --data.scheme io says so.


def split_tag(tag: str, scheme: str = "") -> tuple[str, str]:
    """Split "B-PER" into ("B", "PER"), with BILOU's L-/U- read as BIOES' E-/S- ("U-LOC" -> ("S", "LOC")); an
    underscore may stand for the hyphen ("B_PER" -> ("B", "PER"), SEPARATORS). A bare
    letter is an untyped chunk tag of type "" (conlleval's reading of the B/I/O files of NCBI-disease or BC5CDR):
    "B" -> ("B", ""). "O" and tags without such a prefix (POS tags, "-LRB-") are outside: ("O", ""), except under
    IO, where such a tag is its chunk type: "PER" -> ("I", "PER")."""
    if len(tag) > 2 and tag[1] in SEPARATORS and tag[0] in _AS_BIOES:
        return _AS_BIOES[tag[0]], tag[2:]
    if tag in _AS_BIOES:
        return _AS_BIOES[tag], ""
    if scheme == "io" and tag != "O":
        return "I", tag
    return "O", ""


def chunk_tag(prefix: str, type_: str, sep: str = "-") -> str:
    """The tag of `prefix` ("B") for chunk type `type_` ("PER"): "B-PER" ("B_PER" with `sep` "_"), or "B" for an
    untyped chunk."""
    return f"{prefix}{sep}{type_}" if type_ else prefix


def separator(tags: Iterable[str]) -> str:
    """The character most of `tags` put between prefix and type ("-" unless most write "B_PER"), so tags
    rewritten in another scheme keep the corpus' notation."""
    marks = [t[1] for t in tags if len(t) > 2 and t[1] in SEPARATORS and t[0] in _AS_BIOES]
    return "_" if marks.count("_") > len(marks) / 2 else "-"


def chunk_types(tags: Iterable[str], scheme: str = "") -> set[str]:
    """The chunk types that `tags` name ("B-PER", "I-PER", "O" -> {"PER"}; untyped "B", "I" -> {""})."""
    return {type_ for prefix, type_ in (split_tag(t, scheme) for t in tags) if prefix != "O"}


def _bioes_family(scheme: str) -> str:
    return "bioes" if scheme in LETTERS else scheme


def _end_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    # conlleval's endOfChunk, with the IOBES extension (S-, and E-/S- always closing) that seqeval also uses;
    # on IOB1/IOB2 input it is exactly conlleval.
    if prev_tag in ("E", "S"):
        return True
    if prev_tag in ("B", "I") and tag in ("B", "S", "O"):
        return True
    return prev_tag != "O" and prev_type != type_


def _start_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    # conlleval's startOfChunk (+ IOBES): an I-/E- after O, E- or S- starts a chunk, and so does a type change.
    if tag in ("B", "S"):
        return True
    if prev_tag in ("E", "S", "O") and tag in ("I", "E"):
        return True
    return tag != "O" and prev_type != type_


def chunks(tags: list[str], scheme: str = "iob2") -> list[Chunk]:
    """Chunks of one sentence exactly as CoNLL conlleval finds them (its rules cover IOB1, IOB2, IOBES, hence
    BILOU and BMES, and IOE1/IOE2 at once, so `scheme` only matters for "none", where POS-like tag sets have no
    chunks, and "io", where a tag without prefix is a chunk type)."""
    if scheme == "none":
        return []
    found: list[Chunk] = []
    prev_tag, prev_type, start = "O", "", -1
    for i, tag in enumerate(tags):
        cur_tag, cur_type = split_tag(tag, scheme)
        if start >= 0 and _end_of_chunk(prev_tag, cur_tag, prev_type, cur_type):
            found.append((prev_type, start, i))
            start = -1
        if _start_of_chunk(prev_tag, cur_tag, prev_type, cur_type):
            start = i
        prev_tag, prev_type = cur_tag, cur_type
    if start >= 0:
        found.append((prev_type, start, len(tags)))
    return found


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")


def convert(tags: list[str], source: str, target: str, sep: str = "") -> list[str]:
    """Rewrite one sentence's tags from `source` to `target` scheme (SCHEMES), via its chunks, with `sep` between
    prefix and type (by default the one `tags` use). Into IO, chunks of one type that touch merge: IO cannot write
    their border."""
    _check_scheme(source)
    _check_scheme(target)
    sep = sep or separator(tags)
    out = ["O"] * len(tags)
    found = chunks(tags, source)
    first, inside, last, single = LETTERS.get(target, "BIES")
    for k, (type_, start, end) in enumerate(found):
        # IOB1 marks B- where a chunk directly follows a chunk of its type, IOE1 E- where one directly precedes it.
        after_own = k > 0 and found[k - 1][0] == type_ and found[k - 1][2] == start
        before_own = k + 1 < len(found) and found[k + 1][0] == type_ and found[k + 1][1] == end
        out[start:end] = [(type_ or "I") if target == "io" else chunk_tag(inside, type_, sep)] * (end - start)
        if target in LETTERS:
            if end - start == 1:
                out[start] = chunk_tag(single, type_, sep)
            else:
                out[start], out[end - 1] = chunk_tag(first, type_, sep), chunk_tag(last, type_, sep)
        elif target == "iob2" or (target == "iob1" and after_own):
            out[start] = chunk_tag("B", type_, sep)
        elif target == "ioe2" or (target == "ioe1" and before_own):
            out[end - 1] = chunk_tag("E", type_, sep)
    return out


def _allowed(scheme: str, frm: tuple[str, str] | None, to: tuple[str, str] | None) -> bool:
    """May tag `to` follow tag `frm`? None stands for START (as frm) or END (as to)."""
    scheme = _bioes_family(scheme)
    if frm is None and to is None:
        return True  # an empty sequence
    if frm is None:
        first = {"iob1": "OI", "iob2": "OB", "bioes": "OBS"}.get(scheme, "OIE")  # ioe1, ioe2
        return to[0] in first
    from_tag, from_type = frm
    if to is None:
        return from_tag in {"bioes": "OES", "ioe2": "OE", "ioe1": "OI"}.get(scheme, "OBI")  # iob1, iob2
    to_tag, to_type = to
    same = from_type == to_type
    if scheme == "iob2":
        return to_tag in ("O", "B") or (from_tag in ("B", "I") and same)
    if scheme == "iob1":
        return to_tag in ("O", "I") or (from_tag in ("B", "I") and same)
    if scheme == "ioe2":  # inside a chunk (I-) only I-/E- of its type may follow
        return to_tag in ("I", "E") and same if from_tag == "I" else True
    if scheme == "ioe1":  # an E- promises a chunk of its type right after
        return to_tag in ("I", "E") and same if from_tag == "E" else True
    if from_tag in ("B", "I"):  # bioes: inside a chunk only I-/E- of the same type may follow
        return to_tag in ("I", "E") and same
    return to_tag in ("O", "B", "S")


def allowed_transitions(tag_names: list[str], scheme: str) -> list[tuple[int, int]]:
    """Allowed (from, to) pairs among tag indices; index len(tag_names) is START, len(tag_names) + 1 is END.
    Pairs run from tags or START to tags or END (START -> END counts as allowed). Under "none" and "io" (any
    tag may follow any), or for a tag whose prefix does not belong to the scheme (e.g. E- in IOB2), every pair
    is allowed."""
    n = len(tag_names)
    parsed: list[tuple[str, str] | None] = []
    free: list[bool] = []
    valid = {
        "iob1": "BIO",
        "iob2": "BIO",
        "bioes": "BIOES",
        "bilou": "BIOES",
        "bmes": "BIOES",
        "ioe1": "IOE",
        "ioe2": "IOE",
    }.get(scheme, "")  # as split_tag reads
    for name in tag_names:
        prefix, type_ = split_tag(name)
        parsed.append((prefix, type_))
        free.append(not valid or (name != "O" and prefix == "O") or prefix not in valid)
    pairs = []
    for i in range(n + 1):
        for j in list(range(n)) + [n + 1]:
            frm = parsed[i] if i < n else None
            to = parsed[j] if j < n else None
            if (i < n and free[i]) or (j < n and free[j]) or _allowed(scheme, frm, to):
                pairs.append((i, j))
    return pairs
