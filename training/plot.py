"""The loss-curve picture that training writes next to its checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # noqa: E402


def plot_losses(history: list[dict[str, Any]], path: Path, title: str) -> None:
    """Training and per-language validation bits/char against tokens seen."""
    if not history:
        return
    tokens = [point["tokens"] / 1e6 for point in history]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(tokens, [point["train_bits"] for point in history], label="train (last batch)",
            color="black", linewidth=1)
    for language in history[-1]["val_bits"]:
        values = [point["val_bits"].get(language) for point in history]
        ax.plot(tokens, values, label=f"validation {language}", linewidth=1)
    ax.set_xlabel("training tokens (millions)")
    ax.set_ylabel("bits per character")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    partial = path.with_suffix(".partial.png")
    fig.savefig(partial, dpi=100)
    plt.close(fig)
    partial.replace(path)


def mean_over_languages(result: dict[str, Any], key: str) -> float:
    """The mean of one measure over the languages a study point was evaluated on."""
    reports = list(result["languages"].values())
    return sum(report[key] for report in reports) / len(reports)


def plot_study(results: list[dict[str, Any]], path: Path) -> None:
    """Mean validation bits/char and keystrokes saved against parameters, one dot per point."""
    fig, (bits_ax, saved_ax) = plt.subplots(1, 2, figsize=(10, 4.2))
    for r in results:
        bits = mean_over_languages(r, "bits_per_char")
        saved = 100 * mean_over_languages(r, "keystrokes_saved")
        size = r["parameters"] / 1e6
        for ax, value in ((bits_ax, bits), (saved_ax, saved)):
            ax.scatter(size, value)
            ax.annotate(r["name"], (size, value), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    bits_ax.set_ylabel("validation bits per character (lower is better)")
    saved_ax.set_ylabel("keystrokes saved, % (higher is better)")
    for ax in (bits_ax, saved_ax):
        ax.set_xlabel("parameters (millions)")
        ax.grid(alpha=0.3)
    fig.suptitle("Quality against size at an equal training budget")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
