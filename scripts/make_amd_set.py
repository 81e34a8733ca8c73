#!/usr/bin/env python3
"""Generate the labelled answering-machine set in tests/data/amd/.

Run once; its output is committed and the tests read only the committed
files, so neither espeak-ng nor sox is needed to run them.  Needs
``espeak-ng`` and ``sox`` on PATH::

    python scripts/make_amd_set.py [--out tests/data/amd]

Three classes of 8 kHz mono G.711 u-law WAV files:

- ``human``: short answers ("Hello?", "Yes, this is Sam speaking"), some with
  a second "hello?" after a pause, a few long ones (hard cases);
- ``machine``: voicemail and carrier greetings with and without a beep at the
  end, a few short ones (hard cases);
- ``unknown``: silence, noise, steady tones, chords, tunes and ring tones
  without speech.

Voices, speeds, pitches, levels, leading silence or ring remainder, noise at
several SNRs and a telephone band-pass vary per file from a fixed seed.  Every
other file is ``tune``, the rest ``test``, alternating within each class.  espeak-ng's
waveforms vary slightly from run to run, so a new run gives a close but not
byte-identical set: the committed one is the reference.
"""

from __future__ import annotations

import argparse
import array
import csv
import math
import os
import random
import subprocess
import sys
import tempfile

RATE = 8000
VOICES = [
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-029",
    "en-us-nyc",
    "en-us+f2",
    "en+f3",
    "en+m3",
    "en-gb+f4",
    "en+klatt",
    "en-us+m7",
]
NAMES = ["Sam", "Maria", "Dave", "Priya", "Tom Becker", "Lucy", "Ahmed", "Karen Wright", "Jose", "Mei"]
COMPANIES = ["Northside Dental", "Baker and Sons Plumbing", "City Library", "Riverside Auto Repair"]

HUMAN_SHORT = [
    "Hello?",
    "Hello.",
    "Hi, who's calling?",
    "Yes, this is {name} speaking.",
    "Hello, hello?",
    "Yeah?",
    "Hi there.",
    "Hello, {name} speaking.",
    "Yes?",
    "Hey.",
    "Speaking.",
    "Hello, who is this?",
    "Hi, yes?",
    "Good morning.",
    "Hello, this is {name}.",
    "Yep, hello?",
]
HUMAN_LONG = [  # hard: longer than the speech threshold at most speeds
    "Hello, this is {name} at {company}, how can I help you today?",
    "Good afternoon, thank you for calling {company}, this is {name}, what can I do for you?",
]
MACHINE_LONG = [
    "Hi, you've reached the voicemail of {name}. Please leave a message after the tone.",
    "Hello, you have reached {name}. Leave your name and number and I will call you back.",
    "The person you are calling is not available. At the tone, please record your message.",
    "Your call has been forwarded to an automatic voice message system. {digits} is not available.",
    "The subscriber you have dialed is not available. Please leave a message after the beep.",
    "Thank you for calling {company}. Our office is closed, please leave a message.",
    "Hey, it's {name}. Sorry I missed your call, leave me a message and I'll call you back.",
    "You have reached the mailbox of {digits}. Please leave a message.",
]
MACHINE_SHORT = [  # hard: about as short as a person's answer
    "{name}, leave a message.",
    "You've reached {digits}.",
]


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def speech(tmp: str, text: str, voice: str, speed: int, pitch: int) -> array.array:
    wav = os.path.join(tmp, "say.wav")
    raw = os.path.join(tmp, "say.raw")
    sh("espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", wav, text)
    # espeak's own leading and trailing silence is trimmed: the composition adds its own.
    sh(
        "sox",
        wav,
        "-r",
        str(RATE),
        "-c",
        "1",
        "-b",
        "16",
        "-e",
        "signed",
        "-t",
        "raw",
        raw,
        "silence",
        "1",
        "0.01",
        "0.5%",
        "reverse",
        "silence",
        "1",
        "0.01",
        "0.5%",
        "reverse",
    )
    samples = array.array("h")
    with open(raw, "rb") as f:
        samples.frombytes(f.read())
    return samples


def silence(ms: int) -> list[float]:
    return [0.0] * (RATE * ms // 1000)


def tones(ms: int, freqs: list[float], level: float, fade_ms: int = 5) -> list[float]:
    n = RATE * ms // 1000
    fade = max(1, RATE * fade_ms // 1000)
    out = []
    for i in range(n):
        v = sum(math.sin(2 * math.pi * f * i / RATE) for f in freqs) / len(freqs)
        ramp = min(1.0, i / fade, (n - 1 - i) / fade)
        out.append(level * v * ramp)
    return out


def ring_remainder(rng: random.Random) -> list[float]:
    # the end of a ring tone heard just before the answer: 425 Hz (Europe) or 400+450 Hz (UK)
    freqs = rng.choice([[425.0], [400.0, 450.0]])
    return tones(rng.randrange(150, 700, 50), freqs, 0.1) + silence(rng.randrange(100, 400, 50))


def noise(n: int, colour: str, rng: random.Random) -> list[float]:
    out, b = [], 0.0
    for _ in range(n):
        w = rng.gauss(0.0, 1.0)
        if colour == "brown":
            b = 0.98 * b + w * 0.2
            out.append(b)
        elif colour == "pink":  # a one-pole low-pass mix: close enough to pink for a phone line
            b = 0.9 * b + w * 0.3
            out.append(0.5 * b + 0.5 * w)
        else:
            out.append(w)
    scale = math.sqrt(sum(x * x for x in out) / max(1, len(out))) or 1.0
    return [x / scale for x in out]


def rms(x) -> float:
    return math.sqrt(sum(v * v for v in x) / max(1, len(x)))


def mix_noise(
    signal: list[float], snr_db: float | None, colour: str, rng: random.Random, speech_rms: float
) -> list[float]:
    if snr_db is None:
        return signal
    level = speech_rms / (10 ** (snr_db / 20))
    return [s + level * n for s, n in zip(signal, noise(len(signal), colour, rng), strict=True)]


def write_ulaw(tmp: str, samples: list[float], path: str) -> None:
    raw = os.path.join(tmp, "mix.raw")
    pcm = array.array("h", (max(-32767, min(32767, round(v * 32767))) for v in samples))
    with open(raw, "wb") as f:
        f.write(pcm.tobytes())
    # telephone band, then G.711 u-law: what the switch records of a call (no dither, so the
    # output is the same on every run)
    sh(
        "sox",
        "-D",
        "-t",
        "raw",
        "-r",
        str(RATE),
        "-e",
        "signed",
        "-b",
        "16",
        "-c",
        "1",
        raw,
        "-e",
        "u-law",
        "-b",
        "8",
        path,
        "sinc",
        "250-3500",
    )


def fill(text: str, rng: random.Random) -> str:
    digits = (
        " ".join(rng.choice("23456789") for _ in range(3)) + ", " + " ".join(rng.choice("0123456789") for _ in range(4))
    )
    return text.format(name=rng.choice(NAMES), company=rng.choice(COMPANIES), digits=digits)


def voice_params(rng: random.Random) -> tuple[str, int, int]:
    return rng.choice(VOICES), rng.randrange(150, 230, 10), rng.randrange(30, 80, 5)


def say(tmp, text, rng, level, voice) -> list[float]:
    v, s, p = voice
    pcm = speech(tmp, text, v, s, p)
    peak = max(1, max(abs(x) for x in pcm))
    return [level * x / peak for x in pcm]


def lead(rng: random.Random) -> tuple[list[float], str]:
    if rng.random() < 0.3:
        return ring_remainder(rng), "ring remainder"
    return silence(rng.randrange(100, 1300, 100)), ""


def make_human(tmp, rng, long: bool) -> tuple[list[float], list[str], float]:
    text = fill(rng.choice(HUMAN_LONG if long else HUMAN_SHORT), rng)
    voice = voice_params(rng)
    level = rng.uniform(0.3, 0.9)
    start, note = lead(rng)
    words = say(tmp, text, rng, level, voice)
    out = start + words
    notes = [f"{voice[0]} s{voice[1]} p{voice[2]}", repr(text)]
    if note:
        notes.append(note)
    if long:
        notes.append("hard:long_human")
    if not long and rng.random() < 0.35:
        out += silence(rng.randrange(1300, 2200, 100)) + say(tmp, "Hello?", rng, level, voice)
        notes.append("second hello")
    out += silence(rng.randrange(1400, 1700, 100))
    return out, notes, rms(words)


def make_machine(tmp, rng, short: bool, beep: bool) -> tuple[list[float], list[str], float]:
    text = fill(rng.choice(MACHINE_SHORT if short else MACHINE_LONG), rng)
    voice = voice_params(rng)
    level = rng.uniform(0.3, 0.9)
    start, note = lead(rng)
    words = say(tmp, text, rng, level, voice)
    out = start + words
    notes = [f"{voice[0]} s{voice[1]} p{voice[2]}", repr(text)]
    if note:
        notes.append(note)
    if short:
        notes.append("hard:short_machine")
    if beep:
        freq = rng.choice([440, 500, 850, 1000, 1000, 1400, 1800])
        dur = rng.randrange(200, 900, 50)
        out += silence(rng.randrange(200, 900, 50)) + tones(dur, [freq], rng.uniform(0.2, 0.7))
        out += silence(rng.randrange(600, 1000, 100))
        notes.append(f"beep {freq} Hz {dur} ms")
    else:
        out += silence(rng.randrange(1400, 1700, 100))
        notes.append("no beep")
    return out, notes, rms(words)


def make_unknown(tmp, rng, kind: str) -> tuple[list[float], list[str], float | None]:
    ms = 5200  # a little past the default silence_timeout
    n = RATE * ms // 1000
    if kind == "silence":
        return silence(ms), ["digital silence"], None
    if kind.endswith("noise"):
        colour = kind.split()[0]
        level = rng.choice([0.003, 0.01, 0.03, 0.1])
        return [level * x for x in noise(n, colour, rng)], [f"{kind} rms {level}"], None
    if kind == "tone":
        f = rng.choice([350, 440, 1000, 1004, 2100])
        return tones(ms, [f], rng.uniform(0.1, 0.5)), [f"steady {f} Hz"], None
    if kind == "chord":
        root = rng.choice([220, 262, 330])
        return tones(ms, [root, root * 1.26, root * 1.5], 0.4), [f"chord on {root} Hz"], None
    if kind == "tune":  # a held-note melody, with or without harmonics
        out, notes = [], []
        harmonics = rng.random() < 0.5
        while len(out) < n:
            f = rng.choice([262, 294, 330, 349, 392, 440, 494, 523])
            d = rng.randrange(200, 600, 50)
            out += tones(d, [f, 2 * f, 3 * f] if harmonics else [f], 0.3, fade_ms=20)
            notes.append(str(f))
        return out[:n], [("tune with harmonics " if harmonics else "tune ") + " ".join(notes)], None
    if kind == "ringback":
        freqs = rng.choice([[425.0], [400.0, 450.0]])
        out = []
        while len(out) < n:
            out += tones(1000, freqs, 0.2) + silence(rng.choice([2000, 3000, 4000]))
        return out[:n], [f"ring tone {freqs}"], None
    if kind == "hum":
        base = rng.choice([50, 60])
        return tones(ms, [base, 3 * base, 5 * base], 0.2), [f"mains hum {base} Hz"], None
    raise ValueError(kind)


UNKNOWN_KINDS = ["silence", "white noise", "pink noise", "brown noise", "tone", "chord", "tune", "ringback", "hum"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/data/amd")
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    # One long answer per half among people (6%, a business line's "Hello, this is Sam at
    # ..."): longer than speech_threshold, so wrong by design; two short greetings per half
    # among machines.
    plan = (
        [("human", {"long": i in (4, 21)}) for i in range(32)]
        # beeps alternate in pairs, so that each half has greetings with and without one
        + [("machine", {"short": i % 9 == 4, "beep": i // 2 % 2 == 0}) for i in range(32)]
        + [("unknown", {"kind": UNKNOWN_KINDS[i % len(UNKNOWN_KINDS)]}) for i in range(32)]
    )
    rows, counts = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for cls, opts in plan:
            counts[cls] = counts.get(cls, 0) + 1
            number = counts[cls]
            if cls == "human":
                samples, notes, speech_rms = make_human(tmp, rng, **opts)
            elif cls == "machine":
                samples, notes, speech_rms = make_machine(tmp, rng, **opts)
            else:
                samples, notes, speech_rms = make_unknown(tmp, rng, **opts)
            if speech_rms is not None and rng.random() < 0.6:
                snr = rng.choice([25, 20, 15, 12])
                colour = rng.choice(["white", "pink", "brown"])
                samples = mix_noise(samples, snr, colour, rng, speech_rms)
                notes.append(f"{colour} noise {snr} dB SNR")
            name = f"{cls}-{number:02d}.wav"
            write_ulaw(tmp, samples, os.path.join(args.out, name))
            split = "tune" if number % 2 else "test"
            rows.append({"file": name, "class": cls, "split": split, "notes": "; ".join(notes)})
            print(name, split, rows[-1]["notes"], file=sys.stderr)
    with open(os.path.join(args.out, "labels.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["file", "class", "split", "notes"])
        writer.writeheader()
        writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
