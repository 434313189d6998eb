"""Tag schemes: conlleval chunking, scheme detection, conversion and CRF transition constraints."""

from __future__ import annotations

import random

import pytest
from seqeval.metrics.sequence_labeling import get_entities
from seqeval.scheme import BILOU, Entities

from data_modules.tag_schemes import allowed_transitions, chunks, convert, separator
from data_modules.tagging.scheme_detection import detect_scheme

TYPES = ["PER", "LOC", "ORG"]
SCHEMES = ["iob1", "iob2", "bioes", "bilou", "bmes", "ioe1", "ioe2", "io"]


def random_chunking(rng: random.Random, length: int) -> list[str]:
    """A valid IOB2 sentence, with same-type chunks often adjacent (so IOB1 needs B-)."""
    tags: list[str] = []
    while len(tags) < length:
        if rng.random() < 0.3:
            tags.append("O")
            continue
        type_ = rng.choice(TYPES[:2])
        size = min(rng.randint(1, 3), length - len(tags))
        tags += [f"B-{type_}"] + [f"I-{type_}"] * (size - 1)
    return tags


def all_tags(scheme: str) -> list[str]:
    if scheme == "io":
        return ["O", *TYPES]
    prefixes = {"bioes": "BIES", "bilou": "BILU", "bmes": "BMES", "ioe1": "IE", "ioe2": "IE"}.get(
        scheme, "BI"
    )
    return ["O"] + [f"{p}-{t}" for t in TYPES for p in prefixes]


def _split(tags: str) -> list[str]:
    return tags.split()


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ("B-PER I-PER O B-LOC", [("PER", 0, 2), ("LOC", 3, 4)]),
        ("O I-PER I-PER O", [("PER", 1, 3)]),  # I- after O starts a chunk
        ("I-PER", [("PER", 0, 1)]),  # I- at sentence start
        ("B-PER I-LOC I-LOC", [("PER", 0, 1), ("LOC", 1, 3)]),  # a type change ends the chunk
        ("O O B-ORG I-ORG", [("ORG", 2, 4)]),  # chunk at sentence end
        ("B-PER B-PER B-LOC", [("PER", 0, 1), ("PER", 1, 2), ("LOC", 2, 3)]),  # single-token chunks
        ("I-PER I-PER B-PER O I-LOC", [("PER", 0, 2), ("PER", 2, 3), ("LOC", 4, 5)]),  # IOB1
        ("B-PER E-PER S-LOC B-ORG I-ORG E-ORG O", [("PER", 0, 2), ("LOC", 2, 3), ("ORG", 3, 6)]),  # BIOES
        ("E-PER I-PER S-PER I-PER", [("PER", 0, 1), ("PER", 1, 2), ("PER", 2, 3), ("PER", 3, 4)]),
        ("", []),
        ("O NN -LRB-", []),  # tags without a chunk prefix are outside
    ],
)
def test_chunks_edge_cases(tags: str, expected: list) -> None:
    assert chunks(tags.split()) == expected


def test_chunks_match_seqeval_on_random_tags() -> None:
    # seqeval's default mode is conlleval's rules extended to IOBES; any garbage sequence must agree.
    rng = random.Random(0)
    alphabet = all_tags("bioes")
    for _ in range(500):
        tags = [rng.choice(alphabet) for _ in range(rng.randint(0, 12))]
        expected = [(t, s, e + 1) for t, s, e in get_entities(tags)]
        assert chunks(tags) == expected, tags


def test_bilou_chunks_are_seqeval_strict_bilou_entities() -> None:
    """seqeval's BILOU scheme is an independent reader of L-/U- tags (strict mode: valid sequences only)."""
    rng = random.Random(3)
    for _ in range(300):
        tags = convert(random_chunking(rng, rng.randint(1, 14)), "iob2", "bilou")
        expected = sorted((e.tag, e.start, e.end) for e in Entities([tags], BILOU).entities[0])
        assert sorted(chunks(tags)) == expected, tags


def test_a_bilou_corpus_is_detected_as_bilou_not_as_iob2_with_its_l_and_u_tags_outside() -> None:
    # before: U-LOC and L-PER were no chunk tags, so this read as IOB2 with a one-token PER chunk and no LOC
    corpus = [["B-PER", "L-PER", "O", "U-LOC"], ["U-ORG", "O", "B-MISC", "I-MISC", "L-MISC"]]
    assert detect_scheme(corpus) == "bilou"
    assert [chunks(t) for t in corpus] == [[("PER", 0, 2), ("LOC", 3, 4)], [("ORG", 0, 1), ("MISC", 2, 5)]]


def test_chunks_none_scheme_has_no_chunks() -> None:
    assert chunks(["B-NP", "I-NP"], "none") == []


def test_detect_scheme() -> None:
    assert detect_scheme([["B-PER", "I-PER", "O"], ["B-LOC"]]) == "iob2"
    assert detect_scheme([["I-PER", "I-PER", "B-PER", "O", "I-LOC"]]) == "iob1"
    assert detect_scheme([["I-PER", "O"], ["I-LOC", "I-LOC"]]) == "iob1"
    # an I- chunk start, but also a B- after O: not IOB1, so it is (invalid) IOB2
    assert detect_scheme([["I-PER", "O"], ["O", "B-LOC"]]) == "iob2"
    assert detect_scheme([["B-PER", "E-PER", "O"], ["S-LOC"]]) == "bioes"
    assert detect_scheme([["NN", "VB", "DT"], ["-LRB-", "O"]]) == "none"
    assert detect_scheme([["O", "O"]]) == "none"


def test_convert_examples() -> None:
    iob2 = _split("B-PER I-PER B-PER O B-LOC I-LOC B-PER")
    assert convert(iob2, "iob2", "iob1") == _split("I-PER I-PER B-PER O I-LOC I-LOC I-PER")
    assert convert(iob2, "iob2", "bioes") == _split("B-PER E-PER S-PER O B-LOC E-LOC S-PER")
    iob1 = _split("I-PER I-PER B-PER O I-LOC I-PER")
    assert convert(iob1, "iob1", "iob2") == _split("B-PER I-PER B-PER O B-LOC B-PER")
    # invalid IOB2 (I- after O) is repaired the way conlleval reads it
    assert convert(["O", "I-PER", "I-PER"], "iob2", "iob2") == ["O", "B-PER", "I-PER"]
    assert convert(iob2, "iob2", "bilou") == _split("B-PER L-PER U-PER O B-LOC L-LOC U-PER")
    with pytest.raises(ValueError, match="unknown tag scheme"):
        convert(iob2, "iob2", "biluo")


def test_convert_round_trips() -> None:
    rng = random.Random(1)
    for _ in range(300):
        iob2 = random_chunking(rng, rng.randint(0, 15))
        bioes = convert(iob2, "iob2", "bioes")
        iob1 = convert(iob2, "iob2", "iob1")
        bilou = convert(iob2, "iob2", "bilou")
        assert bilou == [t.replace("E-", "L-").replace("S-", "U-") for t in bioes]  # the letters alone differ
        assert convert(bilou, "bilou", "iob2") == iob2 and convert(bioes, "bioes", "bilou") == bilou
        assert chunks(bilou) == chunks(bioes) and detect_scheme([bilou]) == (
            "bilou" if any(t[0] in "LU" for t in bilou) else detect_scheme([iob2])
        )
        bmes = convert(iob2, "iob2", "bmes")
        assert bmes == [t.replace("I-", "M-") for t in bioes]  # BMES (Chinese NER corpora): M- is I-
        assert convert(bmes, "bmes", "iob2") == iob2 and chunks(bmes) == chunks(bioes)
        assert detect_scheme([bmes]) == ("bmes" if any(t[0] == "M" for t in bmes) else detect_scheme([bioes]))
        assert convert(bioes, "bioes", "iob2") == iob2
        assert convert(iob1, "iob1", "iob2") == iob2
        assert convert(iob1, "iob1", "bioes") == bioes
        assert convert(bioes, "bioes", "iob1") == iob1
        assert chunks(iob1) == chunks(iob2) == chunks(bioes)
        for scheme, tags in (("iob1", iob1), ("iob2", iob2), ("bioes", bioes)):
            assert detect_scheme([tags]) == (scheme if chunks(tags) else "none")


def test_underscore_tags_are_chunk_tags_in_every_scheme_and_keep_their_underscore() -> None:
    """B_PER is B-PER written with an underscore: the same chunks (seqeval's default reader, which reads the type
    as "_PER", finds the same spans), the same detected scheme, and conversion writes the underscore back. Before,
    split_tag read such tags as outside, so a corpus of them had no chunks at all."""
    rng = random.Random(3)
    for _ in range(200):
        hyphen = random_chunking(rng, rng.randint(1, 15))
        under = [t.replace("-", "_", 1) for t in hyphen]
        assert chunks(under) == chunks(hyphen)
        assert [(t[1:], s, e + 1) for t, s, e in get_entities(under)] == chunks(hyphen)
        assert detect_scheme([under]) == detect_scheme([hyphen])
        for target in ("bioes", "bilou", "iob1", "ioe2"):
            assert convert(under, "iob2", target) == [
                t.replace("-", "_", 1) for t in convert(hyphen, "iob2", target)
            ]
    assert separator(["O", "B_PER", "I_PER", "B-LOC"]) == "_" and separator(["O", "-LRB-", "NN"]) == "-"
    assert convert(["B_PER", "O"], "iob2", "bioes", sep="-") == ["S-PER", "O"]
    names = ["O", "B_PER", "I_PER"]
    assert (names.index("O"), names.index("I_PER")) not in allowed_transitions(
        names, "iob2"
    )  # O -> I_ is invalid


def _transitions(tags: list[str], names: list[str]) -> list[tuple[int, int]]:
    index = [names.index(t) for t in tags]
    start, end = len(names), len(names) + 1
    return list(zip([start] + index, index + [end]))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_valid_sequences_use_only_allowed_transitions(scheme: str) -> None:
    names = all_tags(scheme)
    allowed = set(allowed_transitions(names, scheme))
    rng = random.Random(2)
    for _ in range(300):
        tags = convert(random_chunking(rng, rng.randint(1, 12)), "iob2", scheme)
        assert set(_transitions(tags, names)) <= allowed, tags


@pytest.mark.parametrize("scheme", SCHEMES)
def test_allowed_walks_are_valid_sequences(scheme: str) -> None:
    # The converse: any path through allowed transitions is a well-formed sentence (conversion is a no-op).
    names = all_tags(scheme)
    n = len(names)
    successors: dict[int, list[int]] = {}
    for i, j in allowed_transitions(names, scheme):
        successors.setdefault(i, []).append(j)
    rng = random.Random(3)
    for _ in range(300):
        state, tags = n, []
        while True:
            state = rng.choice(successors[state])
            if state == n + 1 or len(tags) >= 20:
                break
            tags.append(names[state])
        if state != n + 1:
            continue
        assert convert(tags, scheme, scheme) == tags, tags


def test_allowed_transitions_specific_pairs() -> None:
    names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    start, end = len(names), len(names) + 1
    iob2 = set(allowed_transitions(names, "iob2"))
    assert (0, 2) not in iob2  # O -> I-PER
    assert (1, 4) not in iob2  # B-PER -> I-LOC
    assert (start, 2) not in iob2
    assert {(0, 1), (1, 2), (2, 2), (2, 3), (start, 1), (2, end), (0, end)} <= iob2
    iob1 = set(allowed_transitions(names, "iob1"))
    assert (0, 2) in iob1 and (start, 2) in iob1 and (2, 4) in iob1
    assert (0, 1) not in iob1 and (start, 1) not in iob1 and (2, 3) not in iob1 and (2, 1) in iob1
    bnames = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    bioes = set(allowed_transitions(bnames, "bioes"))
    assert {(1, 2), (1, 3), (2, 3), (3, 0), (4, 1), (3, end), (4, end), (0, end)} <= bioes
    assert (1, 0) not in bioes and (1, end) not in bioes and (2, end) not in bioes and (0, 2) not in bioes
    pos = ["NN", "VB", "DT"]
    assert len(allowed_transitions(pos, "none")) == (len(pos) + 1) ** 2
    assert len(allowed_transitions(pos, "io")) == (len(pos) + 1) ** 2
