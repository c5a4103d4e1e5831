#!/usr/bin/env python3
"""Writes the conformance input scripts into inputs/ (or the directory given by --out).

Deterministic: running it again gives byte-identical files. The random scripts use only
random.Random(seed).random(), whose sequence is stable across Python 3 versions.

Line format (one JSON object per line, keys in this order, UTF-8, no spaces):
    {"topic":"input","key":"k01","value":"alpha,bravo","timestamp":1700000000000}
key and value are JSON strings or null.

Files:
    edge.jsonl               hand-written edge cases for the stateless and stateful cases
    random-10k.jsonl         10,000 seeded random records on "input" (~80%) and "input2" (~20%)
    windows.jsonl            hand-written window-boundary, grace-limit, late-record and
                             session-merge scenario
    random-windows-2k.jsonl  2,000 seeded random records on "input" with wider time jitter
    joins.jsonl              hand-written stream-stream join scenario on "input" and "input2":
                             matches exactly at the window edges, out-of-order and late
                             records, records past grace and past retention, duplicates, null
                             keys and values, held-back non-matches and their release
    random-joins-3k.jsonl    3,000 seeded random records split evenly over "input" and "input2"
    closing.jsonl            hand-written: many windows, sessions and held-back join records of
                             different keys, starts and ends closing on one record
    shape-<shape>-s<n>.jsonl seeded random records of one shape (see SHAPES), seeds 1..n:
                             few keys and many collisions, many null keys, late and very late
                             records, bursts of equal timestamps

With --sweep N, also writes seeds 1..N of every shape (the long sweep of regen.sh --sweep).
"""

import argparse
import json
import os
import random

START = 1_700_000_000_000  # a multiple of 10 s, so window boundaries are START + n * 5000

WORDS = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
    "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
]


def rec(topic, key, value, timestamp):
    return {"topic": topic, "key": key, "value": value, "timestamp": timestamp}


# --------------------------------------------------------------------------------------
# edge.jsonl: (topic, key, value, offset from START in ms)
# --------------------------------------------------------------------------------------
EDGE = [
    # null keys, null values, both null
    ("input", None, "alpha", 0),
    ("input", "a", None, 1_000),
    ("input", None, None, 2_000),
    # empty strings
    ("input", "", "", 3_000),
    ("input", "e", "", 3_000),
    ("input", "", "empty-key", 3_000),
    # zero, one and many commas
    ("input", "c", "nocomma", 4_000),
    ("input", "c", "one,two", 5_000),
    ("input", "c", "a,b,c,d,e", 6_000),
    ("input", "c", "the,quick,brown,fox,jumps,over,the,lazy,dog", 6_500),
    # empty parts around commas
    ("input", "d", ",", 7_000),
    ("input", "d", ",,,", 7_000),
    ("input", "d", ",lead", 7_000),
    ("input", "d", "trail,", 7_000),
    ("input", "d", "mid,,dle", 7_000),
    # equal timestamps, several keys
    ("input", "a", "same-ts-1", 8_000),
    ("input", "b", "same-ts-2", 8_000),
    ("input", "a", "same-ts-3", 8_000),
    # out-of-order timestamps (earlier than what came before)
    ("input", "a", "late-by-7s", 1_000),
    ("input", "b", "late-to-start", 0),
    ("input", "a", "back-in-order", 9_000),
    # keys that appear once; keys ending in 0 and 7 (used by some rules)
    ("input", "once", "single", 9_500),
    ("input", "k07", "seven", 9_600),
    ("input", "k10", "ten", 9_700),
    ("input", "k17", "seventeen,17", 9_800),
    # short values (length 0..4) and long ones
    ("input", "s", "x", 10_000),
    ("input", "s", "xy", 10_001),
    ("input", "s", "xyz", 10_002),
    ("input", "s", "wxyz", 10_003),
    ("input", "s", "vwxyz", 10_004),
    ("input", "s", "a-rather-long-value-that-keeps-going-past-forty-characters", 10_005),
    # whitespace, quotes, backslash, tab, non-ASCII (all characters in the BMP)
    ("input", "w", " padded ", 11_000),
    ("input", "w", 'say "hi"', 11_001),
    ("input", "w", "back\\slash", 11_002),
    ("input", "w", "tab\there", 11_003),
    ("input", "u", "éclair,über,ñ", 11_004),
    ("input", "ü", "Ünïcode", 11_005),
    # second input topic (read only by cases that merge two streams)
    ("input2", "a", "from-two", 12_000),
    ("input2", None, "two-null-key", 12_000),
    ("input2", "b", None, 12_001),
    ("input2", None, None, 12_002),
    ("input2", "c", "x,y", 12_003),
    # interleaving of the two topics
    ("input", "a", "one-again", 12_004),
    ("input2", "a", "two-again", 12_004),
    ("input", "b", "final,word", 12_005),
    # a topic that no case reads
    ("unused", "a", "ignored", 12_006),
]


# --------------------------------------------------------------------------------------
# windows.jsonl: (key, value, offset from START in ms), all on topic "input".
# Window rules of the stateful cases: tumbling 10 s grace 2 s; hopping 10 s advance 5 s
# grace 0; sliding difference 5 s grace 2 s; session gap 5 s grace 2 s; suppress: tumbling
# 10 s grace 1 s. "st" is the stream time (largest timestamp seen) after the record.
# --------------------------------------------------------------------------------------
WINDOWS = [
    # -- tumbling/hopping boundaries
    ("a", "apple", 0),             # first ms of [0,10s)
    ("a", "avocado", 9_999),       # last ms of [0,10s)
    ("a", "apricot", 10_000),      # first ms of [10s,20s)
    ("b", "banana", 5_000),        # hop boundary: first ms of [5s,15s)
    ("b", "blueberry", 5_000),     # equal timestamp, same key
    ("a", "acorn", 10_999),        # st 10999: [0,10s) still open for suppress (grace 1 s)
    ("b", "bean", 11_000),         # st 11000: [0,10s) closes for suppress -> final results
    ("a", "almond", 9_999),        # late; tumbling [0,10s) still in grace (closes at st 12000)
    ("b", "basil", 11_999),        # st 11999
    ("a", "anise", 9_999),         # exactly the last accepted ms of the 2 s grace
    ("b", "beet", 12_000),         # st 12000: tumbling [0,10s) closes
    ("a", "aubergine", 9_999),     # exactly at the grace limit: dropped by tumbling
    ("a", "ash", 0),               # very late: dropped everywhere
    (None, "nothing", 12_000),     # null key: dropped by grouping
    ("a", None, 12_000),           # null value
    ("b", "", 12_000),             # empty value
    # -- sliding windows (difference 5 s, grace 2 s)
    ("w", "walnut", 20_000),
    ("w", "wasabi", 25_000),       # exactly the time difference after the previous record
    ("w", "watercress", 25_001),   # one ms more
    ("w", "wheat", 22_000),        # out of order, within grace
    ("w", "wild-rice", 18_001),    # st 25001: at the edge of the grace period
    ("w", "wintergreen", 18_000),  # one ms earlier
    ("w", "wormwood", 25_000),     # equal timestamp to an earlier record
    # -- session windows (gap 5 s, grace 2 s; the session store keeps sessions for gap + grace)
    ("s", "sage", 30_000),         # session [30s,30s]
    ("s", "sorrel", 36_000),       # separate session [36s,36s]: 6 s apart
    ("s", "saffron", 33_000),      # within the gap of both: merges them into [30s,36s]
    ("s", "sesame", 41_000),       # exactly the gap after 36s: extends to [30s,41s]
    ("s", "savory", 46_001),       # one ms past the gap: new session [46.001s,46.001s]
    ("s", "shallot", 39_000),      # st 46001: inside [30s,41s], still within gap + grace
    ("s", "sumac", 20_000),        # a session ending more than gap + grace before st: dropped
    ("s", "spearmint", 43_500),    # bridges [30s,41s] and [46.001s]
    ("t", "tarragon", 44_000),     # a second key in the same time range
    ("t", "thyme", 48_000),
    # -- session grace limit: a session [e,e] is still accepted at st = e + gap + grace
    ("g", "garlic", 60_000),
    ("h", "hyssop", 67_000),       # st 67000 = 60000 + 5000 + 2000
    ("g", "ginger", 60_000),       # at the limit: accepted, though the store (which keeps
                                   # sessions for gap + grace) no longer returns [60s,60s]
    ("h", "horseradish", 67_001),  # st 67001
    ("g", "galangal", 60_000),     # one ms past the limit: dropped
    # -- jump far ahead: closes every earlier window (suppress emits its final results)
    ("z", "zest", 100_000),
    ("z", "zucchini", 100_000),
    ("a", "artichoke", 95_000),    # late for windows ending <= 98s (tumbling) / 99s (suppress)
]


# --------------------------------------------------------------------------------------
# joins.jsonl: (topic, key, value, offset from START in ms) for the stream-stream join
# cases: left stream "input", right stream "input2", windows 5 s either way, grace 2 s,
# each side kept for 12 s of stream time. "st" is the stream time after the record.
# --------------------------------------------------------------------------------------
JOINS = [
    # -- window edges: a left record at 10 s joins right records in [5 s, 15 s]
    ("input", "a", "a@10", 10_000),         # st 10000; no partner yet: held back (left/outer)
    ("input2", "a", "A@5", 5_000),          # exactly 5 s before: joins a@10 (ts 10000)
    ("input2", "a", "A@4.999", 4_999),      # 1 ms outside; its window already closed: outer
                                            # emits it at once
    ("input2", "a", "A@15", 15_000),        # exactly 5 s after: joins a@10 (ts 15000); st 15000
    ("input2", "a", "A@15.001", 15_001),    # 1 ms outside: held back (outer); st 15001
    ("input", "a", "a@10.001", 10_001),     # joins A@15 and A@15.001, not A@5
    ("input", "b", "b@14", 14_000),         # out of order; joins nothing yet: held back
    ("input2", "b", "B@9", 9_000),          # exactly 5 s before b@14: joins it
    # -- held back until window end + grace, never before
    ("input", "x", "x-alone", 20_000),      # st 20000; window closes at 27000
    ("input2", "y", "Y-alone", 20_500),     # st 20500; window closes at 27500
    ("input", "q", "q@27", 27_000),         # st 27000: x still within grace
    ("input", "q", "q@27.5", 27_500),       # st 27500: x emitted; Y still within grace
    ("input2", "q", "Q@27.501", 27_501),    # st 27501: Y emitted; joins q@27 and q@27.5
    # -- duplicates
    ("input2", "d", "D", 30_000),
    ("input2", "d", "D", 30_000),           # same key, value and time: kept twice
    ("input", "d", "d", 30_000),            # joins both
    ("input", "e", "e1", 31_000),           # two non-matches with the same key and time:
    ("input", "e", "e2", 31_000),           # held back together, emitted in order
    # -- null keys and values
    ("input", None, "left-null-key", 32_000),
    ("input2", None, "right-null-key", 32_000),
    ("input", "n", None, 32_000),
    ("input2", "n", None, 32_000),          # a null value is not stored: finds no partner
    ("input", "n", "n-value", 32_500),
    ("input", None, None, 32_600),
    ("input2", None, None, 32_600),
    # -- late records
    ("input2", "r", "R@41", 41_000),        # st 41000
    ("input2", "t", "T@38", 38_000),        # out of order, within grace
    ("input", "t", "t@42", 42_000),         # joins T@38 (4 s apart); st 42000
    ("input2", "s", "S@50", 50_000),        # st 50000: the right store now returns >= 38001 only
    ("input", "r", "r@40.5", 40_500),       # past its window end + grace, still retained:
                                            # joins R@41
    ("input", "t", "t@30", 30_000),         # 20 s behind: no partner; its window has closed, so
                                            # left/outer emit the non-match at once
    ("input", "u", "u@37", 37_000),         # no partner yet, window closed: emitted at once
    ("input2", "u", "U@39", 39_000),        # still joins u@37 (the left store keeps >= 30001)
    ("input2", "u", "U@37.9", 37_900),      # joins u@37 too
    ("input", "u", "u@38", 38_000),         # finds U@39 but not U@37.9 (< 38001)
    # -- equal timestamps on both sides without partners: right before left when emitted
    ("input", "o", "o-left", 60_000),
    ("input2", "p", "P-right", 60_000),
    ("input", "c", "c@60", 60_000),
    # -- far jump: every held-back record comes out
    ("input", "zz", "end", 100_000),
    ("input2", "zz", "END", 100_000),
]


# --------------------------------------------------------------------------------------
# closing.jsonl: (topic, key, value, offset from START in ms). Each block ends with a record
# far enough ahead to close everything before it at once, so the order in which several
# results are released together is pinned: sessions with equal ends and different starts,
# windows of several keys and starts, held-back outer-join records of both sides. Keys
# arrive in descending order so that arrival order and key order differ.
# --------------------------------------------------------------------------------------
CLOSING = [
    # sessions (gap 5 s, grace 2 s): equal ends, different starts and keys
    ("input", "k04", "a", 100_000),
    ("input", "k04", "b", 102_000),
    ("input", "k04", "c", 104_000),
    ("input", "k03", "d", 101_000),
    ("input", "k03", "e", 104_000),
    ("input", "k02", "f", 103_000),
    ("input", "k01", "g", 104_000),
    ("input", "k00", "h", 104_000),
    ("input", "k05", "i", 100_500),
    # closes all of the above (and their 10 s windows) on one record
    ("input", "k09", "close", 130_000),
    # windows of several starts and keys, closing together
    ("input", "k07", "j", 140_500),
    ("input", "k06", "k", 140_500),
    ("input", "k07", "l", 149_999),
    ("input", "k06", "m", 150_000),
    ("input", "k05", "n", 155_000),
    ("input", "k04", "o", 151_000),
    ("input", "k03", "p", 159_999),
    ("input", "k02", "q", 160_000),
    ("input", "k01", "r", 145_000),
    ("input", "k00", "s", 160_000),
    ("input", "k09", "close", 200_000),
    # held-back outer-join records (5 s windows, grace 2 s) of both sides, no matches,
    # equal and different timestamps, released by one record
    ("input", "k08", "t", 210_000),
    ("input2", "k07", "u", 210_000),
    ("input", "k06", "v", 210_000),
    ("input2", "k05", "w", 211_000),
    ("input", "k04", "x", 209_000),
    ("input2", "k08", "y", 218_000),
    ("input", "k03", "z", 211_000),
    ("input2", "k02", "aa", 210_000),
    ("input", "k09", "close", 240_000),
    ("input2", "k09", "close", 240_000),
]

# Random shapes: each gives the generator's knobs. Two seeds of each run in CI.
SHAPES = {
    # three keys: almost every record collides with an open window, session or join partner
    "collide": dict(count=1_000, keys=3, step_ms=200, jitter_ms=3_000, input2_share=0.3,
                    null_key_share=0.02, late_share=0.0, burst_share=0.0),
    # a third of the keys null
    "nullkeys": dict(count=1_000, keys=10, step_ms=300, jitter_ms=3_000, input2_share=0.3,
                     null_key_share=0.3, late_share=0.0, burst_share=0.0),
    # one record in eight 3 to 40 s late: within grace, past grace and past retention
    "late": dict(count=1_000, keys=8, step_ms=150, jitter_ms=2_000, input2_share=0.3,
                 null_key_share=0.02, late_share=0.125, burst_share=0.0),
    # runs of up to 20 records with one timestamp
    "bursts": dict(count=1_000, keys=6, step_ms=400, jitter_ms=0, input2_share=0.3,
                   null_key_share=0.02, late_share=0.0, burst_share=0.15),
}
CI_SEEDS = 2


def edge_records():
    return [rec(t, k, v, START + off) for (t, k, v, off) in EDGE]


def join_records():
    return [rec(t, k, v, START + off) for (t, k, v, off) in JOINS]


def window_records():
    return [rec("input", k, v, START + off) for (k, v, off) in WINDOWS]


class Rng:
    """Small helpers over random.Random.random() only (stable across Python versions)."""

    def __init__(self, seed):
        self._r = random.Random(seed)

    def chance(self, p):
        return self._r.random() < p

    def int_between(self, lo, hi):
        """Uniform integer in [lo, hi]."""
        return lo + int(self._r.random() * (hi - lo + 1))

    def pick(self, items):
        return items[self.int_between(0, len(items) - 1)]


def random_records(seed, count, keys, step_ms, jitter_ms, input2_share):
    """count records; keys "k00".."k{keys-1}"; ~2% null keys; ~3% null values; values of 1..4
    random words joined by ','; timestamp START + i*step_ms + uniform jitter in
    [-jitter_ms, +jitter_ms] (the first record has no jitter, none is before START)."""
    rng = Rng(seed)
    out = []
    for i in range(count):
        topic = "input2" if rng.chance(input2_share) else "input"
        key = None if rng.chance(0.02) else "k%02d" % rng.int_between(0, keys - 1)
        if rng.chance(0.03):
            value = None
        else:
            value = ",".join(rng.pick(WORDS) for _ in range(rng.int_between(1, 4)))
        jitter = 0 if i == 0 else rng.int_between(-jitter_ms, jitter_ms)
        timestamp = max(START, START + i * step_ms + jitter)
        out.append(rec(topic, key, value, timestamp))
    return out


def shaped_records(seed, count, keys, step_ms, jitter_ms, input2_share, null_key_share,
                   late_share, burst_share):
    """Like random_records, with the knobs of one SHAPES entry. A late record is 3..40 s
    behind the current time; a burst repeats the current timestamp for 2..20 records."""
    rng = Rng(seed)
    out = []
    now = START
    burst_left = 0
    for i in range(count):
        topic = "input2" if rng.chance(input2_share) else "input"
        key = None if rng.chance(null_key_share) else "k%02d" % rng.int_between(0, keys - 1)
        if rng.chance(0.03):
            value = None
        else:
            value = ",".join(rng.pick(WORDS) for _ in range(rng.int_between(1, 4)))
        if burst_left > 0:
            burst_left -= 1
            timestamp = now
        else:
            now += step_ms
            if burst_share and rng.chance(burst_share):
                burst_left = rng.int_between(1, 19)
            jitter = 0 if i == 0 or not jitter_ms else rng.int_between(-jitter_ms, jitter_ms)
            timestamp = max(START, now + jitter)
            if late_share and rng.chance(late_share):
                timestamp = max(START, now - rng.int_between(3_000, 40_000))
        out.append(rec(topic, key, value, timestamp))
    return out


def shaped_files(seeds):
    files = {}
    for index, (shape, knobs) in enumerate(SHAPES.items()):
        for n in range(1, seeds + 1):
            seed = 100_000 * (index + 1) + n
            files["shape-%s-s%d.jsonl" % (shape, n)] = shaped_records(seed, **knobs)
    return files


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")))
            f.write("\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(here, "inputs"),
                        help="output directory (default: inputs/ beside this script)")
    parser.add_argument("--sweep", type=int, default=CI_SEEDS, metavar="N",
                        help="seeds per random shape (default: %d, what CI runs)" % CI_SEEDS)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    files = {
        "edge.jsonl": edge_records(),
        "random-10k.jsonl": random_records(seed=10_000, count=10_000, keys=50, step_ms=100,
                                           jitter_ms=5_000, input2_share=0.2),
        "windows.jsonl": window_records(),
        "random-windows-2k.jsonl": random_records(seed=2_000, count=2_000, keys=20,
                                                  step_ms=250, jitter_ms=8_000,
                                                  input2_share=0.0),
        "joins.jsonl": join_records(),
        "random-joins-3k.jsonl": random_records(seed=3_000, count=3_000, keys=15,
                                                step_ms=400, jitter_ms=6_000,
                                                input2_share=0.5),
        "closing.jsonl": [rec(t, k, v, START + off) for (t, k, v, off) in CLOSING],
    }
    files.update(shaped_files(args.sweep))
    for name, records in files.items():
        write_jsonl(os.path.join(args.out, name), records)


if __name__ == "__main__":
    main()
