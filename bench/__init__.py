"""credkit benchmarks (``make bench``): absolute numbers and ratios against a baseline in the same run."""
