"""Maintainers' tools: executing and benchmarking notebooks, Colab cells and learner copies, diagrams.

Run from a checkout as `python -m tools.<name>`; nothing here is installed with the learners' `helpers` package.
"""
