"""The reliability kit of RELIABILITY.md: a seeded scenario and its reference model (``scenario``), the
checker of oracle points a to g over every sink (``oracle``), the faults done to real processes
(``faults``), and the chaos runner that mixes them (``chaos``, ``anemos chaos``)."""
