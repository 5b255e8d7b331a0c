"""credkit's Jupyter extension: the learner's Credentials panel and its server routes."""
