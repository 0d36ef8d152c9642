#!/usr/bin/env python3
"""Assemble grooming/testdata/dev_hard.jsonl from the hand-written conversations below.

    python3 grooming/testdata/devhard.py > grooming/testdata/dev_hard.jsonl

The script only does mechanical work: ids, a "group" per scenario (the same scenario written
in six languages is one group, so that cross-validation never splits its translations across
folds) and synthetic timestamps (minutes apart for "fast", hours to days for "slow").
Deterministic: seeded.
"""
import json, random, sys, datetime, os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from devhard_convs import C  # noqa: E402

SCENARIOS = ["slow-rapport", "adult-alone", "sextortion", "surprise", "coach-parents", "sibling-age", "scam-warning", "victim-tells-parent"]
R = random.Random(20261203)
t0 = datetime.datetime(2026, 11, 2, 16, 0, tzinfo=datetime.timezone.utc)
seen = {}
for lang, label, suspect, pace, msgs in C:
    k = seen.get(lang, 0)
    seen[lang] = k + 1
    t = t0 + datetime.timedelta(days=R.randint(0, 20), minutes=R.randint(0, 600))
    out = []
    for who, text in msgs:
        out.append({"from": who, "text": text, "time": t.strftime("%Y-%m-%dT%H:%M:%SZ")})
        t += datetime.timedelta(seconds=R.randint(20, 120)) if pace == "fast" else datetime.timedelta(minutes=R.randint(2, 30) if R.random() < 0.7 else R.randint(300, 3000))
    rec = {"id": f"dev-x-{lang}-{k:02d}", "label": label, "lang": lang, "group": SCENARIOS[k]}
    if suspect:
        rec["suspect"] = suspect
    rec["messages"] = out
    print(json.dumps(rec, ensure_ascii=False))
