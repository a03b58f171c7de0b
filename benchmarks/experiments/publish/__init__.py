"""Paper publication: docs/results.md and the README's headline block, built from committed result files.

A repository tool, not part of the installed framework: it knows the paper's tables and claims (their
prose is in ``../discussion.yaml``, the paper's numbers in ``../paper.yaml``). Run it with
``python benchmarks/experiments/results.py``.
"""
