"""Rebuild the fuzzer's seed corpus, fuzz/corpus/receiver/, reproducibly.

Inputs are drawn from a seeded pseudo-random generator and run through the fuzz target's
:func:`run_one`; the first input that reaches each distinct result (header form, status, refusal
code, duplicate or not, for every request of the input) is kept. The corpus so covers every
header form reaching parsing, dedup (duplicates by delivery id and by body) and every refusal the
target can provoke, as a starting point that the fuzzer then extends.

    python fuzz/make_corpus.py            # rewrites fuzz/corpus/receiver/
"""

from __future__ import annotations

import hashlib
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fuzz_receiver import run_one  # noqa: E402

CORPUS = HERE / "corpus" / "receiver"
SEED = 20251124
DRAWS = 20_000
MAX_SEEDS = 150


def main() -> None:
    """Write one seed per distinct result to :data:`CORPUS` (old seeds are removed)."""
    rng = random.Random(SEED)
    kept: dict[tuple[object, ...], bytes] = {}
    for _ in range(DRAWS):
        data = rng.randbytes(rng.choice((16, 48, 96, 192, 384, 768)))
        key = tuple(sorted(set(run_one(data))))
        if key not in kept:
            kept[key] = data
            if len(kept) >= MAX_SEEDS:
                break
    CORPUS.mkdir(parents=True, exist_ok=True)
    for old in CORPUS.iterdir():
        old.unlink()
    for data in kept.values():
        (CORPUS / hashlib.sha1(data).hexdigest()).write_bytes(data)  # noqa: S324 - a file name
    print(f"{len(kept)} seeds, {sum(map(len, kept.values()))} bytes in {CORPUS}")


if __name__ == "__main__":
    main()
