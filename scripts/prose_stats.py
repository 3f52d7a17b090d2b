"""Per page of the book, how readable its prose is (issue 35): words, sentences, the mean and the longest
sentence, the sentences over 50 words, the longest glued text and the tables over 15 rows outside a
collapsed dropdown. What is counted: the docstring of companion/prose_stats.py.

    python scripts/prose_stats.py            # a table
    python scripts/prose_stats.py --json     # the same, as JSON
    python scripts/prose_stats.py --longest  # also each page's longest sentence

Reads the stored pages (book/intro.md and the executed notebooks of _toc.yml); runs nothing.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from companion import prose_stats  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--longest", action="store_true", help="also print each page's longest sentence")
    args = parser.parse_args(argv)
    stats = prose_stats.book_stats()
    rows = [s.as_dict() for s in stats]
    total_words = sum(r["words"] for r in rows)
    if args.json:
        print(json.dumps({"pages": rows, "book_words": total_words}, indent=1))
        return 0
    head = ["page", "words", "sent.", "mean", "longest", ">50", "longest glued text (words)", "tables >15 rows shown"]
    table = [[r["page"], r["words"], r["sentences"], r["mean_sentence"], r["longest_sentence"],
              r["sentences_over_50"], f"{r['longest_glued']} ({r['longest_glued_words']})",
              "; ".join(r["long_tables"]) or "none"] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *table)]
    for line in [head, ["-" * w for w in widths], *table]:
        print(" | ".join(str(x).ljust(w) for x, w in zip(line, widths)))
    print(f"book: {total_words} prose words")
    if args.longest:
        for s in stats:
            print(f"\n{s.page} ({s.longest_sentence} words): {s.longest_sentence_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
