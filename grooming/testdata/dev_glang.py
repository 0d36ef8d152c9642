#!/usr/bin/env python3
"""Assembles dev_glang.jsonl from dev_glang_src.txt (written by hand).

It writes no text: it parses the blocks, assigns ids, timestamps (seeded,
from each block's pace) and the evidence turn from the '*' marker.
    python3 grooming/testdata/dev_glang.py > grooming/testdata/dev_glang.jsonl
"""
import datetime
import json
import os
import random

PACE = {"fast": (15, 90), "normal": (60, 900), "slow": (1800, 14400), "days": (3600, 86400)}


def blocks(path):
    cur = None
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if line.startswith("## "):
            if cur:
                yield cur
            key, label, lang, family, suspect, pace, cues = [f.strip() for f in line[3:].split("|")]
            cur = {"key": key, "label": label, "lang": lang, "family": family, "suspect": suspect,
                   "pace": pace, "cues": [c.strip() for c in cues.split(",") if c.strip()], "msgs": []}
        elif cur is not None and line.strip() and not line.startswith("#"):
            ev = line.startswith("*")
            who, text = line.lstrip("*").split(": ", 1)
            cur["msgs"].append((who.strip(), text.strip(), ev))
    if cur:
        yield cur


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    rng = random.Random(20261207)
    t0 = datetime.datetime(2026, 11, 2, 15, 0, 0, tzinfo=datetime.timezone.utc)
    for k, b in enumerate(blocks(os.path.join(here, "dev_glang_src.txt"))):
        t = t0 + datetime.timedelta(days=k, seconds=rng.randrange(0, 36000))
        lo, hi = PACE[b["pace"]]
        msgs, evidence = [], None
        for i, (who, text, ev) in enumerate(b["msgs"]):
            if i:
                t += datetime.timedelta(seconds=rng.randrange(lo, hi))
            if ev:
                evidence = i
            msgs.append({"from": who, "text": text, "time": t.strftime("%Y-%m-%dT%H:%M:%SZ")})
        rec = {"id": "gl-" + b["key"], "label": b["label"], "lang": b["lang"]}
        if b["label"] == "grooming":
            assert b["suspect"] in {m["from"] for m in msgs}, b["key"]
            assert evidence is not None and msgs[evidence]["from"] == b["suspect"], b["key"]
            rec.update({"family": b["family"], "suspect": b["suspect"], "evidence_turn": evidence})
        else:
            assert not b["suspect"] and evidence is None, b["key"]
            rec["lookalike_cues"] = b["cues"]
            if "victim_disclosure" in b["cues"]:
                rec["disclosure"] = True
        rec["messages"] = msgs
        print(json.dumps(rec, ensure_ascii=False))


if __name__ == "__main__":
    main()
