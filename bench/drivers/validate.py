"""Validate a config file offline with the Python package (bench/run): exit 0 valid, 2 invalid.

usage: validate.py CONFIG_PATH
"""

import sys

import gatepost


def main() -> None:
    result = gatepost.validate(config_path=sys.argv[1], version="v1")
    print(f"{len(result.problems)} problem(s)")
    sys.exit(0 if result.valid else 2)


if __name__ == "__main__":
    main()
