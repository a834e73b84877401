"""The shipped models: every file loads, is intact, says what it is, and still scores its
fixed sample as the model card says (so a broken export can never ship)."""

import json
from pathlib import Path

import pytest

from training.evaluate import sample_bits_per_char
from training.export import read_header, read_metadata, verify_checksum
from ttcc.engine import Model
from ttcc.languages import BASE_MODEL, LANGUAGES

MODELS = Path(__file__).resolve().parents[2] / "ttcc" / "models"
SAMPLES = MODELS / "samples"
EVALUATION = json.loads((MODELS / "evaluation.json").read_text())
SHIPPED = sorted(MODELS.glob("*.ttc"))


def test_every_language_and_the_base_are_shipped():
    assert {path.stem for path in SHIPPED} == {*LANGUAGES, BASE_MODEL}
    assert sum(path.stat().st_size for path in MODELS.rglob("*")) < 32 * 2**20


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.stem)
def test_model_is_intact_and_describes_itself(path: Path):
    assert verify_checksum(path)
    header, metadata = read_header(path), read_metadata(path)
    assert metadata["language"] == path.stem
    assert metadata["training_tokens"] > 0 and metadata["hardware"]
    assert header["memory_blend"] is not None  # fitted by training.fit_memory
    model = Model.load(path)
    assert model.info.parameters == metadata["parameters"]
    assert EVALUATION["models"][path.name]["info"]["file_size"] == path.stat().st_size


@pytest.mark.parametrize("language", LANGUAGES)
def test_language_model_scores_its_sample_as_the_card_says(language: str):
    card = EVALUATION["languages"][language]
    model = Model.load(MODELS / card["model"])
    measured = sample_bits_per_char(model, SAMPLES, language)
    assert measured == pytest.approx(card["sample_bits_per_char"], rel=0.05)


@pytest.mark.parametrize("language", LANGUAGES)
def test_base_model_scores_every_sample_as_the_card_says(language: str):
    model = Model.load(MODELS / f"{BASE_MODEL}.ttc")
    measured = sample_bits_per_char(model, SAMPLES, language)
    assert measured == pytest.approx(EVALUATION["base_samples"][language], rel=0.05)
