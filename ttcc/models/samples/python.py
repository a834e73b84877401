"""Keep a small inventory of parts and report what needs to be reordered."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Part:
    name: str
    quantity: int = 0
    minimum: int = 1
    tags: list[str] = field(default_factory=list)

    def needs_reorder(self) -> bool:
        return self.quantity < self.minimum


class Inventory:
    def __init__(self) -> None:
        self.parts: dict[str, Part] = {}

    def add(self, part: Part) -> None:
        if part.name in self.parts:
            raise ValueError(f"duplicate part: {part.name}")
        self.parts[part.name] = part

    def take(self, name: str, count: int = 1) -> int:
        part = self.parts[name]
        if count > part.quantity:
            raise ValueError(f"only {part.quantity} of {name} left")
        part.quantity -= count
        return part.quantity

    def to_reorder(self) -> list[str]:
        return sorted(name for name, part in self.parts.items() if part.needs_reorder())

    def save(self, path: Path) -> None:
        data = [part.__dict__ for part in self.parts.values()]
        path.write_text(json.dumps(data, indent=2))

    @classmethod
    def load(cls, path: Path) -> Inventory:
        inventory = cls()
        for item in json.loads(path.read_text()):
            inventory.add(Part(**item))
        return inventory


if __name__ == "__main__":
    inventory = Inventory()
    inventory.add(Part("bolt", quantity=10, minimum=20, tags=["metal"]))
    inventory.add(Part("washer", quantity=50, minimum=10))
    inventory.take("bolt", 3)
    for name in inventory.to_reorder():
        print(f"reorder {name}")
