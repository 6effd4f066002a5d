"""Accuracy on ../shared/data: copies (rank and score of the original for every edited bridge copy, and the
highest score of any unrelated image) and faces (true and false match rates with one photo per identity
enrolled, group photos included, with the score margins).

    .venv/bin/python -m bench.accuracy
"""

from __future__ import annotations

from bench import accuracy_copies, accuracy_faces


def main() -> None:
    print("=== copies ===")
    accuracy_copies.main()
    print("\n=== faces ===")
    accuracy_faces.main()


if __name__ == "__main__":
    main()
