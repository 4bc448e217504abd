"""An optional second opinion from a language model on the failures rules cannot read.

Off unless configured (README, "A second opinion"). The rules stay the verdict of record: the
judge reads the run through a bounded, versioned prompt (prompt.py), its answer is checked
against the run (check.py) and stored beside the rules' diagnosis (models.py, services.py), on a
queue of its own (tasks.py).
"""
