"""Tag schemes beyond IOB/BIOES: IOE1, IOE2 (E- marks chunk ends), IO (types without prefixes, named by the user)
and untyped tags (bare B/I/O): reading, conversion, detection and CRF constraints, against seqeval where it is
right and against the IOB2 chunks the tags were made from."""

from __future__ import annotations

import random

import pytest
from seqeval.metrics.sequence_labeling import get_entities
from seqeval.scheme import IOE2, Entities

from data_modules.tag_schemes import allowed_transitions, chunks, convert
from data_modules.tagging.checks import decide_scheme
from data_modules.tagging.scheme_detection import contradictions, detect_scheme
from tests.test_tag_schemes import _split, random_chunking


@pytest.mark.parametrize("scheme", ["ioe1", "ioe2"])
def test_ioe_chunks_are_the_iob2_sources_and_seqeval_strict_ioe2_entities_and_detected(scheme) -> None:
    """IOE tags converted from IOB2 hold the IOB2 sentence's chunks (read from B-/I- tags); seqeval's strict IOE2
    reader agrees. (seqeval's IOE1 reader is no oracle: it drops a one-token E- chunk after O, e.g. in
    `O E-LOC I-LOC`; its PR 52 says "IOE1 still needs to be fixed".) An IOE corpus is detected as such; IOE1
    without an E- (no same-type chunks touch) is IOB1 without a B-: the same tags, read the same."""
    rng = random.Random(4)
    for _ in range(300):
        iob2 = random_chunking(rng, rng.randint(1, 14))
        tags = convert(iob2, "iob2", scheme)
        assert chunks(tags) == chunks(iob2), tags
        if scheme == "ioe2":
            assert sorted(chunks(tags)) == sorted(
                (e.tag, e.start, e.end) for e in Entities([tags], IOE2).entities[0]
            )
        assert convert(tags, scheme, "iob2") == iob2
        has_e = any(t.startswith("E-") for t in tags)
        assert detect_scheme([tags]) == (scheme if has_e else "iob1" if chunks(tags) else "none"), tags


def test_ioe_examples() -> None:
    iob2 = _split("B-PER I-PER B-PER O B-LOC I-LOC B-PER")
    assert convert(iob2, "iob2", "ioe2") == _split("I-PER E-PER E-PER O I-LOC E-LOC E-PER")
    assert convert(iob2, "iob2", "ioe1") == _split("I-PER E-PER I-PER O I-LOC I-LOC I-PER")
    # before: read as BIOES with 4 of its 6 tags contradicting it, so training stopped
    assert detect_scheme([_split("I-PER E-PER O E-LOC"), _split("E-ORG O")]) == "ioe2"
    assert detect_scheme([_split("I-PER E-PER I-PER O I-LOC")]) == "ioe1"


def test_io_tags_are_chunk_types_when_named() -> None:
    """IO (Few-NERD's "person-actor"): without prefixes, a run of one type is one chunk; never detected, since
    POS tags look the same; an I- prefix reads the same, B-/E-/S- contradict it."""
    tags = ["person-actor", "person-actor", "O", "location-GPE", "person-actor", "I-ORG"]
    assert detect_scheme([tags[:5]]) == "none" and chunks(tags[:5]) == []
    expected = [("person-actor", 0, 2), ("location-GPE", 3, 4), ("person-actor", 4, 5), ("ORG", 5, 6)]
    assert chunks(tags, "io") == expected
    assert convert(tags, "io", "iob2")[:5] == ["B-person-actor", "I-person-actor", "O", "B-location-GPE",
                                               "B-person-actor"]  # fmt: skip
    # touching chunks of one type merge: IO cannot write their border
    assert convert(_split("B-PER B-PER O"), "iob2", "io") == _split("PER PER O")
    assert contradictions([_split("B-PER I-PER O PER S-LOC")])["io"] == {"B-PER": 1, "S-LOC": 1}
    rng = random.Random(5)
    for _ in range(300):
        io = convert(random_chunking(rng, rng.randint(1, 14)), "iob2", "io")
        as_i = [t if t == "O" else f"I-{t}" for t in io]  # conlleval's own reading of IO
        assert chunks(io, "io") == [(t, s, e + 1) for t, s, e in get_entities(as_i)], io


def test_untyped_chunk_tags_are_chunks_of_type_empty_as_conlleval_and_seqeval_read_them() -> None:
    """Bare B/I/O (BioBERT's NCBI-disease, BC5CDR files) are chunks without a type (before: outside, so the corpus
    read as POS tags); seqeval names that type "_". A bare letter beside POS tags ("S" beside "NN") stays a tag."""
    rng = random.Random(6)
    for _ in range(300):
        tags = [rng.choice(["O", "B", "I", "E", "S"]) for _ in range(rng.randint(0, 12))]
        assert chunks(tags) == [("", s, e + 1) for t, s, e in get_entities(tags)], tags
    iob2 = _split("B I O B B I")
    assert detect_scheme([iob2]) == "iob2" and chunks(iob2) == [("", 0, 2), ("", 3, 4), ("", 4, 6)]
    assert convert(iob2, "iob2", "bioes") == _split("B E O S B E")
    assert convert(iob2, "iob2", "ioe2") == _split("I E O E I E")
    assert detect_scheme([_split("I I O I")]) == "iob1" and detect_scheme([_split("B E O S")]) == "bioes"
    assert detect_scheme([_split("NN S VB"), _split("DT NN")]) == "none"
    names = ["O", "B", "I"]
    assert (0, 2) not in allowed_transitions(names, "iob2") and (1, 2) in allowed_transitions(names, "iob2")


def test_ioe_allowed_transitions_specific_pairs() -> None:
    start, end = 5, 6
    enames = ["O", "I-PER", "E-PER", "I-LOC", "E-LOC"]
    ioe2 = set(allowed_transitions(enames, "ioe2"))
    assert {(start, 1), (start, 2), (1, 1), (1, 2), (2, 3), (2, 0), (0, 4), (2, end), (0, end)} <= ioe2
    assert (1, 0) not in ioe2 and (1, 3) not in ioe2 and (1, 4) not in ioe2 and (1, end) not in ioe2
    ioe1 = set(allowed_transitions(enames, "ioe1"))
    assert {(start, 2), (1, 0), (1, 3), (1, end), (2, 1), (2, 2), (0, 2)} <= ioe1
    assert (2, 0) not in ioe1 and (2, 3) not in ioe1 and (2, 4) not in ioe1 and (2, end) not in ioe1


def test_io_tags_read_as_pos_tags_get_a_warning_naming_the_option(caplog):
    """An IO corpus trained as POS tags is scored by accuracy alone; POS tag sets have no "O", so they get none."""
    with caplog.at_level("WARNING", logger="data_modules.tagging.checks"):
        assert decide_scheme([["PER", "PER", "O", "LOC"]], "auto") == "none"
        assert decide_scheme([["NN", "VB", "DT"]], "auto") == "none"
        assert decide_scheme([["PER", "O"]], "io") == "io"
    assert len(caplog.messages) == 1 and "--data.scheme io" in caplog.messages[0]
