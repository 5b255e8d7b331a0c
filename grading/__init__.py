"""The nbgrader side of credkit: manifests, release, sandboxed grading, awards, delivery."""
