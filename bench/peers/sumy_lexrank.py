"""Peer for the summary speed benchmark: sumy's LexRank, 3 sentences, on the
first N stories of a JSON Lines corpus, on one core. Prints stories/s.

sumy's default tokenizer needs NLTK data that cannot be downloaded here, so
it gets a tokenizer object with the two methods sumy calls.

    python3 bench/peers/sumy_lexrank.py CORPUS.jsonl [N]
"""
import json
import re
import sys
import time

from sumy.nlp.stemmers import Stemmer
from sumy.parsers.plaintext import PlaintextParser
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.utils import get_stop_words


class Tokenizer:
    """Sentences at terminators followed by a space; words as \\w+ runs."""

    language = "english"
    _sentence_end = re.compile(r"(?<=[.!?])\s+")
    _word = re.compile(r"\w+(?:'\w+)?")

    def to_sentences(self, paragraph):
        return [s for s in self._sentence_end.split(paragraph) if s.strip()]

    def to_words(self, sentence):
        return self._word.findall(sentence)


def main(path, limit=500):
    stories = []
    with open(path) as f:
        for line in f:
            stories.append(json.loads(line))
            if len(stories) >= int(limit):
                break
    summarizer = LexRankSummarizer(Stemmer("english"))
    summarizer.stop_words = get_stop_words("english")
    tokenizer = Tokenizer()
    started = time.perf_counter()
    chosen = 0
    for story in stories:
        parser = PlaintextParser.from_string(story["text"], tokenizer)
        chosen += len(summarizer(parser.document, 3))
    elapsed = time.perf_counter() - started
    assert chosen >= 2 * len(stories), "LexRank picked too few sentences"
    print(f"sumy-lexrank stories {len(stories)} seconds {elapsed:.3f} stories_per_s {len(stories) / elapsed:.1f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
