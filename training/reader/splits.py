"""The article splits of the SQuAD 2.0 files (by article: no article on two sides).

- TEST: nothing is trained, tuned or thresholded on these; they never appear in
  training or calibration data.
- CALIBRATION: held out from training; used for the fixture, thresholds and the
  development figures. Two articles from each file (1,523 questions, 531 unanswerable).
- TRAINING: every other article of the two files.
"""

from __future__ import annotations

TEST_ARTICLES: tuple[str, ...] = ("Warsaw", "Immune_system", "Packet_switching", "1973_oil_crisis")

CALIBRATION_ARTICLES: tuple[str, ...] = (
    "Force",  # squad-v2.0-part.json (dev half): 377 questions, 175 unanswerable
    "Scottish_Parliament",  # squad-v2.0-part.json (dev half): 357 / 168
    "Spectre_(2015_film)",  # squad-v2.0-train-part.json: 462 / 188
    "IPod",  # squad-v2.0-train-part.json: 327 / 0
)

TRAINING_ARTICLES: tuple[str, ...] = (
    # squad-v2.0-part.json (dev half)
    "Normans",
    "Computational_complexity_theory",
    "Huguenot",
    "Steam_engine",
    "European_Union_law",
    "Harvard_University",
    "Yuan_dynasty",
    "Islamism",
    "Imperialism",
    "French_and_Indian_War",
    # squad-v2.0-train-part.json
    "Beyoncé",
    "Frédéric_Chopin",
    "Sino-Tibetan_relations_during_the_Ming_dynasty",
    "The_Legend_of_Zelda:_Twilight_Princess",
    "2008_Sichuan_earthquake",
    "New_York_City",
    "To_Kill_a_Mockingbird",
    "Solar_energy",
)

SPLITS: dict[str, tuple[str, ...]] = {
    "training": TRAINING_ARTICLES,
    "calibration": CALIBRATION_ARTICLES,
    "test": TEST_ARTICLES,
}


def split_of(title: str) -> str:
    for name, titles in SPLITS.items():
        if title in titles:
            return name
    raise KeyError(f"article {title!r} is in no split: add it to training/reader/splits.py")


def check_disjoint() -> None:
    seen: dict[str, str] = {}
    for name, titles in SPLITS.items():
        for t in titles:
            if t in seen:
                raise AssertionError(f"{t!r} is in both {seen[t]} and {name}")
            seen[t] = name
