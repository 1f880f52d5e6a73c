"""The speaker of a quotation that runs over several sentences (``service.reader``): the
answer model reads it before a sentence inside the quotation, which never names them."""

from __future__ import annotations

import re

from service.reader import attribution_sentence, context_sentence, previous_sentence, quotation_speaker
from service.retrieval import ChunkRow, Hit
from service.rule_reader import Candidate

AUSTIN = (
    "Austin spoke on Monday. “Together with our allies and partners, we must continue working to help "
    "Ukraine. That will mean strengthening Ukraine’s defense industrial base,” said US Secretary of Defense "
    "Lloyd Austin during his speech. He left at noon."
)
STRAIGHT = (
    'The mayor opened the clinic. "It will treat 400 patients a day. The fund pays for it," Mayor Ana Ruiz '
    "told reporters. Work took two years."
)
UNNAMED = "“We will win. Nobody doubts it.” The crowd cheered. Later, the coach said little."


def candidates(text: str, start: int = 0) -> list[Candidate]:
    bounds = [(m.start(), m.end()) for m in re.finditer(r"[^.]+?[.!?](?:[”\"])?(?=\s|$)", text)]
    bounds = [(start + s + (len(text[s:e]) - len(text[s:e].lstrip())), start + e) for s, e in bounds]
    row = ChunkRow("c1", "d1", "Title", None, None, None, start, start + len(text), "h", text, bounds, [])
    hit = Hit(row, 1.0, 1.0, 0.0)
    return [Candidate(hit, "d1", s, e, text[s - start : e - start]) for s, e in bounds]


def test_a_sentence_inside_a_quotation_reads_its_speaker():
    first, inside, closing, after = candidates(AUSTIN)
    assert inside.text.startswith("“Together")
    assert quotation_speaker(inside) == "said US Secretary of Defense Lloyd Austin during his speech"
    assert context_sentence(inside) == quotation_speaker(inside)
    assert attribution_sentence(inside) == (closing.doc_id, closing.start, closing.end)
    # The sentence that closes the quotation names its speaker itself; the others sit outside one.
    for c in (first, closing, after):
        assert quotation_speaker(c) is None and attribution_sentence(c) is None
        assert context_sentence(c) == previous_sentence(c)


def test_straight_quote_marks_and_a_speaker_before_the_verb():
    _, inside, closing, _ = candidates(STRAIGHT)
    assert quotation_speaker(inside) == "Mayor Ana Ruiz told reporters"
    assert quotation_speaker(closing) is None


def test_a_quotation_closed_without_a_speaker_names_none():
    opening, *_ = candidates(UNNAMED)
    assert opening.text.startswith("“We will win.")
    assert quotation_speaker(opening) is None


def test_a_chunk_that_starts_inside_a_quotation_reads_no_speaker_off_straight_marks():
    # The chunk's first sentence closes a quotation opened in the chunk before: counting
    # straight marks from the chunk would read Blinken's opening mark as a close.
    text = (
        'That will cost billions," Austin said. Biden met Zelensky on Monday. '
        '"We have said all along that Russia must pay," Blinken added.'
    )
    for c in candidates(text, start=500):
        assert quotation_speaker(c) is None, c.text


def test_an_opening_mark_is_no_close():
    # "said" within reach of an opening mark is not an attribution.
    first, *_ = candidates("“We will win. Then we said nothing more about it. The end came.” The crowd cheered.")
    assert quotation_speaker(first) is None
