#!/usr/bin/env python3
"""Measure the answering-machine detector on the labelled set in tests/data/amd/.

Prints, per mode and split: accuracy, human and machine recall, the
confusion table, the time to decide (ms of audio, p50/p95 per verdict), the
CPU per second of audio, and the hard cases (long human answers, short
machine greetings) on their own, with every file it got wrong.

    python scripts/bench_detection.py [--split test|tune|all] [--mode detect|detect_message_end|both]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

from tests.support.amd_set import greetings  # noqa: E402 (after the path set-up above)
from voxology_fs.detection import DetectionParams, detect  # noqa: E402

VERDICTS = ["live_person", "machine", "unknown"]


def percentile(values: list[int], share: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(split: str, mode: str) -> None:
    chosen = greetings(None if split == "all" else split)
    audio = [(g, g.pcm()) for g in chosen]
    params = DetectionParams(mode=mode)
    results, cpu, seconds = [], 0.0, 0.0
    for greeting, pcm in audio:
        start = time.process_time()
        result = detect(pcm, params)
        cpu += time.process_time() - start
        # the audio the detector actually consumed, not the file's length
        seconds += result.decided_ms / 1000
        results.append((greeting, result))

    print(f"== mode {mode}, split {split}: {len(results)} files")
    right = sum(r.detection == g.expected for g, r in results)
    print(f"accuracy {right / len(results):.3f}")
    for cls in ("human", "machine", "unknown"):
        of_class = [(g, r) for g, r in results if g.cls == cls]
        hits = sum(r.detection == g.expected for g, r in of_class)
        print(f"{cls} recall {hits / len(of_class):.3f} ({hits}/{len(of_class)})")
    print("confusion (rows: expected, columns: verdict)")
    print(f"  {'':12}" + "".join(f"{v:>13}" for v in VERDICTS))
    for expected in VERDICTS:
        row = [sum(1 for g, r in results if g.expected == expected and r.detection == v) for v in VERDICTS]
        print(f"  {expected:12}" + "".join(f"{n:>13}" for n in row))
    print("time to decide, ms of audio (p50 / p95)")
    for verdict in VERDICTS:
        times = [r.decided_ms for _, r in results if r.detection == verdict]
        if times:
            print(
                f"  {verdict:12} {percentile(times, 0.5):6} / {percentile(times, 0.95):6}"
                f"  (n={len(times)}, mean {statistics.mean(times):.0f})"
            )
    if mode == "detect_message_end":
        details = {}
        for g, r in results:
            if g.cls == "machine":
                beep = "no beep" not in g.notes
                want = "machine_end_beep" if beep else "machine_end_silence"
                details.setdefault(want, []).append(r.detail == want)
        for want, ok in sorted(details.items()):
            print(f"machines ending with {want}: {sum(ok)}/{len(ok)} reported so")
    print(f"CPU per second of audio {1000 * cpu / seconds:.2f} ms ({seconds:.0f} s of audio)")
    hard = [(g, r) for g, r in results if g.hard]
    print("hard cases")
    for g, r in hard:
        mark = "ok   " if r.detection == g.expected else "WRONG"
        print(
            f"  {mark} {g.file:15} {g.hard:14} -> {r.detection:11} {r.reason:16} "
            f"{r.decided_ms:5} ms  first utterance {r.cues.first_utterance_ms} ms"
        )
    wrong = [(g, r) for g, r in results if r.detection != g.expected and not g.hard]
    print(f"other files it got wrong: {len(wrong)}")
    for g, r in wrong:
        print(f"  {g.file:15} -> {r.detection:11} {r.reason:16} {r.decided_ms:5} ms  {g.notes[:70]}")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["test", "tune", "all"], default="test")
    parser.add_argument("--mode", choices=["detect", "detect_message_end", "both"], default="both")
    args = parser.parse_args()
    for mode in ["detect", "detect_message_end"] if args.mode == "both" else [args.mode]:
        run(args.split, mode)
    return 0


if __name__ == "__main__":
    sys.exit(main())
