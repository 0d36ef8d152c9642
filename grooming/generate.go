package grooming

// model.json is trained from every labelled development file (the pool:
// dev, dev_hand, dev_lang, dev_sextortion, dev_hard, dev_glang, heldout and
// the five spent first-look batches) with λ and calibration chosen by
// leave-one-batch-out; regenerate it after a lexicon, feature or data
// change and commit the result.
//
//go:generate go run ../cmd/vigil eval grooming --train --out model.json testdata/dev.jsonl testdata/dev_hand.jsonl testdata/dev_lang.jsonl testdata/dev_sextortion.jsonl testdata/heldout.jsonl testdata/firstlook-2026-12-03.jsonl testdata/firstlook-sextortion-2026-12-03.jsonl testdata/firstlook-3-2026-12-03.jsonl testdata/dev_hard.jsonl testdata/firstlook-4-2026-12-03.jsonl testdata/firstlook-5-2026-12-06.jsonl testdata/dev_glang.jsonl
