"""Test data kept inside the repository, so a fresh clone passes ``make test`` on its own."""

from pathlib import Path

DATA = Path(__file__).parent
BALTIMORE_SAMPLE = DATA / "baltimore" / "baltimore_311_sample.csv"
BALTIMORE_SHA256 = "4a83127702485a4d5da5bc3169ae27c08525a07962c899345970303fc981bbfe"
NYC = DATA / "nyc"
